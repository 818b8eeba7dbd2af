"""The directory as an Admin changes it: the shape of a user, a business unit and an area routing
rule, and the checks of one change against the rest of the directory. Pure: the service passes in what
the checks need (the roles known, the unit codes, the users a unit names), so every problem is found and
listed at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# The roles in use by the shipped workflows and care modules. The list is data: a ``DIRECTORY/ROLES`` record
# ({"roles": [...]}) on the table replaces it (casework.adapters.directory_admin.DynamoDirectoryAdmin.roles).
KNOWN_ROLES: tuple[str, ...] = (
    "Sales Rep",
    "Supply Chain & Quality",
    "Tech Team & Sales Dev",
    "Sales Manager",
    "Admin",
    "Customer Service",
    "Care Agent",
    "Team Lead",
    "Field Technician",
)
ADMIN_ROLES = frozenset({"Admin"})
READ_ROLES = frozenset({"Admin", "Sales Manager", "Team Lead"})  # managers see who is who

KINDS = ("user", "unit", "area")
# Keys become parts of table keys (``USER#<name>``): no "#", no spaces at the ends, bounded.
KEY_PATTERNS = {
    "user": re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"),
    "unit": re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}"),
    "area": re.compile(r"[^#\s][^#]{0,78}[^#\s]|[^#\s]"),
}
# Kept by casework, shown on reads, never input.
READ_ONLY = {
    "user": ("username", "version", "updated_by", "updated_at"),
    "unit": ("code", "members", "members_version", "version", "updated_by", "updated_at"),
    "area": ("geographic_area", "version", "updated_by", "updated_at"),
}

Problem = dict[str, str]  # {"location", "message"}


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UserEntry(_Entry):
    display_name: str = Field("", max_length=120)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    roles: list[str] = Field(default_factory=list, max_length=20)
    business_units: list[str] = Field(default_factory=list, max_length=50)
    default_business_unit: str | None = None
    active: bool = True


class ApprovalRuleEntry(_Entry):
    """auto: approved at once; user: ask ``users[0]``; group: ask the unit's members with ``role``, or
    ``users``; ``mode`` any (one decision decides) or all (everybody must approve)."""

    kind: Literal["auto", "user", "group"]
    users: list[str] = Field(default_factory=list, max_length=50)
    role: str | None = None
    mode: Literal["any", "all"] = "any"
    remind_after_hours: int | None = Field(
        None,
        ge=0,
        le=8784,
        description="Remind the approvers once a day when the approval has waited this long; 0: never; "
        "absent: the deployment's RemindAfterHours (48).",
    )


class UnitEntry(_Entry):
    name: str = Field(min_length=1, max_length=120)
    responsibles: dict[str, str] = Field(default_factory=dict, description="phase -> username")
    approval_rules: dict[str, ApprovalRuleEntry] = Field(default_factory=dict, description="step -> rule")


class AreaEntry(_Entry):
    business_unit: str = Field(min_length=1, max_length=40)


ENTRY_MODELS: dict[str, type[_Entry]] = {"user": UserEntry, "unit": UnitEntry, "area": AreaEntry}


def check_key(kind: str, key: str) -> list[Problem]:
    if KEY_PATTERNS[kind].fullmatch(key):
        return []
    return [{"location": f"path.{kind}", "message": f"{key[:80]!r} is not a valid {kind} key"}]


def parse_entry(kind: str, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The record's fields as stored (defaults filled in) and every shape problem. With problems, the record
    holds only the fields given in a good shape, so the directory checks can still look at those."""
    model = ENTRY_MODELS[kind]
    problems = [
        {"location": name, "message": "kept by casework, not input"}
        for name in READ_ONLY[kind]
        if name in data
    ]
    given = {k: v for k, v in data.items() if k not in READ_ONLY[kind]}
    try:
        record = model.model_validate(given).model_dump(exclude_none=True)
    except ValidationError as exc:
        problems += [
            {"location": ".".join(str(p) for p in err["loc"]) or "body", "message": _message(err)}
            for err in exc.errors()
        ]
        record = {}
        for name, value in given.items():
            field = model.model_fields.get(name)
            if field is None:
                continue
            shape: Any = (
                Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            )
            adapter: TypeAdapter[Any] = TypeAdapter(shape)
            try:
                record[name] = adapter.dump_python(adapter.validate_python(value))
            except ValidationError:
                continue
    if kind == "unit":
        record["approval_rules"] = {
            step: _stored_rule(rule) for step, rule in record.get("approval_rules", {}).items()
        }
    return record, problems


def _message(error: Any) -> str:
    if error["type"] == "string_pattern_mismatch":
        return "does not have the form expected here"
    return str(error["msg"])


def without_shape_problems(checked: list[Problem], shape: list[Problem]) -> list[Problem]:
    """The directory checks' problems, less those about a field whose shape is already reported."""
    bad = {p["location"].split(".")[0] for p in shape}
    return [p for p in checked if p["location"].split(".")[0] not in bad]


def _stored_rule(rule: dict[str, Any]) -> dict[str, Any]:
    stored = {"kind": rule["kind"], "mode": rule["mode"]}
    if rule.get("users"):
        stored["users"] = rule["users"]
    if rule.get("role"):
        stored["role"] = rule["role"]
    if rule.get("remind_after_hours") is not None:
        stored["remind_after_hours"] = rule["remind_after_hours"]
    return stored


def check_user(user: Mapping[str, Any], *, roles: Iterable[str], unit_codes: Iterable[str]) -> list[Problem]:
    known_roles, known_units = set(roles), set(unit_codes)
    problems: list[Problem] = []
    for i, role in enumerate(user.get("roles", ())):
        if role not in known_roles:
            problems.append({"location": f"roles.{i}", "message": f"unknown role {role!r}"})
    for i, unit in enumerate(user.get("business_units", ())):
        if unit not in known_units:
            problems.append({"location": f"business_units.{i}", "message": f"unknown business unit {unit!r}"})
    for field, values in (
        ("roles", user.get("roles", ())),
        ("business_units", user.get("business_units", ())),
    ):
        if len(set(values)) != len(values):
            problems.append({"location": field, "message": "names a value twice"})
    if user.get("active", True):
        # members are listed per role and unit: an active user without either would be nowhere
        for field in ("roles", "business_units"):
            if not user.get(field):
                problems.append({"location": field, "message": "an active user needs at least one"})
    default = user.get("default_business_unit")
    if default is not None and default not in user.get("business_units", ()):
        problems.append(
            {"location": "default_business_unit", "message": f"{default!r} is not one of the user's units"}
        )
    return problems


def users_named(unit: Mapping[str, Any]) -> dict[str, list[str]]:
    """username -> where the unit names them (``responsibles.assessment``, ``approval_rules.x.users.0``)."""
    named: dict[str, list[str]] = {}
    for phase, username in unit.get("responsibles", {}).items():
        named.setdefault(username, []).append(f"responsibles.{phase}")
    for step, rule in unit.get("approval_rules", {}).items():
        for i, username in enumerate(rule.get("users", ())):
            named.setdefault(username, []).append(f"approval_rules.{step}.users.{i}")
    return named


def check_unit(
    unit: Mapping[str, Any],
    *,
    roles: Iterable[str],
    members: Mapping[str, Iterable[str]],
    users: Mapping[str, Mapping[str, Any] | None],
) -> list[Problem]:
    """``members``: the unit's members by role as stored; ``users``: every user the unit names -> their
    record (None: no such user)."""
    known_roles = set(roles)
    problems: list[Problem] = []
    for username, locations in users_named(unit).items():
        record = users.get(username)
        if record is None:
            problems += [{"location": loc, "message": f"unknown user {username!r}"} for loc in locations]
        elif not record.get("active", True):
            problems += [{"location": loc, "message": f"{username!r} is not active"} for loc in locations]
    for step, rule in unit.get("approval_rules", {}).items():
        where = f"approval_rules.{step}"
        kind, named, role = rule["kind"], rule.get("users", []), rule.get("role")
        if kind == "auto" and (named or role):
            problems.append({"location": where, "message": "an automatic approval names nobody"})
        if kind == "user" and (len(named) != 1 or role):
            problems.append({"location": f"{where}.users", "message": "a user rule names exactly one user"})
        if kind == "group":
            if bool(named) == bool(role):
                problems.append(
                    {"location": where, "message": "a group is a role or a list of users, not both"}
                )
            if role and role not in known_roles:
                problems.append({"location": f"{where}.role", "message": f"unknown role {role!r}"})
            elif role and not list(members.get(role, ())):
                problems.append(
                    {"location": f"{where}.role", "message": f"empty approver group: nobody is {role!r} here"}
                )
    return problems


def check_area(area: Mapping[str, Any], *, unit_codes: Iterable[str]) -> list[Problem]:
    if area["business_unit"] in set(unit_codes):
        return []
    return [{"location": "business_unit", "message": f"unknown business unit {area['business_unit']!r}"}]


def members_after(
    members: Mapping[str, Iterable[str]], unit_code: str, username: str, user: Mapping[str, Any]
) -> dict[str, list[str]]:
    """A unit's members by role once ``user`` (as it will be stored) replaces the user's previous record:
    removed from every role, then added back to the roles they hold if active and in the unit."""
    after = {role: [name for name in names if name != username] for role, names in members.items()}
    if user.get("active", True) and unit_code in user.get("business_units", ()):
        for role in user.get("roles", ()):
            after.setdefault(role, []).append(username)
    return {role: names for role, names in after.items() if names}


def emptied_groups(unit: Mapping[str, Any], members: Mapping[str, Iterable[str]]) -> list[str]:
    """The approval steps of ``unit`` whose group role has no member left in ``members``."""
    return [
        step
        for step, rule in unit.get("approval_rules", {}).items()
        if rule.get("kind") == "group" and rule.get("role") and not list(members.get(rule["role"], ()))
    ]


def entry_defaults(kind: str) -> dict[str, Any]:
    """What a field left out means (a seeded user without ``active`` is active)."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in ENTRY_MODELS[kind].model_fields.items()
        if not field.is_required() and field.get_default(call_default_factory=True) is not None
    }


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    keys = set(after) | set(before or {})
    return sorted(
        k
        for k in keys
        if k not in ("version", "updated_by", "updated_at") and (before or {}).get(k) != after.get(k)
    )
