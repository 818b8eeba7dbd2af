"""Email out: Jinja2 templates (autoescaped HTML) rendered to subject, text and HTML, sent through SES.

Two kinds of templates: the shipped ones (``templates/email``, trusted, strict about undefined names) and a
business's own communications (inline ``subject``/``body`` written by an administrator in the type
configuration). Those run in Jinja2's sandbox: no attribute starting with ``_``, no unsafe callables, ranges
and repetitions bounded; unknown tags render empty. Their text is plain; the HTML part is that text escaped,
line breaks kept, inside the shipped layout.

Messages go out as raw MIME (multipart/alternative, text first) rather than SES "Simple" content: the same
message then reads well in every client, and the local stack (moto) keeps both parts for the mail viewer.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from functools import cache, lru_cache
from typing import Any

from casework.adapters.aws_client import LazyClient

MAX_SUBJECT = 200
MAX_INLINE_SOURCE = 20_000  # characters of an administrator's subject or body template
MAX_REPEAT = 100_000  # longest string or list a sandboxed template may build with *
MAX_EXPONENT = 100
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

    client = LazyClient("sesv2", standard_retries=True)

    def __init__(self, sender: str, client: Any = None) -> None:
        self.sender = sender
        self._client = client

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
        self._inline_html: Any = None

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

    def render_inline(self, subject: str, body: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) from a business's own templates (see the module's docstring). Raises
        InlineTemplateError (a ValueError) when they cannot be rendered."""
        return self.render_message(
            render_sandboxed(subject, context), render_sandboxed(body, context), context
        )

    def render_message(self, subject: str, text: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, text, html) of a message as a person wrote it: nothing in it is a template."""
        subject_text = clean_subject(subject)
        if self._inline_html is None:
            self._inline_html = self.env.from_string(_INLINE_HTML)
        html = self._inline_html.render({**context, "subject": subject_text, "body_html": text_to_html(text)})
        return subject_text, text, html


class InlineTemplateError(ValueError):
    """A business's own communication template cannot be rendered (bad syntax, a blocked access, ...).
    Retrying will not help: the caller logs it and skips that one email."""


@cache
def _sandbox() -> Any:
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Sandbox(ImmutableSandboxedEnvironment):
        """No "_" attributes, no unsafe callables, no changing the values it is given; bounded ranges."""

        intercepted_binops = frozenset({"*", "**"})  # the two that build something huge from a short template

        def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
            # Jinja2 renders a blocked attribute as an empty undefined value; refuse instead, so a template
            # that tries to reach Python internals is not sent half-rendered.
            raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                if not isinstance(right, int | float) or abs(right) > MAX_EXPONENT:
                    raise SecurityError("exponent too large")
                return left**right
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_REPEAT
                ):
                    raise SecurityError("repetition too large")
            return left * right

    return Sandbox(
        autoescape=False,  # plain text; the HTML part escapes it
        undefined=ChainableUndefined,  # {{ contact.nickname }} or {{ no.such.tag }} render empty
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=256)
def _inline_template(source: str) -> Any:
    return _sandbox().from_string(source)


def render_sandboxed(source: str, context: dict[str, Any]) -> str:
    """Render an administrator's template; InlineTemplateError whatever goes wrong."""
    if len(source) > MAX_INLINE_SOURCE:
        raise InlineTemplateError(f"the template is longer than {MAX_INLINE_SOURCE} characters")
    try:
        return _inline_template(source).render(context)
    except Exception as exc:  # an admin-written template can fail in any way; none of them is retryable
        raise InlineTemplateError(f"{type(exc).__name__}: {exc}") from exc


def text_to_html(text: str) -> Any:
    """Plain text as HTML: every character escaped, line breaks kept."""
    from markupsafe import Markup, escape

    return Markup("<br>\n").join(escape(line) for line in text.strip("\n").split("\n"))


# A business's own communication inside the shipped layout (its text is escaped before it gets here).
_INLINE_HTML = """{% extends "email/_base.html.j2" %}
{% block title %}{{ subject }}{% endblock %}
{% block content %}<div>{{ body_html }}</div>{% endblock %}
"""
