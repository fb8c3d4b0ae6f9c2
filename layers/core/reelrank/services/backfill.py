"""Use case: ``backfill_impact`` — rescore videos after a weights change (or everything), then refresh aggregates.

A job (``backfill_jobs``) walks the videos in keyset batches of the primary key, each batch one short transaction
with ``lock_timeout`` set that writes only rows whose score or version changes and checkpoints the job in the same
commit. Then it runs the set-based aggregate refresh steps (``reelrank.db.aggregate_repair``), checkpointing after
each. Before every unit of work it checks the Lambda's remaining time: under the margin it stops cleanly with status
``continuing`` and hands the job id to a continuation (an SQS message the same function consumes). A run killed
outright holds nothing after its connection closes (the job lock is a session advisory lock), so the next invocation
— with ``{"job_id"}``, or with no id at all, which resumes the unfinished job — continues from the last checkpoint.

If the active weights change while a job runs, the scan starts over with the new version, so a completed job always
leaves no stale row behind it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from aws_lambda_powertools.metrics import MetricUnit
from psycopg import sql

from reelrank.db import backfill_jobs, impact_rescore
from reelrank.db.aggregate_repair import TOTALS_STEPS, RepairStep, run_step
from reelrank.db.backfill_jobs import BackfillJobRow
from reelrank.db.impact_weights import fetch_active_weights
from reelrank.errors import BackfillJobNotFoundError, ReelrankError
from reelrank.models.backfill import BackfillContinuationRecord, BackfillMode, BackfillRequest, BackfillResponse
from reelrank.models.weights import ImpactWeightsResponse
from reelrank.observability import logger, metrics
from reelrank.settings import BackfillSettings

RemainingMs = Callable[[], int]
ContinueLater = Callable[[int], None]

_ATTEMPTS = 5
_RETRYABLE = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class BackfillFailedError(ReelrankError):
    """A continuation's run failed: the SQS record is reported failed, so it is retried and then dead-lettered."""


@dataclass(frozen=True, slots=True)
class BatchReport:
    """One committed batch of the videos phase (for progress hooks and the benchmark's duration distribution)."""

    job_id: int
    batch: int
    rows_scanned: int
    rows_updated: int
    seconds: float


def to_response(job: BackfillJobRow) -> BackfillResponse:
    """A job row in the response shape of the function and of ``GET /admin/jobs/{id}``."""
    return BackfillResponse(
        job_id=job.job_id,
        status=job.status,  # the table's CHECK admits exactly BackfillStatus; pydantic validates it
        mode=job.mode,
        videos_scanned=job.videos_scanned,
        videos_updated=job.videos_updated,
        batches=job.batches,
        aggregates_updated=job.aggregates_updated,
        duration_ms=job.duration_ms,
        weights_version=job.weights_version,
        error=job.error,
    )


def start_backfill(conn: psycopg.Connection[Any], mode: BackfillMode = "stale") -> BackfillResponse:
    """Create a pending backfill job (``POST /admin/backfill``) and return it; nothing is rescored yet.

    At most one job is unfinished at a time: when one is, that job is returned (its own mode and status) instead of
    a second one. Start the run by invoking ImpactBackfillFunction with ``{"job_id": …}``
    (:func:`invoke_backfill_async` in AWS, or :func:`backfill_impact` in process).
    """
    job, _ = backfill_jobs.create_job(conn, mode)
    return to_response(job)


def get_backfill_job(conn: psycopg.Connection[Any], job_id: int) -> BackfillResponse | None:
    """The job's progress (``GET /admin/jobs/{id}``), or None when there is no such job."""
    job = backfill_jobs.fetch_job(conn, job_id)
    return to_response(job) if job else None


def invoke_backfill_async(job_id: int, function_name: str, client: Any = None) -> None:
    """Start (or continue) job ``job_id`` in a fresh ImpactBackfillFunction invocation (asynchronous invoke).

    ``client`` is a boto3 Lambda client (created when None; the Lambda runtime provides boto3).
    """
    if client is None:
        import boto3  # the Lambda runtime provides boto3; only the API's admin route pays for it

        client = boto3.client("lambda")
    client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps({"job_id": job_id}).encode())


def sqs_continuation(queue_url: str, client: Any = None) -> ContinueLater:
    """A continuation that sends ``{"job_id"}`` to the backfill's SQS queue (consumed by the same function)."""

    def send(job_id: int) -> None:
        sqs = client
        if sqs is None:
            import boto3  # the Lambda runtime provides boto3

            sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"job_id": job_id}))
        logger.info("backfill continuation queued", job_id=job_id)

    return send


def retrying(work: Callable[..., Any], *args: Any) -> Any:
    """Run ``work(*args)`` (one transaction), again after a short random pause when it lost a lock race."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return work(*args)
        except _RETRYABLE:
            if attempt == _ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.2) * attempt)
    raise AssertionError("unreachable")


class _Restart(Exception):
    """The active weights changed under the job: start the scan over with the new version."""


class _Run:
    """One invocation's work on one locked job."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        job: BackfillJobRow,
        settings: BackfillSettings,
        remaining_ms: RemainingMs,
        on_batch: Callable[[BatchReport], None] | None,
    ) -> None:
        self.conn = conn
        self.job = job
        self.settings = settings
        self.remaining_ms = remaining_ms
        self.on_batch = on_batch
        self.mark = time.monotonic()
        ceiling = settings.backfill_batch_size
        # resized batches stay between the floor and the ceiling; tiny configured sizes (tests) stay fixed
        self.batch_floor = min(ceiling, max(100, ceiling // 20))
        adaptive = settings.backfill_batch_target_ms > 0
        self.batch_size = max(self.batch_floor, ceiling // 5) if adaptive else ceiling  # grow into the ceiling

    def _resize(self, rows: int, seconds: float) -> None:
        """Aim the next batch at the target duration from this one's rows per second (x0.5 to x1.5 per batch)."""
        target = self.settings.backfill_batch_target_ms / 1000
        if target <= 0 or rows < self.batch_size or seconds <= 0:
            return  # fixed size, or a short last batch that says nothing about the rate
        wanted = int(rows * target / seconds)
        wanted = max(self.batch_size // 2, min(self.batch_size * 3 // 2, wanted))
        self.batch_size = max(self.batch_floor, min(self.settings.backfill_batch_size, wanted))

    def out_of_time(self) -> bool:
        return self.remaining_ms() < self.settings.backfill_time_margin_ms

    def checkpoint(self, add: dict[str, int] | None = None, **values: Any) -> None:
        """Record progress (inside the caller's transaction when there is one), with the time worked since last."""
        now = time.monotonic()
        worked = int((now - self.mark) * 1000)
        self.mark = now
        backfill_jobs.update_job(self.conn, self.job.job_id, add={**(add or {}), "duration_ms": worked}, **values)

    def _set_lock_timeout(self) -> None:
        timeout = f"{self.settings.backfill_lock_timeout_ms}ms"
        self.conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(timeout)))

    def _batch(self, after: str | None, weights: ImpactWeightsResponse, batch_no: int) -> str | None:
        """Rescore and checkpoint the next batch after ``after``; returns its last key, None when none is left."""
        started = time.perf_counter()
        with self.conn.transaction():
            self._set_lock_timeout()
            active = self.conn.execute("SELECT active_impact_version()").fetchone()
            if not active or active[0] != weights.version:
                raise _Restart
            bound = impact_rescore.next_batch_bound(self.conn, after, self.batch_size)
            if bound.rows == 0 or bound.hi is None:
                return None
            updated = impact_rescore.rescore_range(
                self.conn, after, bound.hi, weights.version, weights.weights, stale_only=self.job.mode == "stale"
            )
            self.checkpoint(
                {"videos_scanned": bound.rows, "videos_updated": updated, "batches": 1}, last_video_id=bound.hi
            )
        seconds = time.perf_counter() - started
        self._resize(bound.rows, seconds)
        if self.on_batch is not None:
            self.on_batch(BatchReport(self.job.job_id, batch_no, bound.rows, updated, seconds))
        return bound.hi

    def _sweep_stragglers(self, weights: ImpactWeightsResponse) -> None:
        def sweep() -> int:
            with self.conn.transaction():
                self._set_lock_timeout()
                n = impact_rescore.rescore_stale_stragglers(
                    self.conn, weights.version, weights.weights, self.settings.backfill_batch_size
                )
                if n:
                    self.checkpoint({"videos_updated": n})
                return n

        while retrying(sweep):
            pass

    def _reset(self, weights: ImpactWeightsResponse) -> BackfillJobRow:
        self.checkpoint(
            weights_version=weights.version,
            phase="videos",
            last_video_id=None,
            aggregate_steps_done=0,
            aggregate_steps_completed=[],
        )
        job = backfill_jobs.fetch_job(self.conn, self.job.job_id)
        assert job is not None
        return job

    def execute(self) -> Literal["completed", "continuing"]:
        """Work until the job completes or the time runs short."""
        while True:
            weights = fetch_active_weights(self.conn)
            if self.job.weights_version != weights.version:
                if self.job.weights_version is not None:
                    logger.info("weights changed: backfill scan restarts", job_id=self.job.job_id, to=weights.version)
                self.job = self._reset(weights)
            try:
                if self._videos_phase(weights) == "continuing":
                    return "continuing"
            except _Restart:
                self.job = self._reset(fetch_active_weights(self.conn))
                continue
            if self._aggregates_phase() == "continuing":
                return "continuing"
            if fetch_active_weights(self.conn).version == weights.version:
                self.checkpoint(phase="done", status="completed", finished_at=_now(self.conn))
                return "completed"

    def _videos_phase(self, weights: ImpactWeightsResponse) -> Literal["done", "continuing"]:
        job = backfill_jobs.fetch_job(self.conn, self.job.job_id)
        assert job is not None
        self.job = job
        if job.phase != "videos":
            return "done"
        after = job.last_video_id
        if job.mode == "stale" and after is None and impact_rescore.count_stale(self.conn, weights.version) == 0:
            logger.info("no stale videos: scan skipped", job_id=job.job_id)
        else:
            batch_no = job.batches
            while True:
                if self.out_of_time():
                    return "continuing"
                batch_no += 1
                next_after = retrying(self._batch, after, weights, batch_no)
                if next_after is None:
                    break
                after = next_after
        self._sweep_stragglers(weights)
        self.checkpoint(phase="aggregates")
        return "done"

    def _aggregates_phase(self) -> Literal["done", "continuing"]:
        job = backfill_jobs.fetch_job(self.conn, self.job.job_id)
        assert job is not None
        self.job = job
        # Checkpointed by step name, not by position: a deploy that changes the step list while a job is between two
        # steps must not make it skip a step it never ran. A step of the current list that the job has not recorded
        # runs (again, for a job checkpointed by a count before sql/0018: every step is idempotent).
        done = set(job.aggregate_steps_completed)
        for step in TOTALS_STEPS:
            if step.name in done:
                continue
            if self.out_of_time():
                return "continuing"

            def refresh(s: RepairStep = step) -> None:
                completed = done | {s.name}

                def checkpoint(written: int) -> None:  # in the transaction that ends the step
                    self.checkpoint(
                        {"aggregates_updated": written},
                        aggregate_steps_done=sum(1 for t in TOTALS_STEPS if t.name in completed),
                        aggregate_steps_completed=sorted(completed),
                    )

                # ingest is held off only if the step finds rows to write
                run_step(
                    self.conn,
                    s,
                    lock_timeout_ms=self.settings.backfill_lock_timeout_ms,
                    work_mem_mb=self.settings.repair_work_mem_mb,
                    statement_timeout_ms=self.settings.repair_statement_timeout_ms,
                    write_batch_rows=self.settings.repair_write_batch_rows,
                    then=checkpoint,
                )

            retrying(refresh)
            done.add(step.name)
            logger.debug("aggregate step done", job_id=job.job_id, step=step.name)
        return "done"


def _now(conn: psycopg.Connection[Any]) -> Any:
    row = conn.execute("SELECT now()").fetchone()
    return row[0] if row else None


def backfill_impact(
    conn: psycopg.Connection[Any],
    request: BackfillRequest,
    *,
    settings: BackfillSettings,
    remaining_ms: RemainingMs | None = None,
    continue_later: ContinueLater | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
) -> BackfillResponse:
    """Run (or continue) a backfill job until it completes or the invocation's time runs short.

    Parameters
    ----------
    conn
        An autocommit connection (each batch is its own transaction).
    request
        ``job_id`` continues that job; without it the unfinished job is resumed, or a new one in ``mode`` starts.
    settings
        Batch size, lock timeout and the time margin.
    remaining_ms
        Milliseconds left in this invocation (``context.get_remaining_time_in_millis``); None: unlimited.
    continue_later
        Called with the job id after a clean stop (status ``continuing``), e.g. :func:`sqs_continuation`.
    on_batch
        Called after every committed batch of the videos phase.

    Returns
    -------
    BackfillResponse
        ``completed``, ``continuing`` (stopped before the deadline; continued elsewhere), or ``failed`` (``error``
        says why; the job resumes from its checkpoint when invoked again with its id). A job another invocation is
        working on is returned as it is, status ``running``.

    Raises
    ------
    BackfillJobNotFoundError
        ``request.job_id`` names no job.
    """
    if request.job_id is not None:
        found = backfill_jobs.fetch_job(conn, request.job_id)
        if found is None:
            raise BackfillJobNotFoundError(f"job_id: no backfill job {request.job_id}")
        job = found
    else:
        job, _ = backfill_jobs.create_job(conn, request.mode)
    if job.status == "completed" or not backfill_jobs.try_lock_job(conn, job.job_id):
        logger.info("backfill job not run here", job_id=job.job_id, status=job.status)
        return to_response(job)
    started = time.monotonic()
    try:
        current = backfill_jobs.fetch_job(conn, job.job_id)
        assert current is not None
        if current.status != "completed":
            backfill_jobs.update_job(conn, job.job_id, add={"invocations": 1}, status="running", error=None)
            run = _Run(conn, current, settings, remaining_ms or (lambda: 1 << 62), on_batch)
            if run.execute() == "continuing":
                run.checkpoint(status="continuing")
    except Exception as exc:
        logger.exception("backfill failed", job_id=job.job_id)
        worked = int((time.monotonic() - started) * 1000)
        backfill_jobs.update_job(conn, job.job_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        logger.info("backfill job failed", job_id=job.job_id, worked_ms=worked)
    finally:
        if not conn.broken:
            backfill_jobs.unlock_job(conn, job.job_id)
    final = backfill_jobs.fetch_job(conn, job.job_id)
    assert final is not None
    response = to_response(final)
    metrics.add_metric(name="BackfillBatches", unit=MetricUnit.Count, value=final.batches)
    if response.status == "failed":
        metrics.add_metric(name="BackfillFailures", unit=MetricUnit.Count, value=1)
    if response.status == "continuing" and continue_later is not None:
        continue_later(final.job_id)
    logger.info("backfill invocation done", **response.model_dump(exclude={"error"}))
    return response


class BackfillRunner:
    """What ImpactBackfillFunction runs: direct invokes, and continuation records from its SQS queue."""

    def __init__(
        self, conn: psycopg.Connection[Any], settings: BackfillSettings, remaining_ms: RemainingMs | None = None
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.remaining_ms = remaining_ms
        queue = settings.backfill_continuation_queue_url
        self.continue_later: ContinueLater | None = sqs_continuation(queue) if queue else None

    def run(self, request: BackfillRequest) -> BackfillResponse:
        """A direct invoke (or the API's asynchronous one)."""
        return backfill_impact(
            self.conn,
            request,
            settings=self.settings,
            remaining_ms=self.remaining_ms,
            continue_later=self.continue_later,
        )

    def continue_from_record(self, record: BackfillContinuationRecord) -> dict[str, Any]:
        """One continuation message; a failed run fails the record (retried by SQS, then dead-lettered)."""
        response = self.run(BackfillRequest(job_id=record.body.job_id))
        if response.status == "failed":
            raise BackfillFailedError(f"backfill job {response.job_id} failed: {response.error}")
        return response.model_dump(mode="json")
