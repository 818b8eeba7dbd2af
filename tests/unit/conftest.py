"""Every unit test that drives the engine and services through the in-memory fakes also checks the events
they emit against the event catalogue (casework.events.catalogue): an event type, or a field, that the
engine starts to emit without a catalogued model fails the test that emitted it, not only the catalogue's
own stories."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import InMemoryRepository


@pytest.fixture(autouse=True)
def emitted_events_are_catalogued(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from casework.events.catalogue import uncatalogued_fields, validate

    repositories: list[InMemoryRepository] = []
    original = InMemoryRepository.__init__

    def tracked(self: InMemoryRepository) -> None:
        original(self)
        repositories.append(self)

    monkeypatch.setattr(InMemoryRepository, "__init__", tracked)
    yield
    problems = []
    for repo in repositories:
        for event in repo.outbox:
            try:
                extra = uncatalogued_fields(validate(event.to_dict()))
            except (LookupError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
                problems.append(f"{event.id} {event.type}: {exc}")
            else:
                if extra:
                    problems.append(f"{event.id} {event.type}: not in the catalogue: {extra}")
    assert not problems, "events the catalogue does not describe (docs/events/README.md):\n" + "\n".join(
        problems
    )
