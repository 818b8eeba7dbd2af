"""The answer a contact is asked to accept: a service request's response or resolution, as the acceptance
email and the acceptance page show it. Plain dataclasses: the notify function builds it without pydantic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from casework.domain.model import Case
from casework.domain.workflow import WorkflowDefinition


@dataclass(frozen=True)
class AnswerField:
    name: str
    label: str
    value: Any


@dataclass(frozen=True)
class Answer:
    """The response or resolution waiting for the contact: its category and its text."""

    step: str
    label: str
    category: str | None
    category_label: str
    category_name: str | None
    text: str
    fields: list[AnswerField]


NO_ANSWER = Answer(step="", label="", category=None, category_label="", category_name="", text="", fields=[])


def answer_view(defn: WorkflowDefinition, case: Case) -> Answer:
    """The answer's text is the acceptance spec's watched fields other than the category field (a service
    request's ``response``, ``temporary_resolution`` or ``final_resolution``). Empty values when the status
    asks for no acceptance."""
    pending = case.acceptance
    status = defn.statuses.get(pending.status if pending else case.status)
    spec = status.acceptance if status else None
    if spec is None:
        return NO_ANSWER
    fields = [
        AnswerField(name=name, label=defn.fields[name].label if name in defn.fields else name, value=value)
        for name in spec.watch
        if name != spec.category_field and (value := case.value(name)) not in (None, "")
    ]
    category = defn.fields.get(spec.category_field)
    code = pending.category if pending else case.value(spec.category_field)
    return Answer(
        step=spec.step,
        label=spec.label,
        category=code,
        category_label=category.label if category else spec.category_field,
        category_name=category.choice_label(code) if category else code,
        text="\n\n".join(str(f.value) for f in fields),
        fields=fields,
    )
