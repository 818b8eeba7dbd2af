"""Notes and communications: what people write on a case (shared notes) and to its contact (an email sent
through the outbox, kept on the case). Neither changes the case itself."""

from __future__ import annotations

from typing import Any

from casework.domain.errors import Conflict, Forbidden, ValidationFailed
from casework.domain.model import timestamp
from casework.domain.views import CommunicationView, NoteView
from casework.domain.visibility import is_admin
from casework.domain.workflow import COMMUNICATION_REQUESTED
from casework.services.case_context import CaseContext, event_beside
from casework.services.ports import Communication, Note


class CaseNotes(CaseContext):
    def add_note(self, username: str, case_id: str, text: Any) -> NoteView:
        actor = self.actor(username)
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("MISSING_FIELDS", "A note needs some text.", {"fields": ["text"]})
        if len(text) > 10_000:
            raise ValidationFailed(
                "INVALID_FIELDS", "A note is at most 10000 characters.", {"fields": ["text"]}
            )
        case, defn, _unit = self._load_visible(actor, case_id)
        if defn.is_terminal(case.status) and not defn.notes_when_closed:
            raise Conflict(
                "CASE_CLOSED",
                f"This {defn.title} is closed ({case.status}) and takes no more notes.",
                {"status": case.status, "state": case.state},
            )
        at = timestamp(self.clock())
        note = Note(id=self.new_id(), case_id=case.id, text=text.strip(), author=actor.username, at=at)
        event = event_beside(case, defn, "NoteAdded", f"note:{note.id}", actor, at, {"note_id": note.id})
        self.repo.add_note(note, event)
        return NoteView(id=note.id, case_id=case.id, text=note.text, author=note.author, at=note.at)

    def communicate(
        self,
        username: str,
        case_id: str,
        *,
        subject: str | None = None,
        text: str | None = None,
        template: str | None = None,
    ) -> CommunicationView:
        """Email the case's contact now (notify sends it from the outbox) and keep it on the case: who, when,
        to whom, what. ``template`` names one of the type's communications (see GET /case-types/{type}); its
        subject and text are the defaults, rendered with the case's tags when sent."""
        actor = self.actor(username)
        case, defn, _unit = self._load_visible(actor, case_id)
        involved = {case.assignee, case.created_by}
        if not (case.business_unit in actor.business_units or actor.username in involved or is_admin(actor)):
            raise Forbidden(
                "NOT_ALLOWED",
                f"Only members of {case.business_unit} and the people on the case write to its contact.",
            )
        chosen = None
        if template is not None:
            chosen = next(
                (
                    n
                    for n in defn.notifications
                    if n.template == template and n.subject is not None and n.body
                ),
                None,
            )
            if chosen is None:
                raise ValidationFailed(
                    "UNKNOWN_TEMPLATE",
                    f"{defn.title} has no communication template {template!r}.",
                    {"templates": [n.template for n in defn.notifications if n.subject is not None]},
                )
        subject = (subject or "").strip() or (chosen.subject if chosen else "") or ""
        text = (text or "").strip() or (chosen.body if chosen else "") or ""
        missing = [name for name, value in (("subject", subject), ("text", text)) if not value]
        if missing:
            raise ValidationFailed(
                "MISSING_FIELDS", f"A communication needs a {' and a '.join(missing)}.", {"fields": missing}
            )
        if not case.contact_id:
            raise ValidationFailed("NO_CONTACT", f"This {defn.title} has no contact to write to.")
        contact = self.directory.contact(case.contact_id, fresh=True) or {}
        if not contact.get("email"):
            raise ValidationFailed(
                "NO_CONTACT_EMAIL",
                f"Contact {case.contact_id} has no email address.",
                {"contact_id": case.contact_id},
            )
        communication = Communication(
            id=self.new_id(),
            case_id=case.id,
            contact_id=case.contact_id,
            to_name=str(contact.get("name") or case.contact_id),
            to_email=contact["email"],
            subject=subject,
            text=text,
            by=actor.username,
            at=timestamp(self.clock()),
            template=template,
            templated=chosen is not None,
        )
        event = event_beside(
            case,
            defn,
            COMMUNICATION_REQUESTED,
            f"communication:{communication.id}",
            actor,
            communication.at,
            {"communication_id": communication.id, "at": communication.at, "contact_id": case.contact_id},
        )
        self.repo.add_communication(communication, event)
        return CommunicationView.model_validate(communication.to_dict())
