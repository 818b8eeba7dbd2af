"""What import jobs need from AWS: the import bucket (S3), the job records (the single table), the import
queue (SQS), and the messages that queue carries.

    IMPORT#<job_id> / JOB     an import job (casework.domain.imports.ImportJob as ``body``; ``version`` is
                              the optimistic lock every checkpoint is written under). A key per job: no
                              constant partition key, however many imports run.
    IMPORTFILE#<bucket>/<key> / LATEST   the newest job of a file {job_id}: an upload's job found by the file

The queue carries three kinds of message (``ImportMessage``): an S3 "Object Created" event (EventBridge, for
``incoming/``), the schedule's tick (``{"action": "scan", "bucket", "prefix"}``) and a job's own
continuation (``{"action": "run", "job_id", "checkpoint"}``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter
from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from casework import settings as environment
from casework.adapters.dynamo import REGION, Item, _tx_connection, item_body
from casework.domain.error_codes import ErrorCode
from casework.domain.errors import Conflict, NotFound
from casework.domain.imports import ImportJob


class ImportJobItem(Item, discriminator="import_job"):
    version = NumberAttribute()


class ImportFileItem(Item, discriminator="import_file"):
    pass


def job_key(job_id: str) -> tuple[str, str]:
    return f"IMPORT#{job_id}", "JOB"


def file_key(bucket: str, key: str) -> tuple[str, str]:
    return f"IMPORTFILE#{bucket}/{key}", "LATEST"


def _conditional_failed(exc: PutError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


class DynamoJobStore:
    def create(self, job: ImportJob) -> bool:
        """The job and its file's pointer to it, in one transaction (a job that exists already: neither)."""
        try:
            with TransactWrite(connection=_tx_connection()) as tx:
                tx.save(
                    ImportJobItem(*job_key(job.id), version=job.version, body=job.to_dict()),
                    condition=ImportJobItem.pk.does_not_exist(),
                )
                tx.save(ImportFileItem(*file_key(job.bucket, job.key), body={"job_id": job.id}))
        except TransactWriteError as exc:
            reasons = getattr(exc, "cancellation_reasons", None) or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return False
            raise
        return True

    def latest_for(self, bucket: str, key: str) -> ImportJob | None:
        pointer = item_body(ImportFileItem, *file_key(bucket, key), consistent=True)
        return self.get(pointer["job_id"]) if pointer is not None else None

    def get(self, job_id: str) -> ImportJob | None:
        body = item_body(ImportJobItem, *job_key(job_id), consistent=True)
        return ImportJob.from_dict(body) if body is not None else None

    def save(self, job: ImportJob) -> ImportJob:
        saved = job.__class__.from_dict({**job.to_dict(), "version": job.version + 1})
        try:
            ImportJobItem(*job_key(job.id), version=saved.version, body=saved.to_dict()).save(
                condition=ImportJobItem.version == job.version
            )
        except PutError as exc:
            if _conditional_failed(exc):
                raise Conflict(
                    ErrorCode.STALE_JOB, f"Import {job.id} was saved by another invocation meanwhile."
                ) from None
            raise
        return saved


@cache
def _client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service, region_name=REGION)


class S3Files:
    def get(self, bucket: str, key: str) -> bytes:
        s3 = _client("s3")
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
            raise NotFound(
                ErrorCode.FILE_NOT_FOUND, f"There is no file {key!r} in {bucket}.", {"key": key}
            ) from None

    def etag(self, bucket: str, key: str) -> str | None:
        s3 = _client("s3")
        try:
            return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        except s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                return None
            raise

    def put(self, bucket: str, key: str, data: bytes) -> None:
        _client("s3").put_object(Bucket=bucket, Key=key, Body=data)

    def list(self, bucket: str, prefix: str) -> list[tuple[str, str]]:
        pages = _client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [(o["Key"], o["ETag"].strip('"')) for page in pages for o in page.get("Contents", [])]

    def download_url(self, bucket: str, key: str, seconds: int) -> str:
        params = {"Bucket": bucket, "Key": key}
        return _client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def upload_url(self, bucket: str, key: str, seconds: int) -> str:
        params = {"Bucket": bucket, "Key": key}
        return _client("s3").generate_presigned_url("put_object", Params=params, ExpiresIn=seconds)


class SqsJobQueue:
    def __init__(self, queue_url: str | None = None) -> None:
        self.queue_url = queue_url or environment.load("IMPORT_QUEUE_URL").import_queue_url

    def send(self, message: dict[str, Any]) -> None:
        _client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(message))


# --- the queue's messages ----------------------------------------------------------------------------------


class _Bucket(BaseModel):
    name: str = Field(min_length=3, max_length=63)


class _Object(BaseModel):
    key: str = Field(min_length=1, max_length=1024)
    # S3 sends "etag"; moto's emulation "eTag" (Powertools' S3 EventBridge model requires the former).
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag"))


class _Created(BaseModel):
    bucket: _Bucket
    object: _Object


class ObjectCreated(BaseModel):
    """S3's EventBridge notification of a new object (only "Object Created" reaches the queue)."""

    model_config = ConfigDict(populate_by_name=True)
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: _Created


class ScheduleTick(BaseModel):
    action: Literal["scan"]
    bucket: str = Field(min_length=3, max_length=63)
    prefix: str = Field(default="incoming/", max_length=1024)


class RunJob(BaseModel):
    action: Literal["run"]
    job_id: str = Field(min_length=1, max_length=64)
    checkpoint: int = Field(ge=0)


ImportMessage = ObjectCreated | Annotated[ScheduleTick | RunJob, Field(discriminator="action")]
_messages: TypeAdapter[ObjectCreated | ScheduleTick | RunJob] = TypeAdapter(ImportMessage)


def import_message(body: str) -> ObjectCreated | ScheduleTick | RunJob:
    """The message in an SQS record's body; pydantic.ValidationError when it is none of the three."""
    return _messages.validate_json(body)
