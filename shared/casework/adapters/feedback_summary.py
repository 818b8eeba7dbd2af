"""The feedback summary's running aggregates on the table (casework.services.ports.FeedbackSummaryStore).

    FEEDBACKSUM#<unit>#<period>                 / <case type|*>#<assignee|*>   count, total, r1..r5 (ADD)
    FEEDBACKCOMMENTS#<unit>#<month>#<type|*>#<assignee|*> / C#<at>#<case id>   a comment
    FEEDBACKCOUNTED#<event id>                  / COUNTED                      this feedback was counted

One feedback is one TransactWriteItems: the marker Put only if absent, the ADDs to its 8 cells, the Puts of
its comment into 4 lists. A redelivered or racing duplicate fails the marker's condition and adds nothing.
Partitions are per unit and period, so no key is shared by the whole table; a unit's feedback (people
giving a rating) stays far below a partition's 1,000 writes a second.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from casework.adapters.dynamo import Item, _tx_connection, explain_cancellation, partition_page
from casework.services.ports import FeedbackTally, Page

MARKER_DAYS = 400  # longer than any redelivery; the aggregates themselves never expire


class FeedbackCellItem(Item, discriminator="feedback_cell"):
    given = NumberAttribute(null=True, attr_name="count")  # ``count`` is a Model method
    total = NumberAttribute(null=True)
    r1 = NumberAttribute(null=True)
    r2 = NumberAttribute(null=True)
    r3 = NumberAttribute(null=True)
    r4 = NumberAttribute(null=True)
    r5 = NumberAttribute(null=True)


class FeedbackCommentItem(Item, discriminator="feedback_comment"):
    pass


class FeedbackCountedItem(Item, discriminator="feedback_counted"):
    expires_at = NumberAttribute(null=True)


class DynamoFeedbackSummaryStore:
    def add(self, tally: FeedbackTally) -> bool:
        import time

        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                tx.save(
                    FeedbackCountedItem(
                        pk=f"FEEDBACKCOUNTED#{tally.key}",
                        sk="COUNTED",
                        expires_at=int(time.time()) + MARKER_DAYS * 86400,
                    ),
                    condition=FeedbackCountedItem.pk.does_not_exist(),
                )
                for partition, cell in tally.cells:
                    tx.update(
                        FeedbackCellItem(pk=partition, sk=cell),
                        actions=[
                            Path("kind").set("feedback_cell"),  # created by its first ADD: name its model
                            FeedbackCellItem.given.add(1),
                            FeedbackCellItem.total.add(tally.rating),
                            Path(f"r{tally.rating}").add(1),
                        ],
                    )
                if tally.comment is not None:
                    for comment_list in tally.comment_lists:
                        tx.save(
                            FeedbackCommentItem(
                                pk=comment_list,
                                sk=f"C#{tally.comment['at']}#{tally.comment['case_id']}",
                                body=tally.comment,
                            )
                        )
        except TransactWriteError as exc:
            counted = LookupError("counted already")  # a marker, never raised: the feedback was counted
            meaning = explain_cancellation(exc, lambda index, _reason: counted if index == 0 else None, exc)
            if meaning is counted:
                return False
            raise meaning from None
        return True

    def cells(self, partition: str) -> list[dict[str, Any]]:
        names = ("total", "r1", "r2", "r3", "r4", "r5")
        return [
            {"cell": item.sk, "count": int(item.given or 0), **{n: int(getattr(item, n) or 0) for n in names}}
            for item in FeedbackCellItem.query(partition)
        ]

    def comments(self, comment_list: str, cursor: str | None, limit: int) -> Page:
        return partition_page(FeedbackCommentItem, comment_list, "C#", cursor, limit, newest_first=True)
