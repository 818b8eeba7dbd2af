"""Activity rules: the one-time services an activity type provides and the time logged against them.

Services are billed on time spent, so completing an activity checks the log against the type: only the
type's services, every mandatory one present, nothing below its minimum, and fixed services at exactly
their minimum (the user cannot change those).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.domain.care.config import TypeConfig
from casework.domain.durations import minutes


class ServicesInvalid(ValueError):
    """The services logged on an activity cannot be accepted; ``problems`` lists each as
    ``{"product": code or None, "message": "..."}``."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__("; ".join(p["message"] for p in problems))


def auto_applied_services(type_cfg: TypeConfig) -> list[dict[str, Any]]:
    """The services a new activity of this type starts with, each at its minimum time spent."""
    return [
        {"product": s.product, "time_spent_minutes": minutes(s.minimum_time)}
        for s in type_cfg.services
        if s.auto_applied
    ]


def check_services_on_completion(
    type_cfg: TypeConfig,
    logged: list[dict[str, Any]],
    *,
    product_names: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The services to record when an activity of this type completes, or ``ServicesInvalid``.

    ``logged`` items are ``{"product": code, "time_spent_minutes": int}``. A fixed service may leave out its
    time (it is always its minimum); giving a different one is refused rather than silently replaced, so
    the user learns the log was not taken as entered. ``product_names`` (code -> name) only makes the
    messages friendlier.
    """
    names = product_names or {}

    def label(product: str) -> str:
        return names.get(product, product)

    problems: list[dict[str, Any]] = []
    recorded: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in logged:
        product = item.get("product") if isinstance(item, Mapping) else None
        if not isinstance(product, str) or not product:
            problems.append({"product": None, "message": "Each logged service needs a product."})
            continue
        try:
            service = type_cfg.service(product)
        except KeyError:
            problems.append({"product": product, "message": _not_provided(label(product), type_cfg)})
            continue
        if product in seen:
            problems.append(
                {"product": product, "message": f"{label(product)} is logged twice; log its total time once."}
            )
            continue
        seen.add(product)
        minimum = minutes(service.minimum_time)
        spent = item.get("time_spent_minutes")
        if spent is None and service.fixed:
            spent = minimum
        if isinstance(spent, bool) or not isinstance(spent, int) or spent < 0:
            problems.append(
                {
                    "product": product,
                    "message": f"{label(product)}: time spent must be a whole number of minutes, 0 or more.",
                }
            )
            continue
        if service.fixed and spent != minimum:
            problems.append(
                {
                    "product": product,
                    "message": f"{label(product)}: the time spent is fixed at {_spoken(minimum)} "
                    f"and cannot be changed ({_spoken(spent)} given).",
                }
            )
            continue
        if spent < minimum:
            problems.append(
                {
                    "product": product,
                    "message": f"{label(product)}: {_spoken(spent)} logged, "
                    f"at least {_spoken(minimum)} required.",
                }
            )
            continue
        recorded.append({"product": product, "time_spent_minutes": spent})
    for service in type_cfg.services:
        if service.mandatory and service.product not in seen:
            problems.append(
                {
                    "product": service.product,
                    "message": f"{label(service.product)} is mandatory for {type_cfg.name} "
                    "but was not logged.",
                }
            )
    if problems:
        raise ServicesInvalid(problems)
    return recorded


def _not_provided(product_label: str, type_cfg: TypeConfig) -> str:
    if not type_cfg.services:
        return f"{type_cfg.name} activities provide no services, so {product_label} cannot be logged."
    return f"{product_label} is not a service of {type_cfg.name} activities."


def _spoken(total_minutes: int) -> str:
    """ "1 minute", "45 minutes", "2 hours", "1 hour 30 minutes"."""
    hours, rest = divmod(total_minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)
