"""Every error code casework answers with, its HTTP status and what it means: the one list of them.

Codes are part of the public API (clients branch on them): never rename one. A member is its own string
(``ErrorCode.CASE_NOT_FOUND == "CASE_NOT_FOUND"``), so JSON bodies are unchanged. Each line reads
``NAME = auto(), status, meaning[, other statuses]``; a few codes answer with a second status where the
same mistake is found on another path (an unknown contact named in a body is 422, asked for by URL 404).

The status here documents the contract; the entry points still derive it from the error's kind
(casework.http.api.STATUS_FOR), and scripts/check_error_codes.py (run by the tests) checks that every code
raised anywhere is a member and that the kind it is raised with gives one of its statuses. The README's
table of codes is generated from this list (``make docs``).
"""

from __future__ import annotations

from enum import StrEnum, auto
from typing import Any


class ErrorCode(StrEnum):
    status: int
    meaning: str
    also: tuple[int, ...]

    # Defaults only so that a lookup by value (ErrorCode("CASE_NOT_FOUND")) type-checks.
    def __new__(cls, code: str, status: int = 0, meaning: str = "", *also: int) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.meaning = meaning
        member.also = also
        return member

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[Any]) -> str:
        return name  # the code is the member's name (StrEnum's default would lower-case it)

    @property
    def statuses(self) -> tuple[int, ...]:
        return (self.status, *self.also)

    ACCEPTANCE_NOT_PENDING = auto(), 410, "an acceptance link whose answer no longer waits for the contact"
    ACCOUNT_EXISTS = auto(), 409, "a won lead's account id is taken by an account not created from that lead"
    ALREADY_ACCEPTED = auto(), 409, "somebody accepted the service request first (ask for a reassignment)"
    ALREADY_ASSIGNED = auto(), 409, "the case is assigned to that user or unit already"
    ALREADY_CUSTOMER = auto(), 409, "a won lead's contact got an account meanwhile"
    ALREADY_DECIDED = auto(), 409, "this approver's decision has been given already"
    ALREADY_LINKED = auto(), 409, "adding an entry that is in the case's related list already"
    ANSWERS_EXISTS = auto(), 409, "answers to a question set saved twice at the same instant"
    ANSWER_REFUSED = auto(), 409, "the contact refused the response or resolution: give another one first"
    APPROVAL_ALREADY_PENDING = auto(), 409, "a rule asked for an approval while another one is pending"
    APPROVAL_NOT_PENDING = auto(), 410, "an approval link of a round that was decided or recalled"
    AREA_NOT_FOUND = auto(), 404, "no such geographic area in the directory"
    ASSIGNEE_NOT_IN_UNIT = auto(), 422, "assigning to somebody who is not an active member of the case's unit"
    AWAITING_ACCEPTANCE = auto(), 409, "the contact has not accepted the response or resolution yet"
    AWAITING_APPROVAL = auto(), 409, "a status that ends with the approvers' decision, not by hand"
    BOOKING_CHANGED = auto(), 409, "the booking changed while it was being settled; reload"
    BOOKING_NOT_ACTIVE = auto(), 409, "cancelling a booking that is cancelled or declined already"
    BOOKING_NOT_FOUND = auto(), 404, "no such booking"
    BOOKING_NOT_PENDING = (
        auto(),
        409,
        "confirming or declining a booking that is not waiting for its resource's owner",
    )
    CASE_CLOSED = auto(), 409, "the case is closed: no more changes (or notes, unless its type allows them)"
    CASE_EXISTS = auto(), 409, "a case with this id exists already"
    CASE_NOT_FOUND = auto(), 404, "no such case, or one you may not see"
    COMMENT_EXISTS = auto(), 409, "a customer comment saved twice at the same instant"
    COMMENT_REQUIRED = auto(), 422, "a rejection without a comment (the comment is the reason)"
    CONCURRENT_UPDATE = auto(), 409, "somebody changed the same record at the same time: reload"
    CONTACT_EXISTS = auto(), 409, "creating a contact with an id that is taken"
    CONTACT_NOT_FOUND = auto(), 404, "no such contact"
    CROSS_REFERENCE_EXISTS = auto(), 409, "adding a cross reference whose customer item code is taken"
    CROSS_REFERENCE_NOT_FOUND = auto(), 404, "removing a cross reference that is not there"
    CUSTOMER_EXISTS = auto(), 409, "creating a customer with an id that is taken"
    CUSTOMER_HAS_CASES = auto(), 409, "deleting a customer that cases name"
    CUSTOMER_HAS_CONTACTS = auto(), 409, "deleting a customer that has contacts (move them first)"
    CUSTOMER_NOT_FOUND = auto(), 404, "no such customer"
    DUPLICATE_IDENTIFIER = auto(), 409, "an identifier (or VAT number) another record holds (details.owner)"
    EMPTY_FILE = auto(), 422, "an import file without rows or without a header row"
    FEEDBACK_GIVEN = auto(), 409, "the case has feedback already"
    FEEDBACK_NOT_OPEN = auto(), 409, "feedback before the case is resolved"
    FIELDS_LOCKED = auto(), 409, "editing fields the current status does not let you edit"
    FIELDS_NOT_ACCEPTED = auto(), 422, "fields this transition or creation does not take"
    FILE_NOT_FOUND = auto(), 422, "POST /imports for a key that is not in the import bucket", 404
    HELD_FOR_APPROVAL = auto(), 409, "a rule holds the case in its status until its approval is decided"
    HISTORY_EXISTS = auto(), 409, "deleting a record that has history already"
    IDEMPOTENCY_KEY_IN_USE = auto(), 409, "the first request with this Idempotency-Key still runs: retry soon"
    IDEMPOTENCY_KEY_REUSED = auto(), 422, "an Idempotency-Key sent before with another body (use a new key)"
    ILLEGAL_TRANSITION = auto(), 409, "a transition the case's current status does not have"
    IMMUTABLE_FIELDS = auto(), 422, "changing contact, account, type or business unit after creation"
    IMPORT_NOT_FOUND = auto(), 404, "no such import job"
    INTERNAL_ERROR = auto(), 500, "a fault on casework's side (logged); never a client mistake"
    INVALID_COLUMNS = auto(), 422, "an import file without its template's required columns"
    INVALID_CONFIGURATION = auto(), 422, "a care module configuration with problems (details.problems)"
    INVALID_CONVERSION = auto(), 422, "a lead whose conversion settings are not an object"
    INVALID_CORRELATION_ID = auto(), 400, "an x-correlation-id that is not 1-128 letters, digits or ._:/@+=-"
    INVALID_CURSOR = auto(), 400, "a cursor this list did not return (made up, tampered or foreign)"
    INVALID_DECISION = auto(), 422, "a decision other than approve/reject (accept/refuse on acceptances)"
    INVALID_DELEGATION = auto(), 422, "a delegation with problems (details.problems)"
    INVALID_DIRECTORY_ENTRY = auto(), 422, "a directory change with problems (details.problems)"
    INVALID_ERP_EVENT = auto(), 422, "queue: an ERP event without event_id, version/updated_at or data"
    INVALID_EVENT = auto(), 422, "queue: a LeadWon event without the lead id or occurred_at"
    INVALID_EVENTS = auto(), 422, "local stack: a dev event post that is not one event or a list of them"
    INVALID_FIELDS = auto(), 422, "a body or record with invalid fields (details.problems)"
    INVALID_FILTER = auto(), 422, "a feedback summary filter (period, unit, type, assignee) that is not valid"
    INVALID_HOURS = auto(), 422, "local stack: hours_later is not a number of hours (0 to 8784)"
    INVALID_IDEMPOTENCY_KEY = auto(), 400, "an Idempotency-Key that is not 1-128 letters, digits or ._:/@+=-"
    INVALID_JSON = auto(), 400, "a body that is not valid JSON"
    INVALID_LIMIT = auto(), 422, "a page limit out of range"
    INVALID_ORDER = auto(), 422, "queue: an ERP order that breaks the order contract"
    INVALID_PRODUCT = auto(), 422, "queue: an ERP product that breaks the product contract"
    INVALID_REQUEST = auto(), 422, "a body, path or query that does not have the expected shape"
    INVALID_RULES = (
        auto(),
        422,
        "a workflow rule set with problems (details.problems: every one, with its location)",
    )
    INVALID_RESOURCE = (
        auto(),
        422,
        "a resource with problems (details.problems: every one, with its location)",
    )
    INVALID_SERVICES = auto(), 422, "services logged on an activity break its type's rules (details.problems)"
    INVALID_SET_CODE = auto(), 422, "a question set code that is not a code"
    INVALID_WINDOW = auto(), 422, "an availability or booking window that is not a valid, bounded time range"
    JSON_TOO_DEEP = auto(), 400, "JSON nested deeper than 32 levels"
    LEAD_WITHOUT_CONTACT = auto(), 422, "queue: a lead won without a contact to convert"
    MALFORMED_MESSAGE = auto(), 422, "queue: a message that is not JSON or not an EventBridge event"
    MISSING_FIELDS = auto(), 422, "required fields are missing (details name them)"
    NAME_PREFIX_TOO_SHORT = auto(), 422, "a name search with less than two characters"
    NOT_ACCEPTED = auto(), 409, "a service request still waits for a member of its unit to accept it"
    NOT_ALLOWED = auto(), 403, "your roles, unit or user do not allow this"
    NOT_ALLOWED_FOR_TYPE = auto(), 422, "a related entry (e.g. a product) the case's type does not handle"
    NOT_AN_ACTIVITY = auto(), 422, "booking a resource for a case that is not an activity"
    NOT_AN_APPROVER = auto(), 403, "deciding an approval you were not asked for"
    NOT_A_UNIT_MEMBER = auto(), 403, "accepting a request of a unit you are not a member of"
    NOT_LINKED = auto(), 404, "removing an entry that is not in the case's related list"
    NOT_PENDING = auto(), 409, "a recall when no approval is pending"
    NOT_RESOURCE_OWNER = auto(), 403, "confirming or declining a booking of a resource you do not own"
    NOT_SAME_CONTACT = auto(), 422, "relating service requests of different contacts"
    NOT_SUBMITTER = auto(), 403, "recalling an approval you did not submit (nor created the case)"
    NOT_SUPPORTED = auto(), 422, "an operation the case's type does not support (returns: service requests)"
    NO_APPROVER = auto(), 409, "the business unit has nobody to approve this step"
    NO_CONTACT = auto(), 422, "a communication on a case without a contact"
    NO_CONTACT_EMAIL = auto(), 422, "a communication to a contact without an email address"
    NO_DELEGATION = auto(), 404, "no delegation of yours (or delegation is not available)"
    NO_FEEDBACK = auto(), 404, "no feedback has been given on the case"
    NO_FIELDS = auto(), 422, "an edit without any field to change"
    NO_ORDER = auto(), 404, "the case names no order"
    NO_PENDING_ACCEPTANCE = auto(), 409, "nothing on the case waits for the contact's acceptance"
    NO_PENDING_APPROVAL = auto(), 409, "deciding when no approval is pending"
    NO_REMIND_FUNCTION = auto(), 404, "local stack: the template has no reminder function"
    NO_RESPONSIBLE = auto(), 409, "the business unit names nobody responsible for the routing value"
    ONE_FILTER = auto(), 422, "a search with none or more than one of its filters"
    OPEN_CHILDREN = auto(), 409, "activities of the case are still open"
    ORDER_NOT_FOUND = auto(), 404, "no such order (yet: the ERP may not have sent it)"
    OUTSIDE_WORKING_HOURS = auto(), 422, "a booking outside the resource's working calendar"
    PRICE_EXISTS = auto(), 409, "adding a special price whose product and start day are taken"
    PRICE_NOT_FOUND = auto(), 404, "removing a special price that is not there"
    PRICE_OVERLAP = auto(), 409, "a special price valid on a day another one of the product is"
    PRODUCT_NOT_FOUND = auto(), 404, "no such product"
    REFERENCED = auto(), 409, "deleting a case other records refer to"
    RELATED_LOCKED = auto(), 409, "changing a related list the current status locks"
    RELATED_REQUIRED = auto(), 422, "a transition that needs related entries the case does not have"
    RESOURCE_EXISTS = auto(), 409, "a resource with this id exists already"
    RESOURCE_NOT_FOUND = auto(), 404, "no such resource"
    RESOURCE_REQUIRED = (
        auto(),
        409,
        "starting an activity before a resource is booked for each service that needs one",
    )
    RETRY_LATER = auto(), 503, "throttled: nothing was written; send the same request after Retry-After"
    ROUTE_NOT_FOUND = auto(), 404, "no such route"
    SELF_REFERENCE = auto(), 422, "relating a case to itself"
    SERVICE_NOT_PROVIDED = auto(), 422, "the resource does not provide the service asked for"
    SHIP_TO_EXISTS = auto(), 409, "adding a ship-to address whose code is taken"
    SHIP_TO_NOT_FOUND = auto(), 404, "removing a ship-to address that is not there"
    SLOT_TAKEN = auto(), 409, "the resource is booked for (part of) that time already"
    STALE_JOB = auto(), 409, "queue: an import job saved by another invocation meanwhile (retried)"
    STALE_VERSION = auto(), 409, "the record changed since the version you name: reload"
    TOKEN_EXPIRED = auto(), 410, "an expired email link"
    TOKEN_UNKNOWN = auto(), 404, "an email link that is not valid"
    TOKEN_USED = auto(), 410, "an email link used already"
    TOO_MANY_ENTRIES = auto(), 409, "deleting a customer with more than 90 entries (remove some first)"
    TYPE_NOT_ALLOWED = auto(), 422, "the parent's type does not schedule this child type"
    UNAUTHENTICATED = auto(), 401, "no valid bearer token"
    UNIT_FIXED = auto(), 422, "moving a case whose type keeps it in its business unit"
    UNIT_NOT_FOUND = auto(), 404, "no such business unit in the directory"
    UNKNOWN_ACCOUNT = auto(), 422, "a case naming an account that does not exist", 404
    UNKNOWN_BUCKET = auto(), 422, "an import from a bucket other than the import bucket"
    UNKNOWN_BUSINESS_UNIT = auto(), 422, "naming a business unit that does not exist"
    UNKNOWN_CASE_TYPE = auto(), 404, "no such case type (or version)"
    UNKNOWN_CHILD_KIND = auto(), 422, "scheduling a kind of child the case's type does not have"
    UNKNOWN_CONFIGURATION = auto(), 404, "a care module that is not configured (or no such version)"
    UNKNOWN_CONTACT = auto(), 422, "a case for a contact that does not exist (404 on GET /contacts/{id})", 404
    UNKNOWN_COVERAGE_REASON = auto(), 422, "a return with a coverage reason that is not configured"
    UNKNOWN_CUSTOMER = auto(), 422, "a contact moved or upserted to a customer that does not exist"
    UNKNOWN_EVENT_TYPE = auto(), 422, "queue: an ERP event of a detail-type casework does not take"
    UNKNOWN_FUNCTION = auto(), 404, "local stack: a schedule targets a function the template does not have"
    UNKNOWN_IMPORT_KIND = auto(), 422, "an import kind other than leads, customers, contacts"
    UNKNOWN_MODULE = auto(), 404, "no such care module"
    UNKNOWN_PRODUCT = auto(), 422, "a special price or cross reference for a product that does not exist"
    UNKNOWN_PROFILE_SET = auto(), 404, "no such profiling question set (or version)"
    UNKNOWN_REFERENCE = auto(), 422, "a related entry naming a record that does not exist"
    UNKNOWN_RELATED = auto(), 422, "a related list the case's type does not have"
    UNKNOWN_RULES_VERSION = auto(), 404, "no such version of a module's rule set"
    UNKNOWN_SCHEDULE = auto(), 404, "local stack: no such schedule in the template"
    UNKNOWN_SERVICE = auto(), 422, "a service the activity's type does not have"
    UNKNOWN_STATUS = auto(), 422, "a transition to a status the case's type does not have"
    UNKNOWN_TEMPLATE = auto(), 422, "a communication naming a template the case's type does not have"
    UNKNOWN_TYPE = auto(), 422, "a subtype the module's configuration does not have"
    UNKNOWN_USER = auto(), 403, "you are not an active user of casework (422: naming such an assignee)", 422
    UNSUPPORTED_FILE = auto(), 422, "an import file that is not .csv or .xlsx"
    UNSUPPORTED_MEDIA_TYPE = auto(), 415, "a body that is not application/json"
    USER_HAS_WORK = auto(), 409, "deactivating or removing a user who still holds work"
    USER_NOT_FOUND = auto(), 404, "no such user in the directory"
    WORKFLOW_LOOP = auto(), 409, "the workflow's automatic steps loop"
