"""The words of a workflow definition that the rest of the domain shares (a case's approval mode, a field's
type) without needing the definition's models: importing them does not import pydantic, so a function that
never reads a definition (the stream publisher) keeps its cold start.
"""

from __future__ import annotations

from enum import StrEnum


class FieldType(StrEnum):
    STRING = "string"
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"
    LIST = "list"  # a list of records (e.g. an activity's services); the module's rules check the content


class Relation(StrEnum):
    CREATOR = "creator"
    ASSIGNEE = "assignee"


class ApprovalMode(StrEnum):
    ANY = "any"  # the first decision decides
    ALL = "all"  # every approver must approve; one rejection rejects
