"""Email out: Jinja2 templates (autoescaped HTML) rendered to subject, text and HTML, sent through SES.

Messages go out as raw MIME (multipart/alternative, text first) rather than SES "Simple" content: the same
message then reads well in every client, and the local stack (moto) keeps both parts for the mail viewer.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from typing import Any

MAX_SUBJECT = 200
_WHITESPACE = re.compile(r"\s+")
_TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Headers are generated unfolded up to RFC 5322's hard limit (998): Python's folder otherwise moves a long
# subject with quotes onto a continuation line, which some readers show with a leading space. Bodies keep
# their own transfer encoding, chosen when the parts are set (78-column default policy).
_WIRE = SMTP.clone(max_line_length=998)


def clean_subject(subject: str) -> str:
    """One line, no control characters: a user-supplied title can never inject a header."""
    text = "".join(ch if ch.isprintable() else " " for ch in subject)
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) > MAX_SUBJECT:
        text = text[: MAX_SUBJECT - 1].rstrip() + "…"
    return text


def build_message(sender: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = clean_subject(subject)
    message["From"] = sender
    message["To"] = to  # EmailMessage refuses CR/LF in header values
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class SesMailer:
    """Sends one message through SES v2. ``sender`` must be a verified identity (address or domain)."""

    def __init__(self, sender: str, client: Any = None) -> None:
        self.sender = sender
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # created on first use (cold start)
            import boto3
            from botocore.config import Config

            self._client = boto3.client("sesv2", config=Config(retries={"mode": "standard"}))
        return self._client

    def send(self, to: str, subject: str, text: str, html: str) -> str:
        """Send and return SES's message id."""
        message = build_message(self.sender, to, subject, text, html)
        response = self.client.send_email(
            FromEmailAddress=self.sender,
            Destination={"ToAddresses": [to]},
            Content={"Raw": {"Data": message.as_bytes(policy=_WIRE)}},
        )
        return response["MessageId"]


class EmailRenderer:
    """Renders ``email/<name>.subject.j2``, ``.txt.j2`` and ``.html.j2`` from the package's templates.

    HTML is autoescaped (``*.html.j2``), so values users typed (titles, descriptions, reasons) can never
    become markup; the text and subject templates are plain text. Undefined variables raise, so a template
    and its caller cannot silently drift apart.
    """

    def __init__(self, environment: Any = None) -> None:
        self._env = environment

    @property
    def env(self) -> Any:
        if self._env is None:
            from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

            self._env = Environment(
                loader=PackageLoader("casework", "templates"),
                autoescape=select_autoescape(["html", "html.j2"], default_for_string=True, default=False),
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
            )
        return self._env

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) for template ``name`` (a workflow definition's notification template)."""
        if not _TEMPLATE_NAME.match(name):
            raise ValueError(f"invalid email template name {name!r}")
        subject = self.env.get_template(f"email/{name}.subject.j2").render(context)
        text = self.env.get_template(f"email/{name}.txt.j2").render(context)
        html = self.env.get_template(f"email/{name}.html.j2").render(context)
        return clean_subject(subject), text, html
