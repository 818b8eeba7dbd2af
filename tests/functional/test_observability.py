"""What operations sees of casework: EMF metrics counted at the edge, service log lines that keep their fields
and the correlation id, a Tracer only where tracing runs, and a function that refuses to start unconfigured.

The functions run as Lambda runs them (real-shaped events, moto underneath); metrics are read back from the
EMF lines the handlers print, as CloudWatch reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from casework.adapters.consumer import event_consumer
from casework.events.catalogue import CATALOGUE
from casework.settings import MissingSetting
from infra.local.functions import LambdaContext
from infra.local.template import LocalResources
from tests.functional.moto_account import ROOT, load_function, moto_account
from tests.functional.shapes import for_event, sqs_record, stream_insert

TRANSITIONED = CATALOGUE["CaseTransitioned.v1"].example
DECIDED = CATALOGUE["ApprovalDecided.v1"].example
NOTE = CATALOGUE["NoteAdded.v1"].example


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Casework")
    with moto_account(monkeypatch, "obs", MAIL_FROM="casework@casework.example") as res:
        yield res


def emitted_metrics(output: str) -> list[dict[str, Any]]:
    """The EMF blobs in a function's output, one dict per metric: its name, value (the sum of its samples),
    namespace and dimensions; the ColdStart metric (once per process) left out."""
    found = []
    for line in output.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.append(
                    {
                        "name": metric["Name"],
                        "value": sum(blob[metric["Name"]]),  # EMF values are lists of samples
                        "namespace": directive["Namespace"],
                        "dimensions": {
                            name: blob[name] for group in directive["Dimensions"] for name in group
                        },
                    }
                )
    return [m for m in found if m["name"] != "ColdStart"]


def fresh_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing counted before the test: handlers run earlier in this process (the local stack's, in other
    test modules) may have counted without flushing, which a Lambda container never leaves behind."""
    from casework.observability import metrics

    metrics.clear_metrics()
    capsys.readouterr()


def outbox_item(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A history/outbox item carrying ``events``, in DynamoDB's AttributeValue form."""
    return TypeSerializer().serialize({"pk": "CASE#c1", "sk": "HIST#00000002", "events": events})["M"]


def test_the_outbox_relay_counts_transitions_and_decisions_by_bounded_dimensions(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    publish = load_function("publish", monkeypatch, prefix="obs")
    fresh_metrics(capsys)

    result = publish.handler(
        {"Records": [stream_insert(outbox_item([TRANSITIONED, DECIDED, NOTE]))]}, LambdaContext("publish")
    )

    assert result == {"batchItemFailures": []}
    # only publish's own counts (a handler of another test still running in this process may count too)
    counted = ("CaseTransitioned", "ApprovalDecided")
    metrics = [m for m in emitted_metrics(capsys.readouterr().out) if m["name"] in counted]
    assert metrics == [
        {
            "name": "CaseTransitioned",
            "value": 1.0,
            "namespace": "Casework",
            "dimensions": {
                "service": "casework",
                "case_type": "csr",
                "from_status": TRANSITIONED["data"]["from_status"],
                "to_status": TRANSITIONED["data"]["to_status"],
            },
        },
        {
            "name": "ApprovalDecided",
            "value": 1.0,
            "namespace": "Casework",
            "dimensions": {
                "service": "casework",
                "case_type": DECIDED["case_type"],
                "decision": DECIDED["data"]["decision"],
            },
        },
    ]


def test_each_failed_message_is_counted_while_the_batch_goes_on(
    stack: LocalResources, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer = event_consumer(lambda event: event["id"], key_prefix="obs-test")
    context: Any = LambdaContext("test")  # the local stack's stand-in for Lambda's context
    fresh_metrics(capsys)

    result = consumer.handler(
        {"Records": [sqs_record("not json", "poison-1"), for_event(NOTE), sqs_record("[]", "poison-2")]},
        context,
    )

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}, {"itemIdentifier": "poison-2"}]}
    failed = [m for m in emitted_metrics(capsys.readouterr().out) if m["name"] == "EventsFailed"]
    assert [m["value"] for m in failed] == [2.0]


class FakeNotifier:
    """Sends each event's two emails once, as the real one does through its sent ledger's claims: a
    redelivery sends (and returns) nobody."""

    def __init__(self) -> None:
        self.handled: set[str] = set()

    def concerns(self, event: dict[str, Any]) -> bool:
        return True

    def handle(self, event: dict[str, Any]) -> list[str]:
        if event["id"] in self.handled:
            return []
        self.handled.add(event["id"])
        return ["john", "contact:CON-1"]


def test_notify_counts_the_emails_it_sent_and_a_redelivery_counts_none(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    notify = load_function("notify", monkeypatch, prefix="obs")
    fake = FakeNotifier()
    monkeypatch.setattr(notify, "notifier", lambda: fake)
    fresh_metrics(capsys)

    notify.handler({"Records": [for_event(DECIDED)]}, LambdaContext("notify"))
    first = emitted_metrics(capsys.readouterr().out)
    notify.handler({"Records": [for_event(DECIDED)]}, LambdaContext("notify"))  # at-least-once: again
    again = emitted_metrics(capsys.readouterr().out)

    assert [(m["name"], m["value"]) for m in first] == [("EmailsSent", 2.0)]
    assert again == []


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (a new container), with the package on the path and ``env`` set."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "LAMBDA_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}", **env},
        capture_output=True,
        text=True,
        check=True,
    )


def test_service_loggers_keep_their_fields_and_the_correlation_id_under_the_functions_service_name() -> None:
    done = run_python(
        "import logging\n"
        "from casework.observability import logger\n"
        "logger.set_correlation_id('crm-7')\n"
        "logging.getLogger('casework.services.notify').info('mailed', extra={'recipients': ['john']})\n",
        POWERTOOLS_SERVICE_NAME="casework-notify",
        POWERTOOLS_LOG_LEVEL="INFO",
    )

    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert {k: line.get(k) for k in ("message", "recipients", "correlation_id", "service", "level")} == {
        "message": "mailed",
        "recipients": ["john"],
        "correlation_id": "crm-7",
        "service": "casework-notify",
        "level": "INFO",
    }


TRACER = (
    "import sys\n"
    "from casework.observability import tracer\n"
    "built = tracer()\n"
    "print(type(built).__name__, 'aws_xray_sdk' in sys.modules)\n"
    "if built is not None:\n"
    "    from aws_xray_sdk.core.patcher import _PATCHED_MODULES\n"
    "    print(sorted(_PATCHED_MODULES))\n"
)


def test_the_x_ray_sdk_is_imported_only_where_tracing_runs() -> None:
    local = run_python(TRACER)
    on_lambda = run_python(TRACER, LAMBDA_TASK_ROOT="/var/task", AWS_XRAY_CONTEXT_MISSING="IGNORE_ERROR")
    disabled = run_python(TRACER, LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true")

    assert local.stdout.split() == ["NoneType", "False"]
    assert disabled.stdout.split() == ["NoneType", "False"]
    assert on_lambda.stdout.splitlines() == ["Tracer True", "['botocore']"]


def test_a_function_without_its_configuration_refuses_to_start_naming_what_is_missing(
    stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAIL_FROM")
    with pytest.raises(MissingSetting, match="MAIL_FROM"):
        load_function("notify", monkeypatch, prefix="obs_unconfigured")
