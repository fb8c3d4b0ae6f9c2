"""Use cases of the admin routes: start or read the work of the other functions (DESIGN §4).

In AWS a long-running job is recorded here and then handed to its own function by an asynchronous invoke (the
function name comes from the API's settings): ImpactBackfillFunction with ``{"job_id"}``, ViewTrackingFunction with
``{"trigger": "api", "job_id", "limit"}``. Where no function name is configured (``reelrank serve``, tests) the same
job runs in this process before the route answers. Ingest runs in process in both cases, like the ingest function.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import psycopg

from reelrank.db import rankings, tracking
from reelrank.errors import NotFoundError, ReelrankError
from reelrank.models.api import IngestionDetail
from reelrank.models.backfill import BackfillMode, BackfillRequest, BackfillResponse
from reelrank.models.ingest import IngestResponse
from reelrank.models.view_tracking import TrackingJobOut, ViewTrackingEvent
from reelrank.observability import logger
from reelrank.services import backfill, view_tracking
from reelrank.services.ingest import handle_ingest_event
from reelrank.settings import ApiSettings, get_backfill_settings, get_view_tracking_settings

JobKind = Literal["backfill", "view-tracking"]


def invoke_async(function_name: str, payload: dict[str, Any], client: Any = None) -> None:
    """An asynchronous (``Event``) invoke of ``function_name`` with ``payload``."""
    if client is None:
        import boto3  # the Lambda runtime provides boto3; only the admin routes pay for it

        client = boto3.client("lambda")
    client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode())


def ingest(conn: psycopg.Connection[Any], event: dict[str, Any]) -> IngestResponse:
    """``POST /admin/ingest``: the ingest function's direct-invoke shapes (inline records, or an S3 object)."""
    return handle_ingest_event(event, conn)


def start_backfill(
    conn: psycopg.Connection[Any], mode: BackfillMode, settings: ApiSettings, client: Any = None
) -> BackfillResponse:
    """``POST /admin/backfill``: create the job (or find the unfinished one) and start it."""
    job = backfill.start_backfill(conn, mode)
    if job.status in ("completed", "running"):
        return job
    if settings.backfill_function_name:
        invoke_async(settings.backfill_function_name, {"job_id": job.job_id}, client)
        logger.info("backfill started", job_id=job.job_id, function=settings.backfill_function_name)
        return job
    return backfill.backfill_impact(conn, BackfillRequest(job_id=job.job_id), settings=get_backfill_settings())


def start_view_tracking(
    conn: psycopg.Connection[Any], limit: int | None, settings: ApiSettings, client: Any = None
) -> TrackingJobOut:
    """``POST /admin/view-tracking/run``: queue a tracking job and start it."""
    job = view_tracking.queue_view_tracking_run(conn, limit)
    event = ViewTrackingEvent(trigger="api", job_id=job.job_id, limit=limit)
    if settings.view_tracking_function_name:
        invoke_async(settings.view_tracking_function_name, event.model_dump(exclude_none=True), client)
        logger.info("view tracking run queued", job_id=job.job_id, function=settings.view_tracking_function_name)
        return job
    try:
        return view_tracking.track_views(conn, event, get_view_tracking_settings())
    except ReelrankError as exc:  # e.g. no YouTube key locally: the job row says failed, and why
        logger.info("view tracking run failed", job_id=job.job_id, error=str(exc))
        return tracking.get_job(conn, job.job_id)


def get_job(conn: psycopg.Connection[Any], kind: JobKind, job_id: int) -> BackfillResponse | TrackingJobOut:
    """``GET /admin/jobs/{id}``: a backfill job (default) or a view-tracking job."""
    if kind == "backfill":
        found = backfill.get_backfill_job(conn, job_id)
        if found is None:
            raise NotFoundError(f"no backfill job {job_id}")
        return found
    try:
        return tracking.get_job(conn, job_id)
    except LookupError as exc:
        raise NotFoundError(f"no view-tracking job {job_id}") from exc


def get_ingestion(conn: psycopg.Connection[Any], ingestion_id: int) -> IngestionDetail:
    """``GET /admin/ingestions/{id}``: the ingestion's counts, status and first 100 rejections."""
    row = rankings.fetch_ingestion(conn, ingestion_id)
    if row is None:
        raise NotFoundError(f"no ingestion {ingestion_id}")
    return IngestionDetail.model_validate(row)
