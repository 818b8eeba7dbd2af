"""Links from emails: an approver's (/approvals/<token>) and a contact's, to accept or refuse an answer
(/acceptances/<token>). GET shows a confirm page and changes nothing (mail scanners and link previews open
links); POST decides. The token in the path is the credential: random, stored hashed, single use."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from casework.domain.errors import DomainError
from casework.http.api import STATUS_FOR
from casework.http.wiring import acceptance_links, approval_links

if TYPE_CHECKING:  # the link services are imported by the first request that needs them
    from casework.services.email_links import LinkPage

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


def _html(texts: dict[int, str]) -> dict[int, OpenAPIResponse]:
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


def _link_routes(
    router: Router,
    *,
    path: str,
    what: str,
    responses: dict[int, OpenAPIResponse],
    load_page: Callable[[str], LinkPage],
    decide: Callable[..., LinkPage],
    choices: str,
    templates: tuple[str, str, str],
) -> None:
    """GET: the confirm page (changes nothing). POST: the decision; a form mistake shows the page again with
    the message, anything else an error page. Both kinds of email link follow exactly these rules."""
    page_template, decided_template, error_template = templates
    no_auth: dict[str, Any] = {"security": []}  # Powertools drops a falsy security=[]: set it directly

    def show(token: str):  # no return annotation: Powertools would read it as a response model
        try:
            page = load_page(token)
        except DomainError as exc:
            return _error_page(exc, error_template)
        return render(200, page_template, error=None, comment="", **dict(page))

    def post(token: str):
        form = _form(router.current_event.decoded_body)
        decision, comment = form.get("decision", ""), form.get("comment", "")
        try:
            result = decide(token, decision=decision, comment=comment)
        except DomainError as exc:
            if exc.kind.value != "invalid":
                return _error_page(exc, error_template)
            try:  # let them fix the form on the same page
                page = load_page(token)
            except DomainError as again:
                return _error_page(again, error_template)
            return render(
                STATUS_FOR[exc.kind], page_template, error=exc.message, comment=comment, **dict(page)
            )
        return render(200, decided_template, **dict(result))

    slug = what.replace(" ", "_")  # the names become OpenAPI operation ids
    show.__name__, post.__name__ = f"show_{slug}_link", f"decide_{slug}_link"
    tags = [f"{what} links"]
    router.get(
        path,
        summary=f"Confirm page for an {what} link (changes nothing)",
        tags=tags,
        openapi_extensions=no_auth,
        responses=responses,
    )(show)
    router.post(
        path,
        summary=f"Decide through an {what} link (form: {choices}, comment)",
        tags=tags,
        openapi_extensions=no_auth,
        responses=responses,
    )(post)


def approval_link_routes(router: Router) -> None:
    _link_routes(
        router,
        path="/approvals/<token>",
        what="approval",
        responses=HTML,
        load_page=lambda token: approval_links().approval_page(token),
        decide=lambda token, **form: approval_links().decide_by_token(token, **form),
        choices="decision=approve|reject",
        templates=("approval.html.j2", "decided.html.j2", "error.html.j2"),
    )


def acceptance_link_routes(
    router: Router, path: str = "/acceptances/<token>", what: str = "acceptance"
) -> None:
    """The contact's link to accept or refuse a response or resolution (no login: the link is the
    credential). An approval link's token is unknown here, and the other way round."""
    _link_routes(
        router,
        path=path,
        what=what,
        responses=ACCEPTANCE_HTML,
        load_page=lambda token: acceptance_links().page(token),
        decide=lambda token, **form: acceptance_links().decide(token, **form),
        choices="decision=accept|refuse",
        templates=("acceptance.html.j2", "acceptance_decided.html.j2", "acceptance_error.html.j2"),
    )


def short_link_routes(router: Router) -> None:
    """The short links of SMS (``/l/<token>``): an acceptance link with a 128-bit token, the same page and
    rules as the email's ``/acceptances/<token>``."""
    acceptance_link_routes(router, path="/l/<token>", what="SMS acceptance")
