"""Tags in admin-written texts: the seed's ``#tag`` placeholders (seed 002/003: "tags are available for
selection by typing '#'"), e.g. ``Dear #contact_name, your request #case_number is #status.``

Admin-written texts are not template code: nothing in them is executed. ``render`` replaces the known tags by
the case's values (escaped for HTML when the text goes into an HTML mail) and leaves every other character
as written; ``unknown_tags`` lists what looks like a tag but is not one, so a text is refused when it is
saved rather than sent with a stray ``#contct_name`` in it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import Any

# ``#`` then a name; a name never starts with a digit, so "#42" or "issue #3" stay as written.
TAG = re.compile(r"#([A-Za-z_][A-Za-z0-9_]*)")


def _field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda case: (case.get("fields") or {}).get(name)


def _date(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda case: ((case.get("dates") or {}).get(name) or "")[:10] or None


# name -> (what it shows, how it is read from a case view (casework.services.cases.case_view) + extras)
TAGS: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "case_number": ("The case's number (its id)", lambda case: case.get("id")),
    "case_title": ("The case's title", lambda case: case.get("title")),
    "case_type": ("The case's type (e.g. FAULTY_ITEM)", lambda case: case.get("subtype") or case.get("type")),
    "status": ("The case's status", lambda case: case.get("status")),
    "state": ("The life-cycle state of that status", lambda case: case.get("state")),
    "priority": ("The case's priority", _field("priority")),
    "category": ("The case's category", _field("category")),
    "business_unit": ("The business unit that owns it", lambda case: case.get("business_unit")),
    "assignee": ("Who holds it (username)", lambda case: case.get("assignee")),
    "assignee_name": ("Who holds it (name)", lambda case: case.get("assignee_name")),
    "contact_name": ("The contact's name", lambda case: case.get("contact_name")),
    "contact_id": ("The contact's id", lambda case: case.get("contact_id")),
    "expected_completion": ("Expected completion date (YYYY-MM-DD)", _date("expected_completion_date")),
    "created_at": (
        "When the case was created (YYYY-MM-DD)",
        lambda case: (case.get("created_at") or "")[:10],
    ),
}


def tag_list() -> list[dict[str, str]]:
    """The tags a text may use, as GET /case-types/{type} lists them."""
    return [{"tag": f"#{name}", "description": label} for name, (label, _) in TAGS.items()]


def unknown_tags(text: str) -> list[str]:
    """Every ``#name`` in ``text`` that is not a known tag, in order, once each."""
    seen: list[str] = []
    for match in TAG.finditer(text):
        if match.group(1) not in TAGS and f"#{match.group(1)}" not in seen:
            seen.append(f"#{match.group(1)}")
    return seen


def render(text: str, case: Mapping[str, Any], *, for_html: bool = False) -> str:
    """``text`` with each known tag replaced by the case's value (empty when it has none); unknown ``#words``
    stay as written. ``for_html``: the whole text is escaped, values included (a contact named
    ``<script>`` stays text)."""

    def value(match: re.Match[str]) -> str:
        spec = TAGS.get(match.group(1))
        if spec is None:
            return match.group(0)
        found = spec[1](case)
        return "" if found is None else str(found)

    rendered = TAG.sub(value, text)
    return html.escape(rendered) if for_html else rendered
