"""Import jobs over the API: start one for a file in the import bucket, and read how it is going."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from casework.http.api import caller
from casework.http.idempotency import idempotent
from casework.http.responses import ok


class CreateImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["leads", "customers", "contacts"] = Field(
        description="What the file holds; its columns are that kind's template (see the README)."
    )
    key: str = Field(
        min_length=1,
        max_length=1024,
        description="The file's key in the import bucket (upload it outside incoming/ to import it only "
        "through this request; files under incoming/<kind>/ are imported on upload).",
        examples=["uploads/leads-june.xlsx"],
    )
    bucket: str | None = Field(None, max_length=63, description="The import bucket (the only one allowed).")
    dry_run: bool = Field(
        False, description="Report what would be created, updated and refused; write nothing."
    )


class CreateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["leads", "customers", "contacts"]
    filename: str = Field(min_length=1, max_length=200, examples=["leads-june.xlsx"])


class UploadResponse(BaseModel):
    """PUT the file's bytes to ``upload_url`` (it expires): it imports on arrival; GET /imports?key=<key>
    shows its job."""

    key: str
    upload_url: str
    method: str
    expires_in: int


class ImportJobResponse(BaseModel):
    """An import job: state, counts (read, created, updated, unchanged, failed), progress and error file."""

    id: str
    kind: str
    bucket: str
    key: str
    format: str | None = Field(description="csv or xlsx, once the file has been read")
    dry_run: bool
    state: Literal["queued", "running", "succeeded", "failed", "completed_with_errors"]
    counts: dict[str, int] = Field(description="read, created, updated, unchanged, failed (rows)")
    contacts: dict[str, int] = Field(description="a leads file's contacts: created, updated, unchanged")
    progress: dict[str, Any] = Field(description="rows_done, total_rows, percent")
    checkpoint: int = Field(description="the next row to import (0 = the first row after the header)")
    error_file: str | None = Field(
        description="key of the failed rows, in the file's format, when any failed"
    )
    error_file_url: str | None = Field(None, description="a link that downloads the error file (it expires)")
    message: str | None
    requested_by: str
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    version: int


def import_routes() -> Router:
    router = Router()

    # The services answer with the job as a dict; Powertools validates it against the annotated model on the
    # way out (that is the response contract), hence the casts.
    @router.post(
        "/imports",
        status_code=202,
        tags=["imports"],
        summary="Start an import job (leads, customers or contacts from CSV/XLSX in the import bucket)",
        responses=ok(202, "The job, queued"),
        middlewares=[idempotent(router)],
    )
    def create_import(body: CreateImport) -> ImportJobResponse:
        from casework.http.wiring import import_service

        return cast(
            ImportJobResponse,
            import_service().request(
                caller(router), kind=body.kind, key=body.key, bucket=body.bucket, dry_run=body.dry_run
            ),
        )

    @router.post(
        "/imports/uploads",
        status_code=201,
        tags=["imports"],
        summary="A link to upload a file that imports on arrival",
        responses=ok(201),
    )
    def create_upload(body: CreateUpload) -> UploadResponse:
        from casework.http.wiring import import_service

        return cast(
            UploadResponse, import_service().upload(caller(router), kind=body.kind, filename=body.filename)
        )

    @router.get(
        "/imports",
        tags=["imports"],
        summary="The newest import job of a file (e.g. one uploaded under incoming/<kind>/)",
        responses=ok(),
    )
    def get_import_of_file(
        key: Annotated[str, Query(min_length=1, max_length=1024, description="the file's key in the bucket")],
    ) -> ImportJobResponse:
        from casework.http.wiring import import_service

        return cast(ImportJobResponse, import_service().job_of_file(caller(router), key))

    @router.get(
        "/imports/<job_id>",
        tags=["imports"],
        summary="An import job: state, counts, progress, error file",
        responses=ok(),
    )
    def get_import(job_id: str) -> ImportJobResponse:
        from casework.http.wiring import import_service

        return cast(ImportJobResponse, import_service().job(caller(router), job_id))

    return router
