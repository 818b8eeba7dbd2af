"""The local stack: everything casework needs, on this machine, with no AWS account.

    moto (ThreadedMotoServer)  <- table, queues, bus and rule created from template.yaml's own definitions
    seed                       <- shipped workflows + the demo directory (mary, john, frank, peter, admin)
    gateway  127.0.0.1:3000    <- API Gateway + JWT authorizer emulation, invoking the template's functions
    dispatcher                 <- table stream -> PublishFunction, and every SQS-triggered function's
                                  queue -> that function (NotifyQueue -> NotifyFunction, ConvertQueue ->
                                  ConvertFunction, IngestQueue -> IngestFunction), as the template's event
                                  sources say
    POST /_dev/events          <- puts ERP events on the bus (Source = the template's ErpEventSource)
    POST /_dev/remind          <- runs the approval reminder, as its schedule would (or hours later)
    GET  /_dev/sms             <- the text messages SNS (moto) took for phone numbers (to, text)

This is a development harness; the product runs on Lambda (template.yaml).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

LOCAL_JWT_SECRET = "casework-local-development-secret-not-for-production"
MAIL_FROM = "casework@casework.example"
REGION = "eu-west-1"


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 5055
    stage: str = "local"
    public_base_url: str | None = None
    quiet: bool = False


def configure_environment(config: StackConfig) -> str:
    """What boto3, PynamoDB and the functions read from the environment, set before any client exists."""
    base_url = (config.public_base_url or f"http://{config.host}:{config.port}").rstrip("/")
    os.environ.update(
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=f"http://{config.host}:{config.moto_port}",
        MAIL_FROM=MAIL_FROM,
        PUBLIC_BASE_URL=base_url,
        APPROVAL_TOKEN_TTL_HOURS=os.environ.get("APPROVAL_TOKEN_TTL_HOURS", "168"),
        USERNAME_CLAIM="username",
        POWERTOOLS_SERVICE_NAME="casework",
        POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING" if config.quiet else "INFO"),
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
    )
    os.environ.pop("AWS_PROFILE", None)
    return base_url


def sent_sms() -> list[dict[str, Any]]:
    """The text messages SNS (moto) accepted for phone numbers, oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sent = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    return [{"id": message_id, "to": to, "text": text} for message_id, (to, text) in sent.items()]


def sent_mail() -> list[dict[str, Any]]:
    """The emails SES (moto) accepted, oldest first, parsed into to/subject/text/html."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    out = []
    for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        raw = getattr(message, "raw_data", None)
        if raw is None:  # a Simple send: moto keeps one body only
            out.append(
                {
                    "id": message.id,
                    "from": message.source,
                    "to": message.destinations.get("ToAddresses", []),
                    "subject": message.subject,
                    "text": message.body,
                    "html": message.body,
                }
            )
            continue
        parsed = email.message_from_string(raw, policy=email.policy.default)
        text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
        out.append(
            {
                "id": message.id,
                "from": parsed["From"],
                "to": [a.strip() for a in (parsed["To"] or "").split(",") if a.strip()],
                "subject": parsed["Subject"],
                "text": text.get_content() if text else "",
                "html": html.get_content() if html else "",
            }
        )
    return out


def dev_error(status: int, code: str, message: str, **details: Any) -> tuple[int, Any]:
    """A local-only route's refusal, in the API's error shape."""
    return status, {"error": {"code": code, "message": message, "details": details}}


def erp_source(template: dict[str, Any]) -> str:
    """The EventBridge source the template's IngestRule listens to (parameter ErpEventSource)."""
    return template.get("Parameters", {}).get("ErpEventSource", {}).get("Default") or "erp"


def put_erp_events(body: Any, source: str, bus_name: str) -> tuple[int, Any]:
    """``POST /_dev/events``: put events on the bus as the ERP would (Source = the ERP's). The body is one
    ``{"detail-type", "detail"}`` or a list of them; the rule routes them to the ingest queue, and the
    dispatcher delivers that to the ingest function."""
    import boto3

    entries = body if isinstance(body, list) else [body]
    problems = [
        f"entry {n}: give a 'detail-type' (string) and a 'detail' (object)"
        for n, entry in enumerate(entries)
        if not isinstance(entry, dict)
        or not isinstance(entry.get("detail-type"), str)
        or not isinstance(entry.get("detail"), dict)
    ]
    if not entries or problems:
        return dev_error(422, "INVALID_EVENTS", "Give one event or a list of events.", problems=problems)
    events = boto3.client("events")
    results = []
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        chunk = entries[start : start + 10]
        response = events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": e["detail-type"],
                    "Detail": json.dumps(e["detail"]),
                    "EventBusName": bus_name,
                }
                for e in chunk
            ]
        )
        results += response.get("Entries", [])
    failed = sum(1 for r in results if r.get("ErrorCode"))
    return (502 if failed else 202), {"source": source, "entries": results, "failed": failed}


def run_reminders(body: Any, functions: dict[str, Any]) -> tuple[int, Any]:
    """``POST /_dev/remind``: run the approval reminder now, as its schedule would (``{}``), or as if
    ``hours_later`` hours had passed (``{"hours_later": 49}``), so a walk-through need not wait two days.
    Answers what the run did (cases, sent, already_sent, not_emailed, failed)."""
    import sys
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    hours = (body or {}).get("hours_later", 0) if isinstance(body, dict) else None
    if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 <= hours <= 24 * 366:
        return dev_error(422, "INVALID_HOURS", "hours_later is a number of hours (0 to 8784).")
    if "RemindFunction" not in functions:
        return dev_error(404, "NO_REMIND_FUNCTION", "The template has none.")
    if not hours:
        return 200, functions["RemindFunction"].invoke({"source": "casework.reminders"})
    from infra.local.functions import INVOKE_LOCK

    module = sys.modules["local_fn_RemindFunction"]  # the function's own module, as load_functions named it
    later = datetime.now(UTC) + timedelta(hours=hours)
    with INVOKE_LOCK:
        return 200, replace(module.reminders(), clock=lambda: later).run()


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.base_url = configure_environment(config)
        self._server = None
        self._moto = None
        self.dispatcher = None
        self.summary: dict[str, Any] = {}
        self.erp_source = "erp"
        self._functions: dict[str, Any] = {}

    def start(self) -> LocalStack:
        from moto.server import ThreadedMotoServer

        from infra.local import moto_patches

        moto_patches.install()  # transactions without a copy of the whole table (memory, speed)
        self._moto = ThreadedMotoServer(
            ip_address=self.config.host, port=self.config.moto_port, verbose=False
        )
        self._moto.start()

        from infra.local.template import create_resources, load_template

        template = load_template()
        self.erp_source = erp_source(template)
        resources = create_resources(
            template, stage=self.config.stage, endpoint_url=os.environ["AWS_ENDPOINT_URL"]
        )
        os.environ.update(TABLE_NAME=resources.table_name, EVENT_BUS_NAME=resources.event_bus_name)
        imports = template["Resources"]["ImportFunction"]["Properties"]["Environment"]["Variables"]
        os.environ.update(
            IMPORT_BUCKET=resources.physical["ImportBucket"]["Ref"],
            IMPORT_QUEUE_URL=resources.physical["ImportQueue"]["QueueUrl"],
            IMPORT_RUN_AS=os.environ.get("IMPORT_RUN_AS", template["Parameters"]["ImportRunAs"]["Default"]),
            IMPORT_RESERVE_SECONDS=imports.get("IMPORT_RESERVE_SECONDS", "60"),
        )
        # Communication plan steps: one-time schedules whose target names the function by its logical id,
        # run by hand with POST /_dev/schedules/{name}/run (moto keeps schedules but never fires them).
        os.environ.update(
            PLAN_STEP_FUNCTION_ARN=f"arn:aws:lambda:{REGION}:123456789012:function:PlanStepFunction",
            PLAN_SCHEDULE_ROLE_ARN="arn:aws:iam::123456789012:role/casework-local",
            # A rule set saved is applied to the next event (AWS: within RULES_CACHE_SECONDS, a minute).
            RULES_CACHE_SECONDS=os.environ.get("RULES_CACHE_SECONDS", "0"),
        )

        from casework.adapters import dynamo
        from infra.seed import seed, verify_sender

        dynamo.configure(resources.table_name)
        self.summary = seed()
        verify_sender(MAIL_FROM)

        from infra.local.dispatcher import build_dispatcher
        from infra.local.functions import cors_of, load_functions
        from infra.local.gateway import DevTokens, make_server

        functions, routes = load_functions(template)
        self._functions = functions
        tokens = DevTokens(os.environ.get("CASEWORK_LOCAL_JWT_SECRET", LOCAL_JWT_SECRET))
        self.dispatcher = build_dispatcher(functions, resources, REGION)
        self.dispatcher.start()
        self._server = make_server(
            self.config.host,
            self.config.port,
            functions=functions,
            routes=routes,
            tokens=tokens,
            dev_routes=self._dev_routes(tokens),
            quiet=self.config.quiet,
            cors=cors_of(template),
        )
        self.summary.update(
            table=resources.table_name,
            bus=resources.event_bus_name,
            routes=len(routes),
            functions=sorted(functions),
            queues={q.function.logical_id: q.queue_url for q in self.dispatcher.queues},
        )
        return self

    def _dev_routes(self, tokens: Any) -> dict[tuple[str, str], Any]:
        def token(body: dict, _query: dict) -> tuple[int, Any]:
            username = body.get("username") if isinstance(body, dict) else None
            if not isinstance(username, str) or not username.strip():
                return dev_error(422, "MISSING_FIELDS", "Give a username.")
            return 200, tokens.issue(username.strip())

        def mail(_body: dict, query: dict) -> tuple[int, Any]:
            messages = sent_mail()
            if query.get("to"):
                messages = [m for m in messages if query["to"] in m["to"]]
            return 200, {"items": messages}

        def sms(_body: dict, query: dict) -> tuple[int, Any]:
            messages = sent_sms()
            if query.get("to"):
                messages = [m for m in messages if m["to"] == query["to"]]
            return 200, {"items": messages}

        def health(_body: dict, _query: dict) -> tuple[int, Any]:
            return 200, {"ok": True, "delivered": self.dispatcher.delivered if self.dispatcher else 0}

        def erp_events(body: Any, _query: dict) -> tuple[int, Any]:
            return put_erp_events(body, self.erp_source, os.environ["EVENT_BUS_NAME"])

        def run_schedule(_body: dict, query: dict) -> tuple[int, Any]:
            """moto keeps schedules but never fires them: send a schedule's target input to its queue now."""
            import boto3

            name = query.get("name", "")
            scheduler = boto3.client("scheduler", region_name=REGION)
            try:
                target = scheduler.get_schedule(Name=name)["Target"]
            except scheduler.exceptions.ResourceNotFoundException:
                names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
                return dev_error(404, "UNKNOWN_SCHEDULE", f"No schedule {name!r}.", schedules=names)
            if ":lambda:" in target["Arn"]:  # a function of the template, by its logical id
                function = self._functions.get(target["Arn"].rsplit(":", 1)[-1])
                if function is None:
                    return dev_error(404, "UNKNOWN_FUNCTION", f"No function {target['Arn']}.")
                result = function.invoke(json.loads(target.get("Input") or "{}"))
                return 200, {"schedule": name, "function": function.logical_id, "result": result}
            queue_name = target["Arn"].rsplit(":", 1)[-1]
            sqs = boto3.client("sqs", region_name=REGION)
            queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            sent = sqs.send_message(QueueUrl=queue_url, MessageBody=target.get("Input", "{}"))
            return 200, {
                "schedule": name,
                "queue": queue_url,
                "input": target.get("Input"),
                "message_id": sent["MessageId"],
            }

        def remind(body: Any, _query: dict) -> tuple[int, Any]:
            return run_reminders(body, self._functions)

        return {
            ("POST", "/_dev/token"): token,
            ("GET", "/_dev/mail"): mail,
            ("GET", "/_dev/sms"): sms,
            ("GET", "/_dev/health"): health,
            ("POST", "/_dev/events"): erp_events,
            ("POST", "/_dev/schedules/{name}/run"): run_schedule,
            ("POST", "/_dev/remind"): remind,
        }

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="gateway", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stops in well under 5 s: no new deliveries, then no new requests, then moto."""
        if self.dispatcher:
            self.dispatcher.stop(wait=False)
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self.dispatcher:
            self.dispatcher.stop()
        if self._moto:
            self._moto.stop()
