"""The pages of case read models the routes answer (a case list, a case's history, notes, communications,
related entries), and ``page_as`` that builds one from a service's page. Apart from the request bodies
(casework.http.schemas) so that the customers function, which lists a customer's cases, does not import
the case routes' bodies at start.

Declared for a quick cold start, as casework.domain.views explains: ``defer_build=True`` on every model,
and no ``from __future__ import annotations``."""

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from casework.domain.views import CaseRow, CommunicationView, HistoryView, NoteView, RelatedEntry

if TYPE_CHECKING:
    from casework.services.ports import Page


class _Page(BaseModel):
    model_config = ConfigDict(defer_build=True)

    next_cursor: str | None = Field(None, description="Give it as ?cursor= for the next page; null: no more")


class CasePage(_Page):
    """A page of list rows: the short row of each case (its whole self is GET /cases/{id})."""

    items: list[CaseRow]


class HistoryPage(_Page):
    items: list[HistoryView]


class NotePage(_Page):
    items: list[NoteView]


class CommunicationPage(_Page):
    items: list[CommunicationView]


class RelatedPage(_Page):
    items: list[RelatedEntry]


PageModel = TypeVar("PageModel", CasePage, HistoryPage, NotePage, CommunicationPage, RelatedPage)


def page_as(model: type[PageModel], p: "Page[Any]") -> PageModel:
    """A page of read models, as its own response model documents it."""
    return model(items=p.items, next_cursor=p.next_cursor)
