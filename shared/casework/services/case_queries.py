"""Reads of cases: one case as its reader sees it, the lists of cases, and a case's own lists (history,
related entries, notes, communications), each as typed read models (casework.domain.views)."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from pydantic import BaseModel

from casework.domain.errors import NotFound, ValidationFailed
from casework.domain.views import (
    CaseRow,
    CaseView,
    CommunicationView,
    HistoryView,
    NoteView,
    RelatedEntry,
    dates_view,
)
from casework.domain.visibility import is_admin, list_scope
from casework.services.case_context import MAX_PAGE, CaseContext
from casework.services.ports import CaseQuery, Page

Model = TypeVar("Model", bound=BaseModel)


def typed_page(model: type[Model], page: Page) -> Page[Model]:
    """A page of stored bodies as read models (validated: what was stored is what the API promises)."""
    return Page([model.model_validate(item) for item in page.items], page.next_cursor)


class CaseQueries(CaseContext):
    def get(self, username: str, case_id: str) -> CaseView:
        actor = self.actor(username)
        case, defn, unit = self._load_visible(actor, case_id)
        return self.view(case, actor, defn, unit)

    def list_cases(self, username: str, query: CaseQuery) -> Page[CaseRow]:
        actor = self.actor(username)
        if query.assignee == "me":
            query = CaseQuery(**{**query.__dict__, "assignee": actor.username})
        if not 1 <= query.limit <= MAX_PAGE:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        if query.type is not None:
            self.workflows.get(query.type)  # NotFound for an unknown type, rather than an empty list
        own = query.assignee == actor.username  # one's own assignments are all visible: no rule to resolve
        company_types = frozenset() if own else self._company_types(query.type)
        every_unit = is_admin(actor) or bool(company_types)
        scope = list_scope(actor, company_types, self.directory.unit_codes() if every_unit else ())
        page = self.repo.list_cases(replace(query, scope=scope))
        now = self.clock()
        # overdue is a matter of when you look
        rows = [
            row.model_copy(update={"dates": dates_view(row.dates.model_dump(), row.created_at, now)})
            for row in page.items
        ]
        return Page(rows, page.next_cursor)

    def _company_types(self, only: str | None) -> frozenset[str]:
        """The case types whose (latest) definition makes them visible company-wide."""
        from casework.workflows import module_templates, shipped

        names = (only,) if only else (*shipped(), *module_templates())
        return frozenset(n for n in names if self._latest_visibility(n) == "company")

    def _latest_visibility(self, name: str) -> str:
        try:
            return self.workflows.get(name).visibility
        except (NotFound, ValidationFailed):  # a shipped type this installation has not seeded or configured
            return "unit"

    # A case's lists (history, notes, related, communications) are a GetItem of the case (is it there, may
    # the caller see it: else 404) and one Query of its entries. The case item must be read because who may
    # see it is recorded on it; its children share its partition but not a contiguous key range with it.

    @staticmethod
    def _page_limit(limit: int) -> int:
        if limit < 1:
            raise ValidationFailed("INVALID_LIMIT", f"limit must be between 1 and {MAX_PAGE}.")
        return min(limit, MAX_PAGE)

    def _if_visible(self, username: str, case_id: str, model: type[Model], page: Page) -> Page[Model]:
        """The page, if the caller may see its case (read after the page, so a bad cursor is a 400 first)."""
        self._load_visible(self.actor(username), case_id)
        return typed_page(model, page)

    def history(
        self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page[HistoryView]:
        page = self.repo.history(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, HistoryView, page)

    def related(
        self, username: str, case_id: str, kind: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page[RelatedEntry]:
        page = self.repo.related(case_id, kind, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, RelatedEntry, page)

    def communications(
        self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page[CommunicationView]:
        page = self.repo.communications(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, CommunicationView, page)

    def notes(
        self, username: str, case_id: str, cursor: str | None = None, limit: int = MAX_PAGE
    ) -> Page[NoteView]:
        page = self.repo.notes(case_id, cursor, self._page_limit(limit))
        return self._if_visible(username, case_id, NoteView, page)
