"""SMS to the contact: a rule's channels say email, SMS or both; an acceptance request texts a short
single-use link; a contact without a valid mobile number is emailed instead and the case's history says so."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from casework.services.link_tokens import hash_token
from casework.services.sms import MAX_SMS, mobile_number, sms_text
from tests.fakes import demo_data
from tests.unit.test_communications import World, inline, world

SHORT_LINK = re.compile(r"https://casework\.example/l/([A-Za-z0-9_-]{22})$")
ALICE_MOBILE = "+447911123456"


@dataclass
class Phone:
    """The SMS sender: keeps what would have gone out."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to_e164: str, text: str) -> str:
        self.sent.append((to_e164, text))
        return f"sms-{len(self.sent)}"


def texting_world(
    notifications: list[dict[str, Any]] | None = None, phones: Any = "mobile"
) -> tuple[World, Phone]:
    data = demo_data()
    mobile = [{"type": "MOBILE", "country": "GB", "number": "07911 123456"}]
    for contact in data["contacts"]:
        if contact["id"] == "CON-2001":
            contact["phones"] = mobile
    w = world(notifications, directory=data)
    if phones != "mobile":  # a number stored before numbers were checked: seeding would refuse it now
        w.directory.contacts["CON-2001"] = {**w.directory.contacts["CON-2001"], "phones": phones}
    phone = Phone()
    w.notifier.sms = phone
    return w, phone


def acceptance_by(channels: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "event": "AcceptanceRequested",
            "to": "contact",
            "template": "acceptance_requested",
            "channels": channels,
        }
    ]


def test_an_acceptance_request_texts_a_short_single_use_link() -> None:
    w, phone = texting_world(acceptance_by(["sms"]))
    w.register()
    w.respond()
    (event,) = w.events("AcceptanceRequested")

    assert w.notifier.handle(event) == ["contact:CON-2001"]

    assert w.mail.sent == []  # SMS only
    ((to, text),) = phone.sent
    assert to == ALICE_MOBILE  # stored as written (national), texted in E.164
    assert text.startswith("Please review our response: Router drops <Wi-Fi> (CR-1)\nFirmware 2.1 fixes it.")
    (raw,) = SHORT_LINK.findall(text.splitlines()[-1])
    token = w.repo.token(hash_token(raw))
    assert token is not None and (token.purpose, token.approver, token.round) == (
        "acceptance",
        "contact:CON-2001",
        1,
    )

    page = w.links.page(raw)  # the same confirm page as the email's link, and the same single use
    assert page.answer.category == "NEEDS_OK"
    assert w.links.decide(raw, "accept", None).decision == "accept"


def test_both_channels_send_both_each_with_its_own_link() -> None:
    w, phone = texting_world(acceptance_by(["email", "sms"]))
    w.register()
    w.respond()
    (event,) = w.events("AcceptanceRequested")
    w.notifier.handle(event)
    assert len(phone.sent) == 1 and len(w.mail.sent) == 1
    assert len(w.repo.tokens) == 2  # the email's long link and the SMS's short one, each single use


def test_a_contact_without_a_valid_mobile_is_emailed_and_the_history_says_so() -> None:
    w, phone = texting_world(acceptance_by(["sms"]), phones=[{"type": "MOBILE", "number": "12"}])
    w.register()
    w.respond()
    (event,) = w.events("AcceptanceRequested")
    version = w.case().version

    assert w.notifier.handle(event) == ["contact:CON-2001"]

    assert phone.sent == [] and [m["to"] for m in w.mail.sent] == ["alice@customer.example"]
    last = w.repo.history_of("CR-1")[-1]
    assert last.action == "sms_not_sent" and last.by == "system"
    assert "no valid mobile number" in last.comment and "Alice Brown" in last.comment
    assert w.case().version == version + 1


def test_inline_communications_go_by_their_channels() -> None:
    w, phone = texting_world([inline("contact", channels=["sms"])])
    w.register()
    w.respond(category="INFO")
    (event,) = w.events("CaseTransitioned")
    w.notifier.handle(event)
    assert w.mail.sent == []
    ((to, text),) = phone.sent
    assert to == ALICE_MOBILE and text.startswith("Update on CR-1: Router drops <Wi-Fi>\nDear Alice Brown,")


def test_mobile_numbers_prefer_a_valid_mobile() -> None:
    contact = {
        "phones": [
            {"type": "MAIN", "number": "+44 20 7946 0958"},
            {"type": "MOBILE", "number": "not a number"},
            {"type": "MOBILE", "country": "ES", "number": "600 100 200"},
        ]
    }
    assert mobile_number(contact) == "+34600100200"
    assert mobile_number({"phones": [{"number": "12"}]}) is None
    assert mobile_number({}) is None


def test_long_texts_are_cut_and_keep_their_link_whole() -> None:
    link = "https://casework.example/l/" + "x" * 22
    text = sms_text("Subject", "word " * 500, link)
    assert len(text) <= MAX_SMS and text.endswith("\n" + link) and "…" in text


def test_sms_is_configured_for_contact_communications_only_and_carries_the_acceptance_links() -> None:
    import copy

    import pytest

    from casework.domain.care.compile import compile_definition
    from casework.domain.care.config import InvalidConfiguration, parse_config
    from casework.workflows import default_configs, module_templates

    raw = copy.deepcopy(default_configs()["service_request"])  # the shipped one is cached: never mutate it
    faulty = next(t for t in raw["types"] if t["code"] == "FAULTY_ITEM")
    faulty["communications"][0]["channels"] = ["sms"]  # to the assignee: refused
    with pytest.raises(InvalidConfiguration) as refused:
        parse_config("service_request", raw)
    assert any(p["location"].endswith("communications[0].channels") for p in refused.value.problems)

    faulty["communications"][0]["channels"] = ["email"]
    faulty["communications"][2]["channels"] = ["email", "sms"]  # the resolution, to the contact
    config = parse_config("service_request", raw)
    defn = compile_definition(module_templates()["service_request"], config, "FAULTY_ITEM", 1)
    by_event = {(n.event, n.recipient): n.channels for n in defn.notifications}
    assert by_event[("AcceptanceRequested", "contact")] == ("email", "sms")
    assert by_event[("CaseAssigned", "assignee")] == ("email",)
