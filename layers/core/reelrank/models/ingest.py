"""Events the ingest function accepts and the response it returns (DESIGN §4, issue "Ingest function")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reelrank.models.canonical import SourceName

MAX_REPORTED_REJECTIONS = 100


class RejectionOut(BaseModel):
    """One rejected record as the response reports it (the full raw record is in ``rejected_videos``)."""

    index: int
    video_id: str | None = None
    reason: str


class IngestResponse(BaseModel):
    """The outcome of one snapshot; ``rejections`` is capped, ``rejected`` is the exact count."""

    model_config = ConfigDict(frozen=True)

    ingestion_id: int | None
    status: Literal["completed", "duplicate", "failed"]
    source: SourceName | None = None
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    new_videos: int = 0
    updated_videos: int = 0
    rejections: list[RejectionOut] = Field(default_factory=list)
    error: str | None = None


class DirectRecordsEvent(BaseModel):
    """Direct invoke (or ``POST /admin/ingest``) with the records inline."""

    model_config = ConfigDict(extra="forbid")

    source: SourceName | None = None
    snapshot_id: str | None = Field(default=None, max_length=200)
    records: list[object] = Field(min_length=1)


class ObjectEvent(BaseModel):
    """Direct invoke naming an S3 object to ingest."""

    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)
    source: SourceName | None = None
    snapshot_id: str | None = Field(default=None, max_length=200)


class S3ObjectRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str
    eTag: str | None = None


class S3BucketRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str


class S3Entity(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bucket: S3BucketRef
    object: S3ObjectRef


class S3EventRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")
    eventSource: Literal["aws:s3"]
    eventName: str = "ObjectCreated:Put"
    eventTime: str | None = None
    s3: S3Entity


class S3NotificationEvent(BaseModel):
    """An S3 ObjectCreated notification (one or more records)."""

    model_config = ConfigDict(extra="ignore")
    Records: list[S3EventRecord] = Field(min_length=1)
