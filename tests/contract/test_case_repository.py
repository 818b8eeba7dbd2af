"""casework.services.ports.CaseRepository: tests.fakes.InMemoryRepository and
casework.adapters.dynamo.DynamoCaseRepository (on moto) pass the same tests of behaviour."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from casework.adapters.dynamo import DynamoCaseRepository
from casework.domain.errors import BadRequest, Conflict, DomainError, Gone, NotFound
from casework.domain.model import Change, DomainEvent, timestamp
from casework.domain.visibility import ListScope
from casework.services.ports import (
    ApprovalToken,
    CaseQuery,
    CaseRepository,
    Communication,
    ConsumeToken,
    CounterDelta,
    CounterIsZero,
    Feedback,
    LinkRelated,
    Note,
    Page,
    RelatedUpdate,
    SideWrites,
)
from tests.contract.conftest import IMPLEMENTATIONS, implementation
from tests.fakes import InMemoryRepository
from tests.unit.engine_support import T0, Run

MARY = ListScope(username="mary", units=frozenset({"SP"}))
NOW_EPOCH = int(T0.timestamp())


@pytest.fixture(params=IMPLEMENTATIONS)
def repo(request: pytest.FixtureRequest) -> CaseRepository:
    return implementation(request, InMemoryRepository, DynamoCaseRepository)


def registered(repo: CaseRepository, case_id: str = "CSR-1", **fields: Any) -> Run:
    run = Run(case_id=case_id)
    repo.commit(run.register(**fields))
    return run


def edited(run: Run, title: str) -> Change:
    change = run.edit("mary", title=title)
    assert change is not None
    return change


def refusal(call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    return refused.value


def every_page(read: Any, limit: int) -> list[list[dict[str, Any]]]:
    """The pages a client gets by following next_cursor from the start."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        page: Page = read(cursor, limit)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 50, "the cursor never ends"


# --- a case: stored, read back, optimistic concurrency ------------------------------------------------------


def test_a_committed_case_reads_back_equal(repo: CaseRepository) -> None:
    run = registered(repo)
    run.link()
    repo.commit(run.changes[-1], SideWrites(links=[LinkRelated("products", "P-100", added=True)]))

    assert repo.get("CSR-1") == run.case
    assert repo.get("CSR-1").version == 2


def test_an_unknown_case_is_not_found(repo: CaseRepository) -> None:
    error = refusal(repo.get, "CSR-404")
    assert isinstance(error, NotFound) and error.code == "CASE_NOT_FOUND"


def test_a_new_case_with_a_taken_id_is_refused(repo: CaseRepository) -> None:
    registered(repo)
    again = Run(case_id="CSR-1").register(title="Another")

    error = refusal(repo.commit, again)

    assert isinstance(error, Conflict) and error.code == "CASE_EXISTS"
    assert repo.get("CSR-1").title == "Anti-static packaging"


def test_a_change_from_a_stale_version_is_refused_and_writes_nothing(repo: CaseRepository) -> None:
    run = registered(repo)
    first = edited(run, "First")
    stale = replace(edited(run, "Second"), expected_version=1)  # computed from version 1 too
    repo.commit(first)

    error = refusal(repo.commit, stale)

    assert isinstance(error, Conflict) and error.code == "CONCURRENT_UPDATE"
    assert repo.get("CSR-1").title == "First"
    assert [h["version"] for h in repo.history("CSR-1", None, 10).items] == [1, 2]


def test_a_change_of_a_case_that_is_gone_is_a_concurrent_update(repo: CaseRepository) -> None:
    """The service read the case, somebody deleted it, then the service commits: the table can only say the
    condition on the version failed, so both say CONCURRENT_UPDATE (409: reload)."""
    run = Run(case_id="CSR-1")
    run.register()

    error = refusal(repo.commit, edited(run, "Edited"))

    assert isinstance(error, Conflict) and error.code == "CONCURRENT_UPDATE"
    assert refusal(repo.get, "CSR-1").code == "CASE_NOT_FOUND"


# --- history ------------------------------------------------------------------------------------------------


def test_history_is_oldest_first_and_pages_follow_the_cursor(repo: CaseRepository) -> None:
    run = registered(repo)
    for title in ("Two", "Three", "Four", "Five"):
        repo.commit(edited(run, title))

    pages = every_page(lambda cursor, limit: repo.history("CSR-1", cursor, limit), limit=2)

    assert [[h["version"] for h in page] for page in pages][:3] == [[1, 2], [3, 4], [5]]
    everything = [h for page in pages for h in page]
    assert everything == repo.history("CSR-1", None, 10).items
    assert everything[1]["changes"]["title"] == {"from": "Anti-static packaging", "to": "Two"}
    assert everything[0]["by"] == "mary" and everything[0]["action"] == "registered"


def test_history_of_a_case_without_any_is_empty(repo: CaseRepository) -> None:
    assert repo.history("CSR-404", None, 10) == Page(items=[], next_cursor=None)


# --- side writes: all or nothing ----------------------------------------------------------------------------


def test_links_are_listed_by_key_with_who_added_them(repo: CaseRepository) -> None:
    run = registered(repo)
    links = [
        LinkRelated("products", "P-200", added=True, label="Two", details={"serial": "S2"}),
        LinkRelated("products", "P-100", added=True, label="One"),
    ]
    repo.commit(run.link(key="P-200"), SideWrites(links=links))

    listed = repo.related("CSR-1", "products", None, 10).items

    assert [(e["key"], e["label"]) for e in listed] == [("P-100", "One"), ("P-200", "Two")]
    entry = repo.related_entry("CSR-1", "products", "P-200")
    assert entry is not None
    assert entry["serial"] == "S2" and entry["kind"] == "products"
    assert (entry["added_by"], entry["added_at"]) == ("mary", timestamp(T0 + timedelta(hours=2)))
    assert repo.related_entry("CSR-1", "products", "P-999") is None
    assert repo.related("CSR-1", "accounts", None, 10).items == []


def test_a_duplicate_link_fails_the_whole_commit(repo: CaseRepository) -> None:
    run = registered(repo)
    repo.commit(run.link(), SideWrites(links=[LinkRelated("products", "P-100", added=True)]))
    change = run.link(key="P-200")
    side = SideWrites(
        links=[
            LinkRelated("products", "P-200", added=True),
            LinkRelated("products", "P-100", added=True),  # there already
        ]
    )

    error = refusal(repo.commit, change, side)

    assert isinstance(error, Conflict) and error.code == "ALREADY_LINKED"
    assert repo.get("CSR-1").version == 2
    assert [e["key"] for e in repo.related("CSR-1", "products", None, 10).items] == ["P-100"]
    assert len(repo.history("CSR-1", None, 10).items) == 2


def test_removing_or_updating_a_link_that_is_not_there_is_not_linked(repo: CaseRepository) -> None:
    run = registered(repo)
    removal = refusal(
        repo.commit, run.link(added=False), SideWrites(links=[LinkRelated("products", "P-100", added=False)])
    )
    update = refusal(
        repo.commit,
        run.changes[-1],
        SideWrites(related_updates=[RelatedUpdate("products", "P-100", {"checked": True})]),
    )

    for error in (removal, update):
        assert isinstance(error, NotFound) and error.code == "NOT_LINKED"
    assert repo.get("CSR-1").version == 1


def test_a_related_update_sets_values_and_keeps_the_rest(repo: CaseRepository) -> None:
    run = registered(repo)
    link = LinkRelated("products", "P-100", added=True, label="One", details={"serial": "S1", "qty": 2})
    repo.commit(run.link(), SideWrites(links=[link]))
    update = RelatedUpdate("products", "P-100", {"qty": 3, "checked": True})

    repo.commit(edited(run, "Checked"), SideWrites(related_updates=[update]))

    entry = repo.related_entry("CSR-1", "products", "P-100")
    assert entry is not None
    assert (entry["serial"], entry["qty"], entry["checked"], entry["label"]) == ("S1", 3, True, "One")


def test_a_guard_holds_while_its_counter_is_zero(repo: CaseRepository) -> None:
    run = registered(repo)
    guard = CounterIsZero("CSR-1", "open_activity", "OPEN_ACTIVITIES", "Complete the activities first.")
    repo.commit(edited(run, "Never counted"), SideWrites(guards=[guard]))
    repo.commit(edited(run, "Counted"), SideWrites(counters=[CounterDelta("CSR-1", "open_activity", 1)]))

    error = refusal(repo.commit, edited(run, "Guarded"), SideWrites(guards=[guard]))

    assert isinstance(error, Conflict) and error.code == "OPEN_ACTIVITIES"
    assert repo.get("CSR-1").title == "Counted"
    repo.commit(run.changes[-1], SideWrites(counters=[CounterDelta("CSR-1", "open_activity", -1)]))
    repo.commit(edited(run, "Free again"), SideWrites(guards=[guard]))
    assert repo.get("CSR-1").title == "Free again"


def test_closing_with_open_children_is_refused(repo: CaseRepository) -> None:
    run = registered(repo)
    repo.commit(edited(run, "Parent"), SideWrites(counters=[CounterDelta("CSR-1", "open_activity", 1)]))
    closing = replace(edited(run, "Closing"), closed_children=("activity",))

    error = refusal(repo.commit, closing)

    assert isinstance(error, Conflict) and error.code == "OPEN_CHILDREN"
    assert repo.get("CSR-1").title == "Parent"


def test_a_new_case_committed_beside_a_change_is_written_with_it_or_not_at_all(repo: CaseRepository) -> None:
    parent = registered(repo)
    taken = registered(repo, "CSR-2")
    child = Run(case_id="CSR-3").register(title="Child")

    repo.commit(edited(parent, "With child"), SideWrites(new_cases=[child]))
    error = refusal(repo.commit, edited(parent, "Twice"), SideWrites(new_cases=[taken.changes[0]]))

    assert repo.get("CSR-3").title == "Child"
    assert isinstance(error, Conflict) and error.code == "CASE_EXISTS"
    assert repo.get("CSR-1").title == "With child"


# --- approval links: single use, expiry ---------------------------------------------------------------------


def token(hash_: str = "h" * 64, expires_in: int = 3600, **values: Any) -> ApprovalToken:
    return ApprovalToken(
        token_hash=hash_,
        case_id="CSR-1",
        step="pre_approval",
        round=1,
        approver="john",
        expires_at=NOW_EPOCH + expires_in,
        **values,
    )


def consume(hash_: str = "h" * 64, now_epoch: int = NOW_EPOCH) -> SideWrites:
    return SideWrites(
        tokens=[ConsumeToken(hash_, used_at=timestamp(T0), now_epoch=now_epoch, decision="approve")]
    )


def test_a_saved_token_reads_back(repo: CaseRepository) -> None:
    saved = token(purpose="acceptance", on_behalf_of="peter")
    repo.save_token(saved)

    assert repo.token("h" * 64) == saved
    assert repo.token("x" * 64) is None


def test_a_token_is_used_once(repo: CaseRepository) -> None:
    run = registered(repo)
    repo.save_token(token())
    repo.commit(edited(run, "Decided"), consume())

    error = refusal(repo.commit, edited(run, "Decided again"), consume())

    assert isinstance(error, Gone) and error.code == "TOKEN_USED"
    used = repo.token("h" * 64)
    assert used is not None and (used.used_at, used.decision) == (timestamp(T0), "approve")
    assert repo.get("CSR-1").title == "Decided"


def test_an_expired_token_fails_the_commit(repo: CaseRepository) -> None:
    run = registered(repo)
    repo.save_token(token(expires_in=0))

    error = refusal(repo.commit, edited(run, "Too late"), consume())

    assert isinstance(error, Gone) and error.code == "TOKEN_EXPIRED"
    assert repo.get("CSR-1").version == 1
    assert repo.token("h" * 64).used_at is None  # type: ignore[union-attr]


def test_consuming_a_token_that_does_not_exist_is_refused_as_used(repo: CaseRepository) -> None:
    """A link whose record is gone (the table's TTL removed it) reads as used: the page that showed it was
    valid, so "already used" is the honest answer."""
    run = registered(repo)

    error = refusal(repo.commit, edited(run, "Ghost"), consume("g" * 64))

    assert isinstance(error, Gone) and error.code == "TOKEN_USED"
    assert repo.get("CSR-1").version == 1


# --- lists: filters, order, pages and cursors ---------------------------------------------------------------


@pytest.fixture
def runs(repo: CaseRepository) -> dict[str, Run]:
    """CSR-1..CSR-5 in SP by mary, a day apart (CSR-2 and CSR-4 submitted); CSR-3 on another account."""
    runs: dict[str, Run] = {}
    for n in range(1, 6):
        run = runs[f"CSR-{n}"] = Run(case_id=f"CSR-{n}")
        run.now += timedelta(days=n)
        repo.commit(run.register(account_id="ACC-2002" if n == 3 else "ACC-1001"))
        if n % 2 == 0:
            repo.commit(run.link(), SideWrites(links=[LinkRelated("products", "P-100", added=True)]))
            repo.commit(run.transition("mary", "Pending Pre-Approval"))
    return runs


@pytest.fixture
def five_cases(repo: CaseRepository, runs: dict[str, Run]) -> CaseRepository:
    return repo


def ids(page: Page) -> list[str]:
    return [c.id for c in page.items]


def test_lists_filter_by_type_status_assignee_and_account(five_cases: CaseRepository) -> None:
    def listed(**query: Any) -> list[str]:
        return sorted(ids(five_cases.list_cases(CaseQuery(scope=MARY, limit=25, **query))))

    assert listed() == ["CSR-1", "CSR-2", "CSR-3", "CSR-4", "CSR-5"]
    assert listed(type="csr", status="Pending Pre-Approval") == ["CSR-2", "CSR-4"]
    assert listed(status="Registration") == ["CSR-1", "CSR-3", "CSR-5"]
    assert listed(account_id="ACC-2002") == ["CSR-3"]
    assert listed(assignee="mary", account_id="ACC-1001") == ["CSR-1", "CSR-2", "CSR-4", "CSR-5"]
    assert listed(assignee="frank") == []
    assert listed(type="activity") == []


def test_lists_are_newest_first_and_pages_cover_each_case_once(
    five_cases: CaseRepository,
) -> None:
    def read(cursor: str | None, limit: int) -> Page:
        return five_cases.list_cases(CaseQuery(scope=MARY, cursor=cursor, limit=limit))

    pages = every_page(read, limit=2)

    listed = [c.id for page in pages for c in page]
    # by type, then newest first: the sort key of the unit and assignee indexes, read backwards
    assert listed == ["CSR-5", "CSR-4", "CSR-3", "CSR-2", "CSR-1"]
    assert all(len(page) <= 2 for page in pages)


def test_a_cursor_that_the_list_did_not_return_is_invalid(five_cases: CaseRepository) -> None:
    repo = five_cases
    run = registered(repo, "CSR-9")
    repo.commit(edited(run, "Two"))
    another_lists = repo.history("CSR-9", None, 1).next_cursor
    assert another_lists is not None
    for cursor in ("not-a-cursor", "1", another_lists):
        error = refusal(five_cases.list_cases, CaseQuery(scope=MARY, cursor=cursor, limit=2))
        assert isinstance(error, BadRequest) and error.code == "INVALID_CURSOR"


def test_open_cases_lists_only_the_open_cases_of_a_type_and_unit(
    five_cases: CaseRepository, runs: dict[str, Run]
) -> None:
    five_cases.commit(runs["CSR-3"].transition("mary", "Closed - Rejected", rejection_reason="Withdrawn"))

    pages = every_page(lambda cursor, limit: five_cases.open_cases("csr", "SP", cursor, limit), limit=2)

    assert sorted(c.id for page in pages for c in page) == ["CSR-1", "CSR-2", "CSR-4", "CSR-5"]
    assert five_cases.open_cases("csr", "CARE", None, 10).items == []
    assert five_cases.open_cases("activity", "SP", None, 10).items == []


# --- notes, communications, feedback ------------------------------------------------------------------------


def event(case_id: str, kind: str, n: int = 0) -> DomainEvent:
    return DomainEvent(
        id=f"{case_id}:{kind}:{n}",
        type=kind,
        case_id=case_id,
        case_type="csr",
        occurred_at=timestamp(T0),
        actor="mary",
        data={},
    )


def test_notes_are_listed_oldest_first(repo: CaseRepository) -> None:
    registered(repo)
    later = Note("N-2", "CSR-1", "Second", "john", timestamp(T0 + timedelta(minutes=5)))
    earlier = Note("N-1", "CSR-1", "First", "mary", timestamp(T0))
    repo.add_note(later, event("CSR-1", "NoteAdded", 2))
    repo.add_note(earlier, event("CSR-1", "NoteAdded", 1))

    pages = every_page(lambda cursor, limit: repo.notes("CSR-1", cursor, limit), limit=1)

    assert [n["text"] for page in pages for n in page] == ["First", "Second"]
    assert pages[0][0] == {
        "id": "N-1",
        "case_id": "CSR-1",
        "text": "First",
        "author": "mary",
        "at": earlier.at,
    }


def communication(n: int, minutes: int) -> Communication:
    return Communication(
        id=f"COM-{n}",
        case_id="CSR-1",
        contact_id="CON-1",
        to_name="Ann",
        to_email="ann@customer.example",
        subject=f"Subject {n}",
        text="Hello",
        by="mary",
        at=timestamp(T0 + timedelta(minutes=minutes)),
    )


def test_communications_are_recorded_listed_in_order_and_marked_sent(repo: CaseRepository) -> None:
    registered(repo)
    second, first = communication(2, 5), communication(1, 0)
    repo.add_communication(second, event("CSR-1", "CommunicationRequested", 2))
    repo.add_communication(first, event("CSR-1", "CommunicationRequested", 1))

    repo.communication_sent("CSR-1", "COM-1", first.at, sent_at=timestamp(T0), message_id="ses-1")

    assert [c["subject"] for c in repo.communications("CSR-1", None, 10).items] == ["Subject 1", "Subject 2"]
    sent = repo.communication("CSR-1", "COM-1", first.at)
    assert sent == {**first.to_dict(), "sent_at": timestamp(T0), "message_id": "ses-1"}
    assert repo.communication("CSR-1", "COM-2", second.at) == second.to_dict()
    assert repo.communication("CSR-1", "COM-1", second.at) is None  # recorded at another time: not this one


def test_feedback_is_given_once_per_case(repo: CaseRepository) -> None:
    registered(repo)
    first = Feedback("CSR-1", rating=4, comment="Quick", given_by="contact:CON-1", at=timestamp(T0))
    repo.save_feedback(first, event("CSR-1", "FeedbackGiven"))

    error = refusal(repo.save_feedback, replace(first, rating=1), event("CSR-1", "FeedbackGiven", 1))

    assert isinstance(error, Conflict) and error.code == "FEEDBACK_GIVEN"
    assert repo.feedback("CSR-1") == {
        "case_id": "CSR-1",
        "rating": 4,
        "comment": "Quick",
        "given_by": "contact:CON-1",
        "at": timestamp(T0),
    }
    assert repo.feedback("CSR-2") is None
