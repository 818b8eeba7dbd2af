"""After the work: the customer's feedback on a resolved case, and whether a product line's return is covered
(service requests)."""

from __future__ import annotations

from datetime import date

from casework.domain import engine
from casework.domain.errors import Conflict, NotFound, ValidationFailed
from casework.domain.model import timestamp
from casework.domain.views import CaseView, FeedbackView
from casework.services.case_context import CaseContext, event_beside
from casework.services.ports import Feedback, RelatedUpdate, SideWrites


class CaseFeedback(CaseContext):
    def check_return(
        self,
        username: str,
        case_id: str,
        product: str,
        *,
        coverage_reason: str,
        return_date: str,
        expected_version: int | None = None,
    ) -> CaseView:
        """Is a product line's return covered? By the coverage reason, within its return period from the
        warehouse issue date. The outcome is kept on the line and in the case's history."""
        from casework.domain.care.warranty import check_return

        actor = self.actor(username)
        case, defn, unit = self._load_visible(actor, case_id)
        self._check_version(case, expected_version)
        if self.configs is None or case.config_version is None:
            raise ValidationFailed("NOT_SUPPORTED", "Returns are checked on service requests only.")
        config, _ = self.configs.get(case.type, case.config_version)
        try:
            reason = config.coverage_reason(coverage_reason)
        except KeyError:
            raise ValidationFailed(
                "UNKNOWN_COVERAGE_REASON",
                f"{coverage_reason!r} is not a return coverage reason.",
                {"reasons": [r.code for r in config.return_coverage_reasons]},
            ) from None
        line = self.repo.related_entry(case_id, "products", product)
        if line is None:
            raise NotFound("NOT_LINKED", f"{product} is not in the products of this case.")
        issued = line.get("warehouse_issue_date")
        if not issued:
            raise ValidationFailed(
                "MISSING_FIELDS",
                "The product line has no warehouse issue date; a return cannot be checked without it.",
                {"fields": ["warehouse_issue_date"]},
            )
        try:
            result = check_return(reason, date.fromisoformat(issued), date.fromisoformat(return_date))
        except ValueError as exc:
            raise ValidationFailed("INVALID_FIELDS", str(exc), {"fields": ["return_date"]}) from None
        result = {**result, "return_date": return_date}
        change = engine.record_check(
            defn,
            case,
            actor,
            unit,
            kind="products",
            key=product,
            check="return",
            result=result,
            now=self.clock(),
        )
        side = SideWrites(related_updates=[RelatedUpdate("products", product, {"return": result})])
        self.repo.commit(change, side)
        return self.view(change.case, actor, defn, unit)

    def give_feedback(self, username: str, case_id: str, *, rating: int, comment: str | None) -> FeedbackView:
        """The customer's rating (1-5) and comment, once per case, once it is resolved."""
        actor = self.actor(username)
        case, defn, _unit = self._load_visible(actor, case_id)
        if case.state not in defn.feedback_states:
            raise Conflict(
                "FEEDBACK_NOT_OPEN",
                f"Feedback is taken once the {defn.title} is resolved.",
                {"state": case.state, "states": list(defn.feedback_states)},
            )
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise ValidationFailed("INVALID_FIELDS", "rating must be 1 to 5.", {"fields": ["rating"]})
        at = timestamp(self.clock())
        feedback = Feedback(case.id, rating, (comment or "").strip() or None, actor.username, at)
        event = event_beside(
            case,
            defn,
            "FeedbackGiven",
            "feedback",
            actor,
            at,
            # unit and assignee as they were then: the feedback summary counts them from the event alone
            {
                "rating": rating,
                "comment": feedback.comment,
                "business_unit": case.business_unit,
                "assignee": case.assignee,
            },
        )
        self.repo.save_feedback(feedback, event)
        return FeedbackView(
            case_id=case.id, rating=rating, comment=feedback.comment, given_by=actor.username, at=at
        )

    def feedback(self, username: str, case_id: str) -> FeedbackView:
        self._load_visible(self.actor(username), case_id)
        given = self.repo.feedback(case_id)
        if given is None:
            raise NotFound("NO_FEEDBACK", "No feedback has been given on this case.")
        return FeedbackView.model_validate(given)
