"""Links from emails: an approver's (/approvals/<token>) and a contact's, to accept or refuse an answer
(/acceptances/<token>). GET shows a confirm page and changes nothing (mail scanners and link previews open
links); POST decides. The token in the path is the credential: random, stored hashed, single use."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from casework.domain.errors import DomainError
from casework.http.api import STATUS_FOR
from casework.http.wiring import acceptance_links, case_service

# The page needs nothing from anywhere else: no scripts, only inline styles, forms post back to itself.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
}
MAX_FORM_BYTES = 16_384


def _html(texts: dict[int, str]) -> dict[int, dict]:
    return {
        status: {"description": text, "content": {"text/html": {"schema": {"type": "string"}}}}
        for status, text in texts.items()
    }


HTML = _html(
    {
        200: "The page",
        404: "Unknown link",
        410: "Link used, expired, or the approval is no longer pending",
        422: "Decision missing, or a rejection without a comment",
    }
)
ACCEPTANCE_HTML = _html(
    {
        200: "The page",
        404: "Unknown link",
        410: "Link used, expired, or the answer is no longer waiting for acceptance",
        422: "Decision missing or not accept/refuse, or a comment too long",
    }
)


@cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("casework", "templates/pages"), autoescape=True, undefined=StrictUndefined
    )


def render(status: int, template: str, **context: Any) -> Response:
    html = _templates().get_template(template).render(**context)
    return Response(status, "text/html; charset=utf-8", html, headers=PAGE_HEADERS)


def _error_page(exc: DomainError, template: str = "error.html.j2") -> Response:
    return render(STATUS_FOR[exc.kind], template, code=exc.code, message=exc.message)


def _form(body: str | None) -> dict[str, str]:
    if body and len(body) > MAX_FORM_BYTES:
        return {}
    return {k: v[0] for k, v in parse_qs(body or "", keep_blank_values=True).items()}


def approval_link_routes(router: Router) -> None:
    no_auth = {"security": []}  # Powertools drops a falsy security=[]: set the operation's field directly

    @router.get(
        "/approvals/<token>",
        tags=["approval links"],
        openapi_extensions=no_auth,
        responses=HTML,
        summary="Confirm page for an approval link (changes nothing)",
    )
    def show(token: str):
        try:
            page = case_service().approval_page(token)
        except DomainError as exc:
            return _error_page(exc)
        return render(200, "approval.html.j2", error=None, comment="", **page)

    @router.post(
        "/approvals/<token>",
        tags=["approval links"],
        openapi_extensions=no_auth,
        responses=HTML,
        summary="Decide through an approval link (form: decision=approve|reject, comment)",
    )
    def decide(token: str):
        form = _form(router.current_event.decoded_body)
        decision, comment = form.get("decision", ""), form.get("comment", "")
        try:
            result = case_service().decide_by_token(token, decision=decision, comment=comment)
        except DomainError as exc:
            if exc.kind.value == "invalid":  # let the approver fix the form on the same page
                try:
                    page = case_service().approval_page(token)
                except DomainError as again:
                    return _error_page(again)
                return render(
                    STATUS_FOR[exc.kind], "approval.html.j2", error=exc.message, comment=comment, **page
                )
            return _error_page(exc)
        return render(200, "decided.html.j2", **result)


def acceptance_link_routes(router: Router) -> None:
    """The contact's link to accept or refuse a response or resolution (no login: the link is the
    credential). Same rules as approval links; an approval link's token is unknown here."""
    no_auth = {"security": []}

    def error_page(exc: DomainError) -> Response:
        return _error_page(exc, "acceptance_error.html.j2")

    @router.get(
        "/acceptances/<token>",
        tags=["acceptance links"],
        openapi_extensions=no_auth,
        responses=ACCEPTANCE_HTML,
        summary="Confirm page for an acceptance link (changes nothing)",
    )
    def show_acceptance(token: str):
        try:
            page = acceptance_links().page(token)
        except DomainError as exc:
            return error_page(exc)
        return render(200, "acceptance.html.j2", error=None, comment="", **page)

    @router.post(
        "/acceptances/<token>",
        tags=["acceptance links"],
        openapi_extensions=no_auth,
        responses=ACCEPTANCE_HTML,
        summary="Accept or refuse through an acceptance link (form: decision=accept|refuse, comment)",
    )
    def decide_acceptance(token: str):
        form = _form(router.current_event.decoded_body)
        decision, comment = form.get("decision", ""), form.get("comment", "")
        links = acceptance_links()
        try:
            result = links.decide(token, decision=decision, comment=comment)
        except DomainError as exc:
            if exc.kind.value == "invalid":  # let the contact fix the form on the same page
                try:
                    page = links.page(token)
                except DomainError as again:
                    return error_page(again)
                return render(
                    STATUS_FOR[exc.kind], "acceptance.html.j2", error=exc.message, comment=comment, **page
                )
            return error_page(exc)
        return render(200, "acceptance_decided.html.j2", **result)
