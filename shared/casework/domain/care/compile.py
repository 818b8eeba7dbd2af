"""A configured type of a care module, compiled into a workflow definition the one engine runs.

A module template (``casework/workflows/modules/*.json``) says what a module's life cycle is: its states,
fields, and the actions between states (respond, resolve, complete, cancel, ...) with who may take them
and what they need. The business's configuration (``ModuleConfig``) says which statuses exist and which a
type uses, who may move between them, which categories, reasons and priorities apply. ``compile_type``
joins the two into an ordinary definition dict: statuses are the type's, transitions are the template's
actions between the type's statuses (narrowed by the type's transition rules), choice fields take the
type's allowed codes, and the type's communications become notifications. Nothing in the engine knows
about modules; this is where configuration becomes data it already runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from casework.domain.care.config import (
    CATEGORY_LISTS,
    LEAD_PRIORITY_LEVELS,
    STATES,
    TERMINAL_STATES,
    ModuleConfig,
    TypeConfig,
)
from casework.domain.care.template import check_template
from casework.domain.workflow import WorkflowDefinition, parse_definition

# Template keys that are compiled into something else rather than copied
_TEMPLATE_ONLY = frozenset(
    {"kind", "defaults", "state_edits", "acceptance", "actions", "related_editable_in_states", "key_dates"}
)
_ADMIN = {"role": "Admin", "any_unit": True}

# Compiled types by (module, config version, type code): the module rules look their type up here.
_TYPES: dict[tuple[str, int, str], TypeConfig] = {}


def type_config(defn: WorkflowDefinition) -> TypeConfig:
    """The configured type a compiled definition came from."""
    key = (defn.module or "", defn.config_version or 0, defn.subtype or "")
    if key not in _TYPES:
        from casework.domain.care.config import parse_config

        care = defn.care
        if care is None:
            raise KeyError(f"{defn.name} was not compiled from a care module's configuration")
        _TYPES[key] = parse_config(defn.module or "", care.config).type(care.type)
    return _TYPES[key]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "status"


def _choices(source: Any, config: ModuleConfig, t: TypeConfig) -> tuple[Any, ...]:
    if isinstance(source, Mapping):
        return t.allowed_categories(source["state"])
    model = config.prioritisation
    return {
        "impact_levels": lambda: tuple(level.level for level in model.impact_levels) if model else (),
        "urgency_levels": lambda: tuple(level.level for level in model.urgency_levels) if model else (),
        "priorities": lambda: tuple(p.level for p in model.priorities) if model else (),
        "cancellation_reasons": t.allowed_cancellation_reasons,
        "source_types": t.allowed_source_types,
        "lead_priorities": lambda: tuple(LEAD_PRIORITY_LEVELS),
        "importance_levels": lambda: tuple(i.code for i in config.importance_levels),
        "lost_reasons": t.allowed_lost_reasons,
        "competitors": t.allowed_competitors,
    }[source]()


def _labels(source: Any, config: ModuleConfig) -> dict[str, str]:
    """What users read for each code of a configured list (category names, level labels, ...)."""
    if isinstance(source, Mapping):
        state = source["state"]
        list_name = CATEGORY_LISTS[config.module][state]
        return {c.code: c.name for c in config.categories(list_name)}
    model = config.prioritisation
    named = {
        "impact_levels": lambda: {str(x.level): x.label for x in model.impact_levels} if model else {},
        "urgency_levels": lambda: {str(x.level): x.label for x in model.urgency_levels} if model else {},
        "priorities": lambda: {str(p.level): p.label for p in model.priorities} if model else {},
        "cancellation_reasons": lambda: {r.code: r.name for r in config.cancellation_reasons},
        "source_types": lambda: dict(config.source_type_labels),
        "lead_priorities": lambda: {str(k): v for k, v in config.priority_labels.items()},
        "importance_levels": lambda: {i.code: i.label for i in config.importance_levels},
        "lost_reasons": lambda: {r.code: r.name for r in config.lost_reasons},
        "competitors": lambda: {c.code: c.name for c in config.competitors},
    }
    return named[source]()


def _default(source: Any, config: ModuleConfig, t: TypeConfig) -> Any:
    if isinstance(source, Mapping):
        return t.default_category(source["state"])
    model = config.prioritisation
    defaults: dict[str, Callable[[], Any]] = {
        "default_impact": lambda: model.default_impact if model else None,
        "default_urgency": lambda: model.default_urgency if model else None,
        "default_source_type": t.default_source_type,
        "type_priority_level": lambda: t.priority_level,
        "type_importance": lambda: t.importance,
        "auto_included_competitor": lambda: next(iter(t.auto_included_competitors()), None),
    }
    return defaults[source]()


def _fields(template: Mapping[str, Any], config: ModuleConfig, t: TypeConfig) -> dict[str, Any]:
    fields = {}
    for name, spec in template["fields"].items():
        spec = dict(spec)
        source = spec.pop("choices_from", None)
        if source is not None:
            choices = _choices(source, config, t)
            if choices:
                spec["choices"] = list(choices)
                spec["choice_labels"] = _labels(source, config)
            else:  # the business keeps no list here: a free text value instead of an empty choice
                spec["type"] = "string"
        fields[name] = spec
    return fields


def _statuses(template: Mapping[str, Any], config: ModuleConfig, t: TypeConfig) -> list[dict[str, Any]]:
    out = []
    for state in STATES[t.module]:
        for name in t.statuses_in(state):
            entry: dict[str, Any] = {
                "name": name,
                "state": state,
                "edits": template["state_edits"].get(state, []),
            }
            acceptance = template["acceptance"].get(state)
            if acceptance:
                requiring = [
                    c.code
                    for c in config.categories(acceptance["list"])
                    if config.requires_acceptance(acceptance["list"], c.code)
                ]
                entry["acceptance"] = {
                    **{k: v for k, v in acceptance.items() if k != "list"},
                    "categories": requiring,
                }
            out.append(entry)
    return out


def _pairs(action: Mapping[str, Any], t: TypeConfig) -> list[tuple[str, str]]:
    if action.get("same_state"):
        return [
            (a, b)
            for state in STATES[t.module]
            if state not in TERMINAL_STATES[t.module]
            for a in t.statuses_in(state)
            for b in t.statuses_in(state)
            if a != b
        ]
    return [
        (a, b)
        for source in action["from"]
        for a in t.statuses_in(source)
        for b in t.statuses_in(action["to"])
    ]


def _permits(action: Mapping[str, Any], t: TypeConfig, pair: tuple[str, str]) -> list[dict[str, Any]] | None:
    """Who may make this move: the type's rules for it when the type has rules (None: not allowed at all),
    else the template's action permits."""
    if not t.transition_rules:
        return list(action["allowed"])
    rules = [r for r in t.transition_rules if (r.from_status, r.to_status) == pair]
    if not rules:
        return None
    if any(not r.users and not r.business_units for r in rules):
        return list(action["allowed"])
    permits = [{"user": u} for r in rules for u in r.users]
    permits += [{"business_unit": b} for r in rules for b in r.business_units]
    return permits


def _transitions(template: Mapping[str, Any], t: TypeConfig) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for action in template["actions"]:
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for source, target in _pairs(action, t):
            permits = _permits(action, t, (source, target))
            if permits is None:
                continue
            key = (target, repr(permits))
            groups.setdefault(key, {"to": target, "allowed": permits, "from": []})["from"].append(source)
        for group in groups.values():
            name = action["name"] if len(groups) == 1 else f"{action['name']}_to_{_slug(group['to'])}"
            while name in names:
                name += "_"
            names.add(name)
            entry = {k: v for k, v in action.items() if k not in ("from", "to", "allowed", "same_state")}
            out.append({**entry, "name": name, **group})
    return out


def _notifications(template: Mapping[str, Any], t: TypeConfig) -> list[dict[str, Any]]:
    # The module's own messages to the contact (an acceptance link) go by the channels the type writes to its
    # contact on: SMS when any of its contact communications does.
    contact_channels = sorted(
        {ch for c in t.communications if c.to == "contact" for ch in c.channels} or {"email"}
    )
    out = [
        {**n, "channels": contact_channels} if n.get("to") == "contact" else dict(n)
        for n in template.get("notifications", ())
    ]
    for c in t.communications:
        out.append(
            {
                # A case enters its first state by being registered, every other one by a transition.
                "event": "CaseRegistered" if c.on_state == STATES[t.module][0] else "CaseTransitioned",
                "to": c.to,
                "states": [c.on_state],
                "template": f"{t.code}:{c.on_state}:{c.to}",
                "subject": c.subject,
                "body": c.body,
                "channels": list(c.channels),
            }
        )
    return out


def _key_dates(template: Mapping[str, Any], config: ModuleConfig, t: TypeConfig) -> dict[str, Any]:
    rules = template.get("key_dates", {})
    out: dict[str, Any] = {
        "complete_within": t.complete_within.to_dict() if t.complete_within else None,
        "completed_on": list(rules.get("completed_on", ())),
        "restart_on": list(rules.get("recalculate_on", ())) if t.recalculate_on_responding else [],
    }
    if rules.get("by_field") and config.prioritisation:
        out["by_field"] = rules["by_field"]
        out["durations"] = {
            str(p.level): p.complete_within.to_dict()
            for p in config.prioritisation.priorities
            if p.complete_within
        }
    return out


def compile_type(
    template: Mapping[str, Any], config: ModuleConfig, type_code: str | None, config_version: int
) -> dict[str, Any]:
    """The definition dict for one type (the default type when ``type_code`` is None); KeyError for an
    unknown type code."""
    t = config.type(type_code) if type_code else config.default_type
    _TYPES[(t.module, config_version, t.code)] = t
    raw = {k: v for k, v in template.items() if k not in _TEMPLATE_ONLY}
    create = dict(template["create"])
    defaults = {name: _default(source, config, t) for name, source in template.get("defaults", {}).items()}
    create["defaults"] = {name: value for name, value in defaults.items() if value is not None}
    if t.create_business_units:
        create["allowed"] = [{"business_unit": b} for b in t.create_business_units] + [_ADMIN]
    statuses = _statuses(template, config, t)
    related_states = set(template.get("related_editable_in_states", ()))
    raw.update(
        {
            "module": t.module,
            "subtype": t.code,
            "type_name": t.name,
            "config_version": config_version,
            "fields": _fields(template, config, t),
            "create": create,
            "statuses": statuses,
            "initial_status": t.initial_status,
            "transitions": _transitions(template, t),
            "related_editable_in": [s["name"] for s in statuses if s["state"] in related_states],
            "related_keys": {"products": list(t.products)}
            if t.products and "products" in raw.get("related", {})
            else {},
            "children": {
                kind: {**child, "allowed_subtypes": list(t.activity_types)}
                for kind, child in template.get("children", {}).items()
            },
            "key_dates": _key_dates(template, config, t),
            "notifications": _notifications(template, t),
            "care": {"type": t.code, "config": config.model_dump(mode="json")},
        }
    )
    derived = template.get("derived", {})
    if derived and config.prioritisation:
        table = {f"{e.impact}:{e.urgency}": e.priority for e in config.prioritisation.matrix}
        raw["derived"] = {name: {"from": d["from"], "table": table} for name, d in derived.items()}
    else:
        raw.pop("derived", None)
    return raw


def compile_definition(
    template: Mapping[str, Any], config: ModuleConfig, type_code: str | None, config_version: int
) -> WorkflowDefinition:
    check_template(template)
    return parse_definition(compile_type(template, config, type_code, config_version))
