"""Who sees a case. Pure: the rule is data in the workflow definition (``"visibility": {"scope": ...}``) and
the facts the case records about itself (its unit, the people on it, the units it passed through).

A case of a "unit"-scoped type is visible to
- the members of its business unit,
- the people on it: creator, assignees (current and past), approvers asked, assignees of activities
  scheduled from it (``Case.involved``),
- the members of the units it was routed or reassigned through (``Case.units_seen``),
- Admins.
A case of a "company"-scoped type is visible to every active user.

Whoever cannot see a case is told it does not exist (404 CASE_NOT_FOUND), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from casework.domain.error_codes import ErrorCode
from casework.domain.errors import NotFound
from casework.domain.model import Actor, Case
from casework.domain.workflow import WorkflowDefinition

ADMIN = "Admin"


def can_see(defn: WorkflowDefinition, case: Case, actor: Actor) -> bool:
    if defn.visibility == "company" or ADMIN in actor.roles:
        return True
    if case.business_unit in actor.business_units or actor.username in case.involved:
        return True
    # old items, written before cases recorded their people: the creator and the assignee still count
    if actor.username in (case.created_by, case.assignee):
        return True
    return bool(case.units_seen & actor.business_units)


def not_found(case_id: str) -> NotFound:
    """The one answer for an unknown case and an invisible one: the same code, message and details."""
    return NotFound(ErrorCode.CASE_NOT_FOUND, f"Case {case_id} does not exist.", {"case_id": case_id})


def ensure_visible(defn: WorkflowDefinition, case: Case, actor: Actor) -> None:
    if not can_see(defn, case, actor):
        raise not_found(case.id)


def with_involvement(case: Case, *people: str | None) -> Case:
    """The case, having also recorded who is on it now (creator, assignee, approvers asked, and ``people``)
    and the unit it is in. Only grows, so whoever was on a case keeps seeing it."""
    approvers = tuple(case.approval.decisions) if case.approval else ()
    names = {case.created_by, case.assignee, *approvers, *people} - {None}
    involved = case.involved | frozenset(n for n in names if n)
    units = case.units_seen | {case.business_unit}
    if involved == case.involved and units == case.units_seen:
        return case
    return replace(case, involved=involved, units_seen=units)


@dataclass(frozen=True)
class ListScope:
    """What a list may return to one caller: the cases of their units, of the company-wide types (from every
    unit), and the cases they are on. Admins see everything. The list indexes are keyed by unit and by
    assignee, so a list Queries exactly these partitions (casework.adapters.dynamo.list_cases)."""

    username: str
    units: frozenset[str]
    company_types: frozenset[str] = frozenset()
    everything: bool = False
    all_units: frozenset[str] = frozenset()  # the directory's units: read only for Admins and company types

    def admits(self, case: Case) -> bool:
        """The same rule as ``can_see``, with the definitions' scopes already resolved to type names."""
        return (
            self.everything
            or case.type in self.company_types
            or case.business_unit in self.units
            or self.username in case.involved
            or self.username in (case.created_by, case.assignee)
            or bool(case.units_seen & self.units)
        )


def list_scope(actor: Actor, company_types: frozenset[str], all_units: Iterable[str] = ()) -> ListScope:
    return ListScope(
        username=actor.username,
        units=frozenset(actor.business_units),
        company_types=company_types,
        everything=is_admin(actor),
        all_units=frozenset(all_units),
    )


def is_admin(actor: Actor) -> bool:
    return ADMIN in actor.roles


# Customers and contacts: the people who deal with customers see every customer (a CRM's sales, service and
# care staff look customers up before any case exists); the others (supply chain, technical teams) see none:
# for them a customer or contact by id is unknown (404), and searching is not allowed (403).
CUSTOMER_ROLES = frozenset(
    {
        "Sales Rep",
        "Sales Manager",
        "Customer Service",
        "Care Agent",
        "Team Lead",
        "Field Technician",
        ADMIN,
    }
)


def may_see_customers(actor: Actor) -> bool:
    return bool(CUSTOMER_ROLES & actor.roles)
