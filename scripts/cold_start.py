"""Cold start of every function, measured as a new Lambda container pays it, against `import boto3`.

For each function, in fresh interpreters (medians of RUNS, the functions and boto3 interleaved so that the
load of the machine weighs on all alike):

- import: the wall time of `python -c "<load functions/<name>/app.py>"`, the whole process (interpreter
  start-up included), and its ratio to `python -c "import boto3"` measured in the same run; and the same
  ratio by CPU time (user + system of the process), which the machine's load moves less. Budget: 1.3x
  (issue 9), with the Tracer and Metrics in: the functions import casework.observability as on Lambda,
  where the X-Ray SDK is imported by the first invocation only (see the module's docstring).
- first request: in a fresh interpreter that has just imported the function, the time its handler takes
  for one representative event (listed below) against a moto server on localhost: what the first request
  of a new container adds (lazy imports, boto3 clients, the definitions and directory read from the table,
  Jinja2 templates), except the network latency of real AWS. Twice: untraced, and traced as on Lambda
  (LAMBDA_TASK_ROOT and a trace header set: the Tracer is built, the X-Ray SDK imported and botocore
  patched by that first request; segments go to a daemon address nobody listens on, over UDP).

Then, for the read and notify functions, the import without bytecode, as a layer built by SAM's python
builder started (no .pyc, and /opt read-only: every module compiled at each cold start); shared/Makefile
builds the layer with it.

The last column of the table adds the two: what a new container's first request waits for in all (its import
and its first handling), so that what moves from the import to the first request shows.

    .venv/bin/python scripts/cold_start.py [RUNS] [FUNCTION ...]   (e.g. 7 Read Notify: only those)
"""

from __future__ import annotations

import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

BUDGET = 1.3
BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "cold",
    "AWS_SECRET_ACCESS_KEY": "cold",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "MAIL_FROM": "casework@casework.example",
    "PUBLIC_BASE_URL": "http://127.0.0.1:3000",
    "POWERTOOLS_SERVICE_NAME": "casework",
    "POWERTOOLS_METRICS_NAMESPACE": "Casework",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "PATH": "/usr/bin:/bin",
}
# In the child: load the function's module (as Lambda's init phase does) and, given an event file, time the
# handler on it. Prints one line, marked, after whatever the handler logs.
CHILD = """
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if len(sys.argv) > 2:
    from infra.local.functions import LambdaContext
    event = json.load(open(sys.argv[2]))
    context = LambdaContext(sys.argv[3])
    start = time.perf_counter()
    result = module.handler(event, context)
    took = (time.perf_counter() - start) * 1000
    xray = "aws_xray_sdk" in sys.modules
    print("COLD " + json.dumps({"ms": took, "result": result, "xray": xray}, default=str))
"""
TRACED = {
    "LAMBDA_TASK_ROOT": str(ROOT),
    "_X_AMZN_TRACE_ID": "Root=1-674ac0de-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}
# The floor of an API function: Powertools' resolver with request validation and nothing of ours.
RESOLVER_ALONE = (
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
    "from aws_lambda_powertools.event_handler.openapi.params import Body\n"
    "APIGatewayHttpResolver(enable_validation=True)"
)
NEW_CASE = {"type": "csr", "title": "Cold", "description": "d", "account_id": "ACC-1001"}


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one child process. The CPU time (user + system) moves less with the machine's
    load than the wall time: what the process itself had to do."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=ROOT, capture_output=True)
    took = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return took, cpu


def wall_without_bytecode(args: list[str], env: dict[str, str]) -> float:
    """As a layer built without bytecode starts: every module compiled from its source (a fresh, empty
    bytecode cache directory: nothing compiled before is found, what this run compiles is thrown away)."""
    with tempfile.TemporaryDirectory() as cache:
        return timed(args, {**env, "PYTHONPYCACHEPREFIX": cache})[0]


def first_request(app: Path, event_file: Path, logical_id: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(app), str(event_file), logical_id],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("COLD "))
    return json.loads(line[5:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def representative_events(api: Any) -> dict[str, Any]:
    """One event per function (by logical id), as its trigger delivers it, for data the stack holds."""
    import boto3

    from tests.functional.shapes import for_event, sqs_record, stored_events, stream_insert

    status, case = api.call("POST", "/cases", body=NEW_CASE)
    assert status == 201, case
    case_id = case["id"]
    api.call("POST", f"/cases/{case_id}/products", body={"product_code": "P-100"})
    status, moved = api.call("POST", f"/cases/{case_id}/transitions", body={"to": "Pending Pre-Approval"})
    assert status == 200, moved
    table = os.environ["TABLE_NAME"]
    key = {"pk": {"S": f"CASE#{case_id}"}, "sk": {"S": f"HIST#{moved['version']:08d}"}}
    item = boto3.client("dynamodb").get_item(TableName=table, Key=key)["Item"]
    events = stored_events(item)
    approval = next(e for e in events if e["type"] == "ApprovalRequested")
    erp = {
        "version": "0",
        "id": "cold-erp-1",
        "detail-type": "CustomerUpserted",
        "source": "erp",
        "account": "123456789012",
        "time": "2026-11-30T09:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "event_id": "cold-c-1",
            "version": 1,
            "data": {
                "id": "ACC-7001",
                "name": "Initech",
                "vat_number": "DE123456789",
                "classification": "Business",
            },
        },
    }
    lead_won = {**approval, "id": f"{case_id}:lead-won", "type": "LeadWon"}
    events_by_function: dict[str, Any] = {
        "NotifyFunction": {"Records": [for_event(approval, queue="casework-cold-NotifyQueue")]},
        "ConvertFunction": {"Records": [for_event(lead_won, queue="casework-cold-ConvertQueue")]},
        "IngestFunction": {"Records": [sqs_record(json.dumps(erp), queue="casework-cold-IngestQueue")]},
        "ImportFunction": {
            "Records": [
                sqs_record(
                    json.dumps(
                        {"action": "scan", "bucket": os.environ["IMPORT_BUCKET"], "prefix": "incoming/"}
                    ),
                    queue="casework-cold-ImportQueue",
                )
            ]
        },
        "PublishFunction": {"Records": [stream_insert(item)]},
        "RemindFunction": {"version": "0", "detail-type": "Scheduled Event", "detail": {}},
        "RulesFunction": {"Records": [for_event(approval, queue="casework-cold-RulesQueue")]},
        "FeedbackSummaryFunction": {
            "Records": [for_event(approval, queue="casework-cold-FeedbackSummaryQueue")]
        },
        "OverdueFunction": {"source": "casework.overdue"},
        "PlanStepFunction": {"plan_step": {}},  # not a step: refused (logged), as a bad schedule input is
    }
    api_requests = {
        "RegisterFunction": ("POST", "/cases", "mary", NEW_CASE),
        "ReadFunction": ("GET", f"/cases/{case_id}", "mary", None),
        "TransitionFunction": ("POST", f"/cases/{case_id}/notes", "mary", {"text": "cold"}),
        "ApproveFunction": ("POST", f"/cases/{case_id}/approvals", "john", {"decision": "approve"}),
        "AdminFunction": ("GET", "/directory/users/mary", "admin", None),
        "CustomersFunction": ("GET", "/customers/ACC-1001", "mary", None),
        "ImportsApiFunction": ("GET", "/imports", "admin", {"key": "incoming/customers/cold.csv"}),
        "DocsFunction": ("GET", "/openapi.json", None, None),
        "ResourcesFunction": ("GET", "/resources", "admin", {"unit": "SP", "service": "INSTALL"}),
        "AnalyticsFunction": ("GET", "/analytics/feedback", "admin", {"period": "2026-11"}),
    }
    for logical_id, (method, path, user, body) in api_requests.items():
        # a GET's dict is its query string
        request = {"query": body} if method == "GET" and body else {"body": body}
        events_by_function[logical_id] = api.event(method, path, user=user, **request)[1]
    return events_by_function


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = {name.removesuffix("Function") for name in sys.argv[2:]}
    from moto.server import ThreadedMotoServer

    from infra.local.template import load_template

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        os.environ.update({**BASE_ENV, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
        os.environ.pop("AWS_PROFILE", None)
        from infra.bench import ApiDriver

        api = ApiDriver(stage="cold")
        import boto3

        boto3.client("ses").verify_email_identity(EmailAddress=BASE_ENV["MAIL_FROM"])
        events = representative_events(api)
        env = {
            **BASE_ENV,
            "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
            "PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}",
            **{
                k: os.environ[k]
                for k in ("TABLE_NAME", "EVENT_BUS_NAME", "IMPORT_BUCKET", "IMPORT_QUEUE_URL")
            },
        }
        template = load_template()["Resources"]
        functions = {
            logical: ROOT / props["Properties"]["CodeUri"] / "app.py"
            for logical, props in sorted(template.items())
            if props["Type"] == "AWS::Serverless::Function"
            and (not only or logical.removesuffix("Function") in only)
        }
        imports: dict[str, list[float]] = {name: [] for name in ("boto3", "resolver", *functions)}
        cpu: dict[str, list[float]] = {name: [] for name in imports}
        children = {
            "boto3": [sys.executable, "-c", "import boto3"],
            "resolver": [sys.executable, "-c", RESOLVER_ALONE],
            **{logical: [sys.executable, "-c", CHILD, str(app)] for logical, app in functions.items()},
        }
        for _ in range(runs):
            for name, args in children.items():
                took, used = timed(args, env)
                imports[name].append(took)
                cpu[name].append(used)
        boto3_cpu = statistics.median(cpu["boto3"])
        boto3_ms = statistics.median(imports["boto3"])
        fastest = min(imports["boto3"])
        print(f"python -c 'import boto3': {boto3_ms:.0f} ms (median of {runs}; fastest {fastest:.0f} ms)")
        resolver = statistics.median(imports["resolver"])
        print(
            f"Powertools' resolver alone (with validation): {resolver:.0f} ms, {resolver / boto3_ms:.2f}x"
            f" ({min(imports['resolver']) / fastest:.2f}x; by CPU time"
            f" {statistics.median(cpu['resolver']) / boto3_cpu:.2f}x)"
        )
        print(
            f"budget: {BUDGET}x; ratio = median / median, (fastest / fastest), and by CPU time:"
            f" median / median ({boto3_cpu:.0f} ms for import boto3)\n"
        )
        heading = ("function", "import", "ratio", "(fastest)", "cpu", "first request", "traced", "in all")
        print("{:12} {:>8} {:>6} {:>9}       {:>5} {:>13} {:>8} {:>8}  outcome".format(*heading))
        with tempfile.TemporaryDirectory() as tmp:
            for logical, app in functions.items():
                median = statistics.median(imports[logical])
                event_file = Path(tmp) / f"{logical}.json"
                event_file.write_text(json.dumps(events[logical]))
                first = first_request(app, event_file, logical, env)
                traced = first_request(app, event_file, logical, {**env, **TRACED})
                outcome = first["result"]
                if isinstance(outcome, dict) and "statusCode" in outcome:
                    outcome = f"HTTP {outcome['statusCode']}"
                elif isinstance(outcome, dict) and "batchItemFailures" in outcome:
                    outcome = f"{len(outcome['batchItemFailures'])} batch item failure(s)"
                verdict = "ok" if median <= BUDGET * boto3_ms else "OVER"
                name = logical.removesuffix("Function")
                ratio, fastest_ratio = median / boto3_ms, min(imports[logical]) / fastest
                cpu_ratio = statistics.median(cpu[logical]) / boto3_cpu
                print(
                    f"{name:12} {median:5.0f} ms {ratio:5.2f}x ({fastest_ratio:4.2f}x) {verdict:4}"
                    f" {cpu_ratio:5.2f}x"
                    f" {first['ms']:7.0f} ms {traced['ms']:5.0f} ms {median + first['ms']:5.0f} ms"
                    f"  {str(outcome)[:50]}"
                    + ("" if traced["xray"] and not first["xray"] else "  (X-Ray SDK not as expected)")
                )
        without_bytecode(functions, env, runs, boto3_ms)
    finally:
        server.stop()
    return 0


# What the layer's bytecode (shared/Makefile) saves: SAM's python builder shipped none, and a layer is
# read-only, so each cold start compiled every module it imported.
WITHOUT_BYTECODE = ("ReadFunction", "NotifyFunction")


def without_bytecode(functions: dict[str, Path], env: dict[str, str], runs: int, boto3_ms: float) -> None:
    measured = [name for name in WITHOUT_BYTECODE if name in functions]
    if not measured:
        return
    print("\nwithout bytecode (as SAM's python builder made the layer; every import compiled), median:")
    boto3 = statistics.median(
        wall_without_bytecode([sys.executable, "-c", "import boto3"], env) for _ in range(runs)
    )
    print(f"  import boto3  {boto3:5.0f} ms (with bytecode {boto3_ms:.0f} ms)")
    for logical in measured:
        ms = statistics.median(
            wall_without_bytecode([sys.executable, "-c", CHILD, str(functions[logical])], env)
            for _ in range(runs)
        )
        name = logical.removesuffix("Function")
        print(f"  {name:12} {ms:5.0f} ms, {ms / boto3_ms:.2f}x import boto3 with bytecode")


if __name__ == "__main__":
    sys.exit(main())
