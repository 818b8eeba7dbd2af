"""The environment every function reads, as one pydantic model: each variable named, typed and explained once.

A function states at start (module import, i.e. the Lambda init phase) which variables it cannot work
without: ``load("TABLE_NAME", "MAIL_FROM")`` raises MissingSetting naming each one that is unset or empty, so
a misconfigured deployment fails its first invocation with a message that says what to set, instead of
writing to a table named by a silent default. Values are read from ``os.environ`` on each ``load`` (a few
microseconds): tests and the local stack set the environment per test or per stack.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TRUTHY = {"1", "true", "yes", "on"}


class MissingSetting(RuntimeError):
    """A variable the function needs is not set (or does not have the expected type)."""


class Settings(BaseModel):
    """Every environment variable casework reads (aliases are the variable names)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field("", alias="TABLE_NAME", description="The case table (every function).")
    event_bus_name: str = Field("", alias="EVENT_BUS_NAME", description="Domain events go out on it.")
    region: str = Field("", alias="AWS_REGION", description="Set by Lambda; AWS_DEFAULT_REGION else.")
    default_region: str = Field("eu-west-1", alias="AWS_DEFAULT_REGION")
    mail_from: str = Field("", alias="MAIL_FROM", description="The sender of every email.")
    public_base_url: str = Field(
        "", alias="PUBLIC_BASE_URL", description="Base of email links; API functions derive it when empty."
    )
    approval_token_ttl_hours: int = Field(168, alias="APPROVAL_TOKEN_TTL_HOURS", ge=1)
    case_url_template: str = Field("", alias="CASE_URL_TEMPLATE", description="A case's page in the CRM.")
    username_claim: str = Field("username", alias="USERNAME_CLAIM", description="The JWT claim of the user.")
    cursor_secret: str = Field("", alias="CURSOR_SECRET", description="Signs list cursors.")
    remind_after_hours: int = Field(48, alias="REMIND_AFTER_HOURS", ge=1)
    import_bucket: str = Field("", alias="IMPORT_BUCKET")
    import_queue_url: str = Field("", alias="IMPORT_QUEUE_URL")
    import_run_as: str = Field("admin", alias="IMPORT_RUN_AS")
    import_chunk_rows: int = Field(100, alias="IMPORT_CHUNK_ROWS", ge=1)
    import_reserve_seconds: float = Field(30, alias="IMPORT_RESERVE_SECONDS", ge=0)
    service_name: str = Field("casework", alias="POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = Field("Casework", alias="POWERTOOLS_METRICS_NAMESPACE")
    trace_disabled: str = Field("", alias="POWERTOOLS_TRACE_DISABLED")
    lambda_task_root: str = Field("", alias="LAMBDA_TASK_ROOT", description="Set by Lambda only.")
    sam_local: str = Field("", alias="AWS_SAM_LOCAL")
    sms_sender_id: str = Field("", alias="SMS_SENDER_ID", description="The SMS sender id, where allowed.")
    rules_cache_seconds: float = Field(
        60, alias="RULES_CACHE_SECONDS", ge=0, description="How long a container trusts the latest rule set."
    )
    plan_step_function_arn: str = Field("", alias="PLAN_STEP_FUNCTION_ARN")
    plan_schedule_role_arn: str = Field("", alias="PLAN_SCHEDULE_ROLE_ARN")

    @property
    def aws_region(self) -> str:
        return self.region or self.default_region

    @property
    def tracing_active(self) -> bool:
        """X-Ray tracing runs on Lambda only (as Powertools decides: not under SAM local, not when disabled);
        locally and in tests the X-Ray SDK is never imported."""
        return (
            bool(self.lambda_task_root) and not self.sam_local and self.trace_disabled.lower() not in TRUTHY
        )


def load(*required: str) -> Settings:
    """The settings now; MissingSetting names every variable of ``required`` (variable names) that is empty,
    and any variable whose value has the wrong type."""
    environment = {name: value for name, value in os.environ.items() if value != ""}
    try:
        settings = Settings.model_validate(environment)
    except ValidationError as exc:
        wrong = ", ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())  # loc: the variable
        raise MissingSetting(f"Environment variables with a wrong value: {wrong}") from None
    missing = [name for name in required if not environment.get(name)]
    if missing:
        raise MissingSetting(
            f"Missing environment variable{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "set by template.yaml on AWS, by infra/local for the local stack."
        )
    return settings
