"""The template's functions, loaded for in-process invocation: their code, HTTP routes and event sources.

Everything is read from template.yaml (CodeUri, Handler, Events), so a route or trigger added there is served
locally without touching this harness.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Lambda runs one event at a time per execution environment, and Powertools keeps the current event on the
# resolver class; so the harness runs one invocation at a time, like a single warm container per function.
INVOKE_LOCK = threading.RLock()


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway form: /cases/{case_id}
    authorized: bool
    function: str
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def specificity(self) -> tuple[int, int]:
        parts = self.path.strip("/").split("/")
        return (sum(1 for p in parts if not p.startswith("{")), len(parts))


@dataclass
class LocalFunction:
    logical_id: str
    handler: Callable[[dict, Any], Any]
    sources: dict[str, dict[str, Any]]  # event name -> {"Type": ..., "Properties": ...}
    timeout_seconds: float = 15.0  # the template's Timeout: what the context says is left

    def invoke(self, event: dict) -> Any:
        with INVOKE_LOCK:
            return self.handler(event, LambdaContext(self.logical_id, self.timeout_seconds))


class LambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    def __init__(self, name: str = "casework-local", timeout_seconds: float = 15.0) -> None:
        self._deadline = time.monotonic() + timeout_seconds
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _path_pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def import_file(path: Path, module_name: str) -> ModuleType:
    """Import a function's code by path under a name of its own: every function's file is called app.py."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _load_module(logical_id: str, code_uri: str, handler: str) -> Callable[[dict, Any], Any]:
    module_name, _, attr = handler.rpartition(".")
    path = REPO / code_uri / f"{module_name.replace('.', '/')}.py"
    return getattr(import_file(path, f"local_fn_{logical_id}"), attr)


@dataclass(frozen=True)
class Cors:
    """An HTTP API's CorsConfiguration, as API Gateway applies it: it answers preflights itself and adds the
    allow-origin and expose headers to responses."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...] = ()
    max_age: int | None = None

    def allows(self, origin: str, method: str, headers: list[str]) -> bool:
        allowed_headers = {h.lower() for h in self.headers}
        return (
            ("*" in self.origins or origin in self.origins)
            and ("*" in self.methods or method.upper() in self.methods)
            and ("*" in self.headers or all(h.lower() in allowed_headers for h in headers))
        )

    def allow_origin(self, origin: str) -> str:
        return "*" if "*" in self.origins else origin


def cors_of(template: dict[str, Any]) -> Cors | None:
    """The CorsConfiguration of the template's HTTP API, if it has one."""
    for res in template["Resources"].values():
        if res["Type"] == "AWS::Serverless::HttpApi" and "CorsConfiguration" in res.get("Properties", {}):
            c = res["Properties"]["CorsConfiguration"]
            return Cors(
                origins=tuple(c.get("AllowOrigins", ())),
                methods=tuple(m.upper() for m in c.get("AllowMethods", ())),
                headers=tuple(c.get("AllowHeaders", ())),
                expose=tuple(c.get("ExposeHeaders", ())),
                max_age=c.get("MaxAge"),
            )
    return None


def load_functions(template: dict[str, Any]) -> tuple[dict[str, LocalFunction], list[HttpRoute]]:
    resources = template["Resources"]
    default_handler = template.get("Globals", {}).get("Function", {}).get("Handler", "app.handler")
    default_timeout = float(template.get("Globals", {}).get("Function", {}).get("Timeout", 15))
    api_auth = {
        logical: res["Properties"].get("Auth", {}).get("DefaultAuthorizer")
        for logical, res in resources.items()
        if res["Type"] == "AWS::Serverless::HttpApi"
    }
    functions: dict[str, LocalFunction] = {}
    routes: list[HttpRoute] = []
    for logical, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        handler = _load_module(logical, props["CodeUri"], props.get("Handler", default_handler))
        events = props.get("Events", {})
        functions[logical] = LocalFunction(
            logical, handler, events, float(props.get("Timeout", default_timeout))
        )
        for source in events.values():
            if source["Type"] != "HttpApi":
                continue
            p = source["Properties"]
            api = p.get("ApiId", {}).get("Ref") if isinstance(p.get("ApiId"), dict) else None
            authorizer = p.get("Auth", {}).get("Authorizer", api_auth.get(api))
            routes.append(
                HttpRoute(
                    p["Method"].upper(),
                    p["Path"],
                    authorizer not in (None, "NONE"),
                    logical,
                    _path_pattern(p["Path"]),
                )
            )
    routes.sort(key=lambda r: r.specificity, reverse=True)  # API Gateway prefers the most specific route
    return functions, routes


def event_source(functions: dict[str, LocalFunction], source_type: str) -> list[tuple[LocalFunction, dict]]:
    """(function, event source properties) for every event source of a type (SQS, DynamoDB)."""
    return [
        (fn, source["Properties"])
        for fn in functions.values()
        for source in fn.sources.values()
        if source["Type"] == source_type
    ]


def filter_patterns(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(f["Pattern"]) for f in properties.get("FilterCriteria", {}).get("Filters", [])]


def matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering for the forms we use: nested objects, lists of literals, {"exists": bool}."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(matches(sub, value.get(key, _MISSING)) for key, sub in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict) and "exists" in option:
                if option["exists"] == (value is not _MISSING):
                    return True
            elif value is not _MISSING and value == option:
                return True
        return False
    return value == pattern


_MISSING = object()
