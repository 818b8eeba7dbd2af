"""SMS as a second channel to the contact (seed 003 communications; issue 12 part 2).

A message goes to the contact's mobile number (a MOBILE phone first, else any) in E.164; a contact without a
valid number gets the email instead, and the case's history says so (``engine.record_undelivered``). Links
in an SMS are short: ``<base>/l/<token>``, 128 random bits (22 characters), single use like the email links
(GET shows the confirm page, POST decides), stored hashed like them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from casework.domain.customers import e164

MAX_SMS = 480  # three concatenated GSM segments: long enough for an answer and its link, short enough to read
_SPACE = re.compile(r"[ \t]+")


def short_token() -> str:
    return secrets.token_urlsafe(16)  # 128 bits, the floor DESIGN.md sets for link tokens


def mobile_number(contact: Mapping[str, Any]) -> str | None:
    """The contact's number to text, in E.164, or None when they have no valid one (records written before
    numbers were validated may hold anything)."""
    phones = [p for p in contact.get("phones") or () if isinstance(p, Mapping) and p.get("number")]
    phones.sort(key=lambda p: p.get("type") != "MOBILE")
    for phone in phones:
        try:
            return e164(str(phone["number"]), phone.get("country"))
        except ValueError:
            continue
    return None


def sms_text(subject: str, text: str, link: str = "") -> str:
    """One SMS: the subject, then the text, squeezed and cut to fit, the link (if any) whole at the end."""
    lines = [_SPACE.sub(" ", line).strip() for line in f"{subject}\n{text}".splitlines()]
    body = "\n".join(line for line in lines if line)
    room = MAX_SMS - (len(link) + 1 if link else 0)
    if len(body) > room:
        body = body[: room - 1].rstrip() + "…"
    return f"{body}\n{link}" if link else body
