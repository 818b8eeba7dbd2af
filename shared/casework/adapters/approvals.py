"""Delegations and reminders on the single table.

    USER#<name>  / DELEGATION    who stands in for the user, and when (never cached:
                                 a change applies to the next approval request)
    REMINDED#<case>#<step>#<round>#<person>#<day> / REMINDED  one reminder sent (or being sent); TTL 3 days

Cases waiting for an approval carry ``remindpk``/``remindsk`` (casework.adapters.dynamo): the sparse index
``pending_approvals`` lists them in APPROVAL_SHARDS partitions, oldest request first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import DeleteError, PutError

from casework.adapters.codec import plain
from casework.adapters.dynamo import APPROVAL_SHARDS, CaseItem, Item, item_body
from casework.domain.delegation import Delegation


class DelegationItem(Item, discriminator="delegation"):
    pass


class ReminderItem(Item, discriminator="reminder"):
    expires_at = NumberAttribute()  # the table's TTL


def _delegation_key(username: str) -> tuple[str, str]:
    return f"USER#{username}", "DELEGATION"


class DynamoDelegations:
    def get(self, username: str) -> Delegation | None:
        body = item_body(DelegationItem, *_delegation_key(username), consistent=False)
        return Delegation.from_dict(body) if body is not None else None

    def many(self, usernames: Sequence[str]) -> dict[str, Delegation]:
        keys = [_delegation_key(u) for u in dict.fromkeys(usernames)]
        found = {}
        for item in DelegationItem.batch_get(keys):
            delegation = Delegation.from_dict(plain(item.body.as_dict()))
            found[delegation.owner] = delegation
        return found

    def put(self, delegation: Delegation) -> None:
        pk, sk = _delegation_key(delegation.owner)
        DelegationItem(pk=pk, sk=sk, body=delegation.to_dict()).save()

    def delete(self, username: str) -> bool:
        pk, sk = _delegation_key(username)
        try:
            DelegationItem(pk=pk, sk=sk).delete(condition=DelegationItem.pk.exists())
        except DeleteError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True


class DynamoReminders:
    """What the daily reminder needs: the cases waiting for an approval, and a claim per reminder."""

    def waiting_case_ids(self, requested_before: str) -> Iterator[str]:
        """Every case waiting for an approval requested before ``requested_before`` (one Query per shard
        and page; the index holds keys only)."""
        for shard in range(APPROVAL_SHARDS):
            for item in CaseItem.pending_approvals.query(
                f"APPROVALS#{shard}", CaseItem.remindsk < requested_before
            ):
                yield item.pk.removeprefix("CASE#")

    def claim(self, key: str, now: datetime) -> bool:
        """True for the first claim of ``key`` (a reminder to send), False when one was claimed already."""
        try:
            ReminderItem(
                pk=f"REMINDED#{key}", sk="REMINDED", expires_at=int(now.timestamp()) + 3 * 86400
            ).save(condition=ReminderItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, key: str) -> None:
        """The reminder could not be sent: let the next run try again."""
        ReminderItem(pk=f"REMINDED#{key}", sk="REMINDED").delete()
