"""What every part of a care configuration document shares: the base model, the value types, and how
problems are collected and worded for the admin.

A configuration is checked in two rounds. Pydantic checks the document's shape (unknown keys, wrong value
types, out-of-range numbers) and ``shape_problems`` words its errors. The references between sections (a
type's status must be a module status, a category's parent must exist, ...) can only be checked once the
shape is right; each model checks its own part against a ``Review``, which collects every problem and
knows the module-wide facts (statuses, list codes) the checks refer to.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from casework.domain.care.lifecycle import MODULE_LABELS, with_article
from casework.domain.durations import MAX_VALUE, UNITS, Duration


class InvalidConfiguration(ValueError):
    """A module configuration that cannot be used. ``problems`` lists every problem found, each as
    ``{"location": "types[1].statuses", "message": "..."}``; the location is a path into the document."""

    def __init__(self, module: str, problems: list[dict[str, str]]) -> None:
        self.module = module
        self.problems = problems
        label = MODULE_LABELS.get(module, module)
        listed = "; ".join(f"{p['location'] or '(document)'}: {p['message']}" for p in problems)
        super().__init__(f"The {label} configuration has {len(problems)} problem(s): {listed}")


class ConfigurationProblems(Exception):
    """Raised by the cross-checks inside validation. Not a ValueError on purpose: pydantic passes it
    through untouched instead of folding the listed problems into one error of its own."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


class ConfigModel(BaseModel):
    """Every part of a configuration: immutable, no unknown keys, dumped under its JSON names."""

    # defer_build: the validators are built when a configuration is first parsed, not at import (cold start).
    model_config = ConfigDict(
        extra="forbid", frozen=True, serialize_by_alias=True, validate_by_alias=True, defer_build=True
    )


# --- value types -----------------------------------------------------------------------------------------
# Scalars are strict: a "5" where a number belongs is a mistake in a hand-edited document, not something to
# guess at. Lists are read into tuples, so the models stay immutable.


def _blank_to_none(value: str | None) -> str | None:
    return value or None


Name = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=80)]
Code = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=40)]
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, max_length=2000)]
OptionalText = Annotated[Text | None, AfterValidator(_blank_to_none)]  # "" reads as absent
Flag = Annotated[bool, Field(strict=True)]
LevelNumber = Annotated[int, Field(strict=True, ge=1, le=10)]


class DurationDocument(TypedDict):
    """How a duration is written: ``{"value": 2, "unit": "days"}``."""

    value: Annotated[int, Field(ge=1, le=MAX_VALUE)]
    unit: Literal[UNITS]  # type: ignore[valid-type]


def _duration(value: Any) -> Duration:
    return value if isinstance(value, Duration) else Duration.from_dict(value)


def _duration_dict(duration: Duration) -> dict[str, Any]:
    return duration.to_dict()


DurationValue = Annotated[
    Duration,
    PlainValidator(_duration, json_schema_input_type=DurationDocument),
    PlainSerializer(_duration_dict),
]


def _not_a_setting(value: Any) -> Any:
    raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")


_T = TypeVar("_T")

# A model attribute that is no key of the document: worked out by the cross-checks (a type status's
# state), or belonging to another module (a lead's competitors on a service request type). It keeps its
# default, is left out of the dump and the JSON Schema, and a document that gives it gets the same answer as
# for any unknown key.
NotASetting = SkipJsonSchema[Annotated[_T, BeforeValidator(_not_a_setting), Field(exclude=True)]]


def _at_least_one(value: Any) -> Any:
    if isinstance(value, list | tuple) and not value:
        raise PydanticCustomError("too_short", "List should have at least 1 item", {"min_length": 1})
    return value


# A list that must not be empty. Not Field(min_length=1): on a tuple pydantic checks the length after
# dropping the entries that failed, so one bad type would also report "define at least one type".
NonEmpty = Annotated[_T, BeforeValidator(_at_least_one), Field(json_schema_extra={"minItems": 1})]


# --- collecting problems ---------------------------------------------------------------------------------


@dataclass
class Review:
    """One cross-check round over a well-shaped document: the problems found so far and the module-wide
    facts the checks of its parts refer to (filled in as the sections are checked, statuses first)."""

    module: str
    activity_type_codes: Collection[str] | None = None
    problems: list[dict[str, str]] = field(default_factory=list)
    status_states: dict[str, str] = field(default_factory=dict)
    # Statuses defined with a wrong state: already reported once, so types naming them stay quiet.
    misconfigured_statuses: set[str] = field(default_factory=set)
    list_codes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a module list's name -> codes

    @property
    def label(self) -> str:
        return MODULE_LABELS[self.module]

    @property
    def a_label(self) -> str:
        return with_article(self.label)

    def problem(self, location: str, message: str) -> None:
        self.problems.append({"location": location, "message": message})

    def codes(self, list_name: str) -> tuple[str, ...]:
        return self.list_codes.get(list_name, ())

    def distinct(self, where: str, values: Iterable[str]) -> tuple[str, ...]:
        """The values in order, each reported when listed a second time."""
        kept: list[str] = []
        for k, value in enumerate(values):
            if value in kept:
                self.problem(f"{where}[{k}]", f"'{value}' is listed twice.")
            else:
                kept.append(value)
        return tuple(kept)

    def repeated(self, keys: Iterable[str]) -> dict[int, int]:
        """For each entry whose key (compared case-insensitively) an earlier entry has: its index -> the
        earlier entry's index. Blank keys are never repeats."""
        first: dict[str, int] = {}
        repeats: dict[int, int] = {}
        for i, key in enumerate(keys):
            if not key:
                continue
            folded = key.casefold()
            if folded in first:
                repeats[i] = first[folded]
            else:
                first[folded] = i
        return repeats

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigurationProblems(self.problems)


# --- wording pydantic's errors ---------------------------------------------------------------------------


def shape_problems(errors: Iterable[Mapping[str, Any]], module: str) -> list[dict[str, str]]:
    return [{"location": _location(e["loc"]), "message": _shape_message(e, module)} for e in errors]


def _location(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself was wrong"; the key is already in loc
            continue
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _shape_message(error: Mapping[str, Any], module: str) -> str:
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx", {})
    key = next((str(p) for p in reversed(loc) if isinstance(p, str) and p != "[key]"), "value")
    match kind:
        case "missing":
            return f"'{key}' is required."
        case "extra_forbidden":
            label = with_article(MODULE_LABELS[module])
            if len(loc) == 1:
                return f"'{key}' is not a setting of {label} configuration."
            if len(loc) == 3 and loc[0] == "types":
                return f"'{key}' is not a setting of {label} type."
            return f"'{key}' is not a setting here."
        case "string_too_short":
            return "Must not be blank."
        case "string_too_long":
            return f"Must be at most {ctx['max_length']} characters long."
        case "too_short":
            return (
                f"Needs at least {ctx['min_length']} entry."
                if key != "types"
                else "Define at least one type."
            )
        case "literal_error":
            return f"{_shown(error['input'])} is not allowed here; use {ctx['expected']}."
        case "int_type" | "int_parsing" | "int_from_float":
            return "Must be a whole number."
        case "bool_type" | "bool_parsing":
            return "Must be true or false."
        case "string_type":
            return "Must be text."
        case "list_type" | "tuple_type":
            return "Must be a list."
        case "dict_type" | "model_type" | "model_attributes_type":
            return "Must be an object."
        case "greater_than_equal":
            return f"Must be at least {ctx['ge']}."
        case "less_than_equal":
            return f"Must be at most {ctx['le']}."
        case "value_error":
            return str(ctx["error"])
    return f"{error['msg']}."
