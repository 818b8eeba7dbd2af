"""Stand up the template's stateful resources (table, queues, bus, rules, buckets, schedules) in moto or any
AWS endpoint.

Why: the local stack must not drift from the deployment. Every property used here is read from the
resource definitions in ``template.yaml``; Python only knows how each CloudFormation resource type maps
to its API call. Add a GSI or change a redrive count in the template and the local stack follows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"
_TABLE_TYPE, _BUS_TYPE, _QUEUE_TYPE = "AWS::DynamoDB::Table", "AWS::Events::EventBus", "AWS::SQS::Queue"
_RULE_TYPE = "AWS::Events::Rule"
_BUCKET_TYPE, _SCHEDULE_TYPE = "AWS::S3::Bucket", "AWS::Scheduler::Schedule"
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...) as long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":  # !GetAtt Resource.Attribute -> [Resource, Attribute]
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path | None = None) -> dict[str, Any]:
    """Parse template.yaml (default: the repository's) into plain dicts, intrinsics in long form."""
    with (path or TEMPLATE_PATH).open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects


@dataclass(frozen=True)
class LocalResources:
    """Physical names the local stack needs to wire the handlers to the resources.

    ``physical`` holds every created resource by logical id (``Ref`` and its attributes, as CloudFormation
    would return them), so event sources are wired from the template's own references: ``resolve`` turns
    ``!GetAtt ConvertQueue.Arn`` into the local ARN and ``queue_url`` into the queue to poll.
    """

    table_name: str
    table_stream_arn: str
    event_bus_name: str
    notify_queue_url: str
    notify_dlq_url: str
    publish_dlq_url: str
    physical: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False, compare=False)

    def resolve(self, reference: Any) -> str:
        """A Ref / Fn::GetAtt (long form, as ``load_template`` reads them) or a literal -> its local value."""
        if isinstance(reference, str):
            return reference
        if isinstance(reference, dict) and len(reference) == 1:
            (key, arg), *_ = reference.items()
            if key == "Ref":
                value = self.physical.get(arg, {}).get("Ref")
            elif key == "Fn::GetAtt":
                logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                value = self.physical.get(logical_id, {}).get(attribute)
            else:
                value = None
            if value is not None:
                return value
        raise KeyError(f"{reference!r} does not reference a resource the local stack created")

    def queue_url(self, reference: Any) -> str:
        """The URL of the queue ``reference`` points at (its Ref, its Arn, or the ARN itself)."""
        value = self.resolve(reference)
        for attributes in self.physical.values():
            if "QueueUrl" in attributes and value in (attributes["QueueUrl"], attributes["Arn"]):
                return attributes["QueueUrl"]
        raise KeyError(f"{reference!r} is not a queue the local stack created")


class _Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Sub against parameters, pseudo parameters and created resources.

    ``physical[logical_id]`` holds what ``Ref`` returns under the key ``"Ref"`` and each attribute
    (``Arn``, ``StreamArn``, ``QueueName``...) under its own name, as CloudFormation would.
    """

    def __init__(self, template: dict[str, Any], stage: str, region: str, account: str) -> None:
        params = {k: v.get("Default") for k, v in template.get("Parameters", {}).items()}
        params |= {"Stage": stage, "AWS::Region": region, "AWS::AccountId": account}
        params |= {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "casework"}
        self.params = params
        self.physical: dict[str, dict[str, str]] = {}

    def ref(self, name: str) -> Any:
        if name in self.physical:
            return self.physical[name]["Ref"]
        if name in self.params:
            return self.params[name]
        raise KeyError(f"cannot resolve Ref {name!r}: not a parameter or a resource created locally (yet)")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.physical[logical_id][attribute]
        except KeyError:
            raise KeyError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} locally") from None

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.physical:
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB_VAR.sub(one, text).replace("${!", "${")

    def try_resolve(self, value: Any) -> Any | None:
        """``resolve``, or None if ``value`` references something that does not exist locally."""
        try:
            return self.resolve(value)
        except KeyError:
            return None

    def resolve(self, value: Any) -> Any:
        """Recursively replace intrinsic functions in ``value`` by their local values."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), *_ = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg.split(".", 1) if isinstance(arg, str) else arg))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self.sub(text, variables)
        return {k: self.resolve(v) for k, v in value.items()}


def _conditions(template: dict[str, Any], res: _Resolver) -> dict[str, bool]:
    """The template's Conditions, evaluated against the local parameters (as CloudFormation would)."""
    raw: dict[str, Any] = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def holds(value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), *_ = value.items()
            if key == "Condition":
                if arg not in done:
                    done[arg] = bool(holds(raw[arg]))
                return done[arg]
            if key == "Fn::Not":
                return not holds(arg[0])
            if key == "Fn::And":
                return all(holds(a) for a in arg)
            if key == "Fn::Or":
                return any(holds(a) for a in arg)
            if key == "Fn::Equals":
                return holds(arg[0]) == holds(arg[1])
        return res.resolve(value)

    return {name: bool(holds({"Condition": name})) for name in raw}


def _attributes(props: dict[str, Any]) -> dict[str, str]:
    """CloudFormation queue properties are SQS attribute names; the API wants every value as a string."""
    out = {}
    for key, value in props.items():
        if key in ("QueueName", "Tags"):
            continue
        if isinstance(value, bool):
            out[key] = str(value).lower()
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def _depends_on_unbuilt(value: Any, pending: set[str]) -> bool:
    """True if ``value`` still references a resource in ``pending`` (creation order for queues)."""
    text = json.dumps(value)
    return any(f'"{name}"' in text or f"${{{name}." in text or f"${{{name}}}" in text for name in pending)


def create_resources(
    template: dict[str, Any],
    *,
    stage: str = "local",
    session_kwargs: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
) -> LocalResources:
    """Create the table, queues, bus and rules of ``template`` and return their physical names.

    Physical names are ``casework-<stage>`` (table) and ``casework-<stage>-<LogicalId>`` (queues,
    rules without a Name); the bus keeps its templated Name. Not idempotent: the table is created with
    CreateTable, so a second call against the same endpoint raises ``ResourceInUseException``. IAM, queue
    policies, functions and the API are not created: the local harness invokes handlers directly.
    """
    session = boto3.session.Session(**(session_kwargs or {}))
    region = session.region_name or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1"

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    account = client("sts").get_caller_identity()["Account"]
    res = _Resolver(template, stage, region, account)
    conditions = _conditions(template, res)
    # Resources whose Condition is false (e.g. the ERP subscriber without its queue) are not created.
    resources: dict[str, dict[str, Any]] = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in resources.items():
        by_type.setdefault(resource["Type"], []).append(logical_id)

    # Table: the DynamoDB API shapes differ a little from CloudFormation's (streams, SSE, TTL).
    dynamodb = client("dynamodb")
    for logical_id in by_type.get(_TABLE_TYPE, []):
        props = res.resolve(resources[logical_id]["Properties"])
        name = f"casework-{stage}" if len(by_type[_TABLE_TYPE]) == 1 else f"casework-{stage}-{logical_id}"
        kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if "StreamSpecification" in props:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if "SSESpecification" in props:
            kwargs["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
        table = dynamodb.create_table(TableName=name, **kwargs)["TableDescription"]
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        if "TimeToLiveSpecification" in props:
            ttl = props["TimeToLiveSpecification"]
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        res.physical[logical_id] = {"Ref": name, "Arn": table["TableArn"]}
        if "LatestStreamArn" in table:
            res.physical[logical_id]["StreamArn"] = table["LatestStreamArn"]

    events = client("events")
    for logical_id in by_type.get(_BUS_TYPE, []):
        name = res.resolve(resources[logical_id]["Properties"]["Name"])
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        res.physical[logical_id] = {"Ref": name, "Name": name, "Arn": arn}

    # Queues, dead-letter queues first: a RedrivePolicy needs its target's ARN.
    sqs = client("sqs")
    pending = set(by_type.get(_QUEUE_TYPE, []))
    while pending:
        ready = sorted(q for q in pending if not _depends_on_unbuilt(resources[q].get("Properties"), pending))
        if not ready:
            raise ValueError(f"queues reference each other in a cycle: {sorted(pending)}")
        for logical_id in ready:
            props = res.resolve(resources[logical_id].get("Properties", {}))
            name = props.get("QueueName") or f"casework-{stage}-{logical_id}"
            url = sqs.create_queue(QueueName=name, Attributes=_attributes(props))["QueueUrl"]
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            arn = attrs["QueueArn"]
            res.physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
            pending.discard(logical_id)

    def _without_local_role(target: dict[str, Any]) -> dict[str, Any]:
        """IAM is not created locally: a target whose delivery role does not resolve goes without it."""
        if "RoleArn" in target and res.try_resolve(target["RoleArn"]) is None:
            return {key: value for key, value in target.items() if key != "RoleArn"}
        return target

    # Buckets before rules: a rule's pattern may name a bucket (S3 -> EventBridge -> queue).
    s3 = client("s3")
    for logical_id in by_type.get(_BUCKET_TYPE, []):
        props = res.resolve(resources[logical_id].get("Properties", {}))
        name = props.get("BucketName") or f"casework-{stage}-{logical_id}".lower()
        location = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=name, **location)
        if (
            props.get("NotificationConfiguration", {})
            .get("EventBridgeConfiguration", {})
            .get("EventBridgeEnabled")
        ):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        res.physical[logical_id] = {"Ref": name, "Arn": f"arn:aws:s3:::{name}", "DomainName": name}

    for logical_id in by_type.get(_RULE_TYPE, []):
        # Targets that point at things not created here (Lambda functions: the local dispatcher invokes
        # handlers itself) are left out; every other property must resolve.
        raw = dict(resources[logical_id]["Properties"])
        targets = [t for t in map(res.try_resolve, map(_without_local_role, raw.pop("Targets", []))) if t]
        props = res.resolve(raw) | {"Targets": targets}
        name = props.get("Name") or f"casework-{stage}-{logical_id}"
        bus = props.get("EventBusName", "default")
        rule = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            rule["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        arn = events.put_rule(**rule)["RuleArn"]
        if props.get("Targets"):
            events.put_targets(Rule=name, EventBusName=bus, Targets=props["Targets"])
        res.physical[logical_id] = {"Ref": name, "Arn": arn}

    # Schedules (EventBridge Scheduler): created as the template says, so the local stack can read one back
    # and send its target input by hand (moto keeps schedules but never fires them). IAM roles are not
    # created locally: a role the template builds gets a placeholder ARN.
    scheduler = client("scheduler") if by_type.get(_SCHEDULE_TYPE) else None
    for logical_id in by_type.get(_SCHEDULE_TYPE, []):
        raw = dict(resources[logical_id]["Properties"])
        target = dict(raw.pop("Target"))
        role = res.try_resolve(target.pop("RoleArn", None)) or f"arn:aws:iam::{account}:role/casework-local"
        props = res.resolve(raw)
        target = res.resolve(target) | {"RoleArn": role}
        name = props.get("Name") or f"casework-{stage}-{logical_id}"
        kwargs = {
            k: props[k] for k in ("ScheduleExpression", "ScheduleExpressionTimezone", "State") if k in props
        }
        arn = scheduler.create_schedule(
            Name=name, FlexibleTimeWindow=props["FlexibleTimeWindow"], Target=target, **kwargs
        )["ScheduleArn"]
        res.physical[logical_id] = {"Ref": name, "Arn": arn}

    def ref(logical_id: str, attribute: str = "Ref") -> str:
        return res.physical[logical_id][attribute]

    return LocalResources(
        table_name=ref("CaseTable"),
        table_stream_arn=ref("CaseTable", "StreamArn"),
        event_bus_name=ref("EventBus"),
        notify_queue_url=ref("NotifyQueue"),
        notify_dlq_url=ref("NotifyDeadLetterQueue"),
        publish_dlq_url=ref("PublishDeadLetterQueue"),
        physical={logical_id: dict(attributes) for logical_id, attributes in res.physical.items()},
    )
