"""Use case: track views. Fetch the due YouTube videos' statistics within the day's quota and write them.

One run (:func:`track_views`):

1. takes the single-run lock (a second run at the same time ends at once as ``already_running``), fails jobs a dead
   run left ``running``, and starts its ``tracking_jobs`` row;
2. refreshes tiers (new YouTube videos enrolled, aged videos moved, top performers by velocity to tier 1);
3. reads the day's remaining budget from ``api_quota_ledger`` (the Pacific day; ``TRACKING_DAILY_QUOTA_UNITS``) and
   selects at most 50 × that many due videos, most important first (and at most ``limit``);
4. calls ``videos.list`` with 50 ids per call, concurrently (bounded), every attempt taking one unit from the run's
   budget; results are written as they arrive, ``TRACKING_CALLS_PER_COMMIT`` calls per transaction (snapshots,
   current metrics through ingest's set-based path, velocity, tier, next due time, the units spent, the job's
   counters), so a run that dies keeps what it fetched;
5. stops cleanly on ``quotaExceeded`` (the ledger set to spent, ``stopped_reason: "quota_exceeded"``), fails with a
   clear message on an invalid key, and leaves videos whose call failed for good due for the next run.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from reelrank.db import tracking
from reelrank.db.ingestions import ensure_snapshot_partitions
from reelrank.errors import ReelrankError
from reelrank.models.view_tracking import (
    QuotaOut,
    TrackingJobOut,
    ViewTrackingEvent,
    ViewTrackingStats,
)
from reelrank.observability import logger
from reelrank.services.youtube_client import (
    MAX_IDS_PER_CALL,
    ApiKeyError,
    QuotaBudgetSpentError,
    QuotaExceededError,
    QuotaGate,
    VideosListResult,
    YouTubeClient,
    YouTubeError,
)
from reelrank.settings import ViewTrackingSettings, YouTubeSettings

_WRITE_ATTEMPTS = 5
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure, psycopg.errors.LockNotAvailable)
# stop starting calls when less than this is left before the Lambda timeout (the last batch still has to be written)
_TIME_RESERVE_S = 20.0


class YouTubeConfigError(ReelrankError):
    """No YouTube API key is configured (``YOUTUBE_API_KEY`` locally, ``YOUTUBE_API_KEY_SECRET_ARN`` in AWS)."""


def resolve_api_key(settings: YouTubeSettings) -> str:
    """The API key: ``YOUTUBE_API_KEY`` locally, else the Secrets Manager secret (a plain string, or JSON with
    ``api_key``) through Powertools Parameters, cached like the database secret."""
    if settings.youtube_api_key:
        return settings.youtube_api_key
    if settings.youtube_api_key_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_secret(settings.youtube_api_key_secret_arn, max_age=300)
        text = value.decode() if isinstance(value, bytes) else str(value)
        try:
            parsed = json.loads(text)
        except ValueError:
            return text.strip()
        if isinstance(parsed, dict) and parsed.get("api_key"):
            return str(parsed["api_key"])
        if isinstance(parsed, str):
            return parsed
        raise YouTubeConfigError('the YouTube key secret must be the key itself or JSON {"api_key": ...}')
    raise YouTubeConfigError("set YOUTUBE_API_KEY (local) or YOUTUBE_API_KEY_SECRET_ARN (AWS)")


@dataclass
class _Progress:
    """What the run has done so far (in memory; each batch's share is committed with the batch)."""

    calls: int = 0
    units_recorded: int = 0
    errors: list[str] = field(default_factory=list)
    stopped_reason: str | None = None
    failed: bool = False


def track_views(
    conn: psycopg.Connection[Any],
    event: ViewTrackingEvent,
    settings: ViewTrackingSettings,
    *,
    client: YouTubeClient | None = None,
    now: datetime | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> TrackingJobOut:
    """Run one view-tracking pass and return its job row.

    Parameters
    ----------
    conn
        An autocommit connection (each batch of calls is its own transaction).
    event
        ``limit`` caps the videos tracked; ``job_id`` runs a job queued by :func:`queue_view_tracking_run`.
    settings
        Quota budget, concurrency, batch size and the YouTube client's configuration.
    client
        A client to use (tests, the benchmark); by default one is built from ``settings`` and the resolved key.
    now
        The run's clock (tests); due times, the quota day and snapshot times derive from it.
    remaining_ms
        The Lambda context's ``get_remaining_time_in_millis``: no call starts in the last 20 seconds.

    Returns
    -------
    TrackingJobOut
        ``completed``, ``stopped`` (see ``stopped_reason``) or ``failed``.
    """
    at = now or datetime.now(UTC)
    if not tracking.try_lock_runs(conn):
        job_id = event.job_id or tracking.create_job(conn, trigger=event.trigger, limit=event.limit).job_id
        return tracking.finish_job(
            conn, job_id, status="stopped", stopped_reason="already_running", errors=["another run is in progress"]
        )
    try:
        tracking.fail_interrupted_jobs(conn)
        if event.job_id is not None:
            job = tracking.start_job(conn, event.job_id)
        else:
            job = tracking.create_job(conn, trigger=event.trigger, limit=event.limit)
        logger.append_keys(tracking_job_id=job.job_id)
        try:
            return _run(conn, job, settings, client, at, remaining_ms)
        except BaseException as exc:
            if not conn.broken:
                tracking.finish_job(
                    conn, job.job_id, status="failed", stopped_reason=None, errors=[f"{type(exc).__name__}: {exc}"]
                )
            raise
    finally:
        if not conn.broken:
            tracking.unlock_runs(conn)


def _run(
    conn: psycopg.Connection[Any],
    job: TrackingJobOut,
    settings: ViewTrackingSettings,
    client: YouTubeClient | None,
    at: datetime,
    remaining_ms: Callable[[], int] | None,
) -> TrackingJobOut:
    threshold = tracking.refresh_tiers(conn, at, settings.tracking_top_performers)
    day = tracking.quota_day(conn, at)
    spent, exhausted = tracking.quota_state(conn, day)
    budget = 0 if exhausted else max(0, settings.tracking_daily_quota_units - spent)
    videos_due = tracking.count_due(conn, at)
    tracking.set_job_due(conn, job.job_id, videos_due)
    wanted = budget * MAX_IDS_PER_CALL if job.requested_limit is None else min(job.requested_limit, budget * 50)
    due = tracking.fetch_due_videos(conn, at, wanted)
    logger.info("tracking run planned", videos_due=videos_due, selected=len(due), budget_units=budget, spent=spent)
    if not due:
        reason = None if videos_due == 0 else ("quota_exceeded" if exhausted else "budget_spent")
        status = "completed" if reason is None else "stopped"
        return tracking.finish_job(conn, job.job_id, status=status, stopped_reason=reason, errors=[])

    own_client = client is None
    try:
        client = client or YouTubeClient.from_settings(settings, resolve_api_key(settings))
    except YouTubeConfigError as exc:
        return tracking.finish_job(
            conn, job.job_id, status="failed", stopped_reason="invalid_api_key", errors=[str(exc)]
        )
    ensure_snapshot_partitions(conn, at, at)
    progress = _Progress()
    gate = QuotaGate(budget)
    try:
        _fetch_and_write(conn, job, settings, client, gate, due, at, threshold, progress, remaining_ms)
    finally:
        if own_client:
            client.close()
    if progress.failed:
        status = "failed"
    elif progress.stopped_reason is not None:
        status = "stopped"
    else:
        status = "completed"
    if progress.stopped_reason is None and len(due) < videos_due and job.requested_limit is None:
        progress.stopped_reason = "budget_spent"  # more was due than the day's budget covers
        status = "stopped"
    finished = tracking.finish_job(conn, job.job_id, status=status, stopped_reason=progress.stopped_reason, errors=[])
    logger.info(
        "tracking run finished",
        status=finished.status,
        stopped_reason=finished.stopped_reason,
        api_calls=finished.api_calls,
        videos_tracked=finished.videos_tracked,
        videos_missing=finished.videos_missing,
        quota_units_used=finished.quota_units_used,
    )
    return finished


def _fetch_and_write(
    conn: psycopg.Connection[Any],
    job: TrackingJobOut,
    settings: ViewTrackingSettings,
    client: YouTubeClient,
    gate: QuotaGate,
    due: list[str],
    at: datetime,
    threshold: Decimal | None,
    progress: _Progress,
    remaining_ms: Callable[[], int] | None,
) -> None:
    """Run the calls on a bounded pool and write their results as they complete, a batch of calls per commit."""
    stop = threading.Event()
    day = tracking.quota_day(conn, at)

    def call(ids: list[str]) -> VideosListResult | None:
        if stop.is_set() or (remaining_ms is not None and remaining_ms() < _TIME_RESERVE_S * 1000):
            return None
        try:
            return client.list_statistics(ids, gate)
        except (QuotaExceededError, ApiKeyError):
            # nothing more can succeed: no other call may start, whichever thread reports it first
            stop.set()
            gate.close()
            raise

    batches = [due[i : i + MAX_IDS_PER_CALL] for i in range(0, len(due), MAX_IDS_PER_CALL)]
    pending: list[VideosListResult] = []
    quota_hit = False
    with ThreadPoolExecutor(max_workers=settings.youtube_max_concurrency, thread_name_prefix="youtube") as pool:
        futures: set[Future[VideosListResult | None]] = {pool.submit(call, ids) for ids in batches}
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except QuotaExceededError as exc:
                    quota_hit = True
                    _stop(stop, gate, progress, "quota_exceeded", str(exc))
                    continue
                except ApiKeyError as exc:
                    progress.failed = True
                    _stop(stop, gate, progress, "invalid_api_key", f"YouTube rejected the API key: {exc}")
                    continue
                except QuotaBudgetSpentError:
                    progress.stopped_reason = progress.stopped_reason or "budget_spent"
                    continue
                except YouTubeError as exc:
                    # this call's videos stay due for the next run; the run goes on
                    progress.errors.append(str(exc))
                    continue
                if result is None:
                    if not stop.is_set():
                        progress.stopped_reason = progress.stopped_reason or "time_limit"
                    continue
                pending.append(result)
                if len(pending) >= settings.tracking_calls_per_commit:
                    _write_batch(conn, job, settings, gate, day, at, threshold, pending, progress, quota_hit=False)
                    pending = []
        _write_batch(conn, job, settings, gate, day, at, threshold, pending, progress, quota_hit=quota_hit)


def _stop(stop: threading.Event, gate: QuotaGate, progress: _Progress, reason: str, message: str) -> None:
    if progress.stopped_reason not in ("quota_exceeded", "invalid_api_key"):
        progress.errors.append(message)
        progress.stopped_reason = reason
    stop.set()
    gate.close()


def _write_batch(
    conn: psycopg.Connection[Any],
    job: TrackingJobOut,
    settings: ViewTrackingSettings,
    gate: QuotaGate,
    day: Any,
    at: datetime,
    threshold: Decimal | None,
    results: list[VideosListResult],
    progress: _Progress,
    *,
    quota_hit: bool,
) -> None:
    """Commit one batch: snapshots, metrics, rescheduling, the units spent since the last commit, job counters."""
    fetched = [
        tracking.FetchedVideo(s.video_id, s.views, s.likes, s.comments) for r in results for s in r.items.values()
    ]
    missing = [video_id for r in results for video_id in r.missing]
    units = gate.used - progress.units_recorded
    errors, progress.errors = progress.errors, []
    for attempt in range(1, _WRITE_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '30s'")
                outcome = tracking.record_batch(
                    conn,
                    job_id=job.job_id,
                    at=at,
                    fetched=fetched,
                    missing=missing,
                    threshold=threshold,
                    unavailable_after=settings.tracking_unavailable_after_misses,
                )
                tracking.spend_quota(
                    conn, day, units, exhausted_at=settings.tracking_daily_quota_units if quota_hit else None
                )
                tracking.add_job_progress(
                    conn,
                    job.job_id,
                    api_calls=units,  # every request, retries and failures included (each spends a unit)
                    tracked=outcome.tracked,
                    missing=outcome.missing,
                    unavailable=outcome.became_unavailable,
                    units=units,
                    errors=errors,
                )
            break
        except _RETRYABLE:
            # a concurrent ingest closed a lock cycle; the batch rolled back whole, so writing it again is exact
            if attempt == _WRITE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.2) * attempt)
    progress.units_recorded += units
    progress.calls += len(results)


# ---------------------------------------------------------------------------------------------------- admin routes
def queue_view_tracking_run(
    conn: psycopg.Connection[Any], limit: int | None, *, trigger: str = "api"
) -> TrackingJobOut:
    """``POST /admin/view-tracking/run``: record a queued job and return it (status ``queued``).

    The caller then starts it: in AWS, an asynchronous invoke of ViewTrackingFunction with
    ``{"trigger": "api", "job_id": job.job_id, "limit": limit}``; locally, :func:`track_views` with that event.
    """
    return tracking.create_job(conn, trigger=trigger, limit=limit, status="queued")


def view_tracking_stats(
    conn: psycopg.Connection[Any], settings: ViewTrackingSettings, *, now: datetime | None = None
) -> ViewTrackingStats:
    """``GET /admin/view-tracking/stats``: videos per tier, due now and today, today's quota, the last 10 runs, and
    the 10 fastest-growing videos (views/hour between their last two observations)."""
    at = now or datetime.now(UTC)
    tiers = tracking.tier_counts(conn, at)
    day = tracking.quota_day(conn, at)
    spent, exhausted = tracking.quota_state(conn, day)
    budget = settings.tracking_daily_quota_units
    return ViewTrackingStats(
        tiers=tiers,
        active_videos=sum(t.videos for t in tiers),
        unavailable_videos=tracking.unavailable_count(conn),
        due_now=sum(t.due_now for t in tiers),
        due_today=sum(t.due_today for t in tiers),
        quota=QuotaOut(
            quota_day=day,
            budget=budget,
            spent=spent,
            left=0 if exhausted else max(0, budget - spent),
            exhausted=exhausted,
        ),
        last_runs=tracking.last_jobs(conn, 10),
        fastest_growing=tracking.fastest_growing(conn, 10),
    )
