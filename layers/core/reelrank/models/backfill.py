"""ImpactBackfillFunction's events and response (issue 4; ``POST /admin/backfill``, ``GET /admin/jobs/{id}``)."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json

BackfillMode = Literal["stale", "all"]
# pending: created, not started; running: an invocation is working on it (or was killed while it was);
# continuing: stopped before the Lambda timeout, continued by a fresh invocation; completed / failed: finished.
BackfillStatus = Literal["pending", "running", "continuing", "completed", "failed"]


class BackfillRequest(BaseModel):
    """A direct invoke: start a backfill (``{"mode"}``), or continue / resume a job (``{"job_id"}``).

    Without ``job_id`` an unfinished job (one killed mid-run, say) is resumed rather than a second one started.
    """

    model_config = ConfigDict(extra="forbid")

    mode: BackfillMode = "stale"
    job_id: int | None = Field(default=None, gt=0)


class BackfillContinuation(BaseModel):
    """The body of a continuation message on the backfill's SQS queue."""

    model_config = ConfigDict(extra="forbid")

    job_id: int = Field(gt=0)


class BackfillContinuationRecord(SqsRecordModel):
    """An SQS record whose body is a :class:`BackfillContinuation` (Powertools Parser, ``Json[...]`` body)."""

    body: Json[BackfillContinuation]


class BackfillResponse(BaseModel):
    """A backfill job's progress: the function's response, and ``GET /admin/jobs/{id}``."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    status: BackfillStatus
    mode: BackfillMode
    videos_scanned: int = 0
    videos_updated: int = 0
    batches: int = 0
    aggregates_updated: int = 0
    duration_ms: int = 0
    weights_version: int | None = None
    error: str | None = None
