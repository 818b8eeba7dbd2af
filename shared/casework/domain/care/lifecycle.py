"""The fixed part of every care module: its life-cycle states and the moves between them, and the lists
(classifications, lead source types, priority levels) a business picks from but cannot change.

A module's configuration (``casework.domain.care.config``) names its own statuses for these states; the
engine and the module templates rely on the states themselves.
"""

from __future__ import annotations

MODULES = ("service_request", "activity", "lead")
STATES = {
    "service_request": (
        "pending",
        "responded",
        "temporary_resolved",
        "final_resolved",
        "completed",
        "cancelled",
    ),
    "activity": ("pending", "in_progress", "completed", "cancelled"),
    "lead": ("pending", "in_progress", "won", "lost", "cancelled"),
}
OPTIONAL_STATES = {"service_request": {"temporary_resolved"}}  # every other state needs >= 1 status
TERMINAL_STATES = {
    "service_request": {"completed", "cancelled"},
    "activity": {"completed", "cancelled"},
    "lead": {"won", "lost", "cancelled"},
}
# The life-cycle moves between states. A status change within the same non-terminal state is also allowed.
MOVES = {
    "service_request": {
        ("pending", "responded"),
        ("pending", "cancelled"),
        ("responded", "temporary_resolved"),
        ("responded", "final_resolved"),
        ("temporary_resolved", "final_resolved"),
        ("final_resolved", "completed"),
    },
    "activity": {("pending", "in_progress"), ("pending", "cancelled"), ("in_progress", "completed")},
    "lead": {
        ("pending", "in_progress"),
        ("pending", "cancelled"),
        ("in_progress", "won"),
        ("in_progress", "lost"),
    },
}
# Which category list a type picks from in each state.
CATEGORY_LISTS = {
    "service_request": {
        "pending": "categories",
        "responded": "response_categories",
        "temporary_resolved": "temporary_resolution_categories",
        "final_resolved": "final_resolution_categories",
    },
    "activity": {"pending": "categories"},
    "lead": {"pending": "categories"},
}
SR_CLASSIFICATIONS = (
    "information",
    "advice",
    "standard_change",
    "access_to_it_service",
    "request_for_change",
    "report_an_incident",
)
LEAD_SOURCE_TYPES = (
    "advertisement",
    "notification",
    "communication",
    "recommended_by_contact",
    "recommended_by_employee",
    "recommended_by_partner",
    "website",
    "other",
    "custom_1",
    "custom_2",
    "custom_3",
    "custom_4",
    "custom_5",
)
LEAD_PRIORITY_LEVELS = tuple(range(1, 11))
DEFAULT_LEAD_PRIORITY = 5
RESOLUTION_CATEGORY_LISTS = (
    "response_categories",
    "temporary_resolution_categories",
    "final_resolution_categories",
)
SERVICE_TIME_UNITS = ("minutes", "hours", "days")
GENERATED_CODE_MAX_LENGTH = 20

MODULE_LABELS = {"service_request": "service request", "activity": "activity", "lead": "lead"}
CATEGORY_LIST_LABELS = {
    "categories": "categories",
    "response_categories": "response categories",
    "temporary_resolution_categories": "temporary resolution categories",
    "final_resolution_categories": "final resolution categories",
}


def with_article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
