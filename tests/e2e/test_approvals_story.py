"""Approvals that survive holidays over HTTP on the local stack (issue 8): John is away and names Susan; Mary
submits, recalls and submits again; two days on, the reminder emails both once; Susan decides for John from
the reminder's fresh link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import LINK, Api


def test_a_holiday_delegate_a_recall_and_a_reminder(api: Api) -> None:
    today = datetime.now(UTC).date()
    delegation = {
        "delegate": "susan",
        "from": today.isoformat(),
        "until": (today + timedelta(days=7)).isoformat(),
    }
    api.ok("PUT", "/users/me/delegation", "john", json=delegation)
    try:
        case = api.submitted_csr()
        case_id, title = case["id"], case["title"]
        first = api.link("susan@casework.example", title, kind="approvals")
        api.link("john@casework.example", title, kind="approvals")

        api.error("POST", f"/cases/{case_id}/recall", "john", 403, "NOT_SUBMITTER", json={})
        recalled = api.ok("POST", f"/cases/{case_id}/recall", "mary", json={"comment": "Wrong grade"})
        assert recalled["status"] == "Registration"
        assert api.call("GET", first).status_code == 410
        told = api.wait_mail_about("susan@casework.example", "Approval recalled", 1)
        assert told and title in told[0]["text"]

        api.ok("POST", f"/cases/{case_id}/transitions", "mary", json={"to": "Pending Pre-Approval"})
        run = api.http.post(f"{api.base}/_dev/remind", json={"hours_later": 49}, timeout=30).json()
        assert run["sent"] >= 2 and run["failed"] == 0
        again = api.http.post(f"{api.base}/_dev/remind", json={"hours_later": 49}, timeout=30).json()
        assert again["sent"] == 0 and again["already_sent"] >= 2

        reminders = [
            m for m in api.mail_about("susan@casework.example", title) if m["subject"].startswith("Reminder")
        ]
        assert len(reminders) == 1 and "delegate of John Supply" in reminders[0]["text"]
        fresh = "/approvals/" + LINK.search(reminders[0]["text"]).group(1)
        assert fresh != first
        page = api.call("GET", fresh)
        assert page.status_code == 200 and "Susan Service on behalf of John Supply" in page.text
        decided = api.call("POST", fresh, data={"decision": "approve", "comment": "For John"})
        assert decided.status_code == 200, decided.text

        history = api.ok("GET", f"/cases/{case_id}/history", "mary")["items"]
        entry = next(h for h in history if h["action"] == "approval_decided")
        assert (entry["by"], entry["on_behalf_of"]) == ("susan", "john")
        assert api.ok("GET", f"/cases/{case_id}", "mary")["status"] == "Under Assessment"
    finally:
        api.call("DELETE", "/users/me/delegation", "john")
