"""Data access for ``backfill_jobs`` (sql/0009): create, find, lock and checkpoint Impact backfill jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

# Advisory lock class of backfill jobs (ingest's video buckets use 0x7EE1, the tracking run 0x7EE2).
JOB_LOCK_CLASS = 0x7EE3


@dataclass(frozen=True, slots=True)
class BackfillJobRow:
    """One row of ``backfill_jobs``."""

    job_id: int
    mode: str
    status: str
    weights_version: int | None
    phase: str
    last_video_id: str | None
    aggregate_steps_done: int
    aggregate_steps_completed: list[str]
    videos_scanned: int
    videos_updated: int
    batches: int
    aggregates_updated: int
    invocations: int
    duration_ms: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None


_SELECT = sql.SQL(
    "SELECT job_id, mode, status, weights_version, phase, last_video_id, aggregate_steps_done,"
    " aggregate_steps_completed, videos_scanned,"
    " videos_updated, batches, aggregates_updated, invocations, duration_ms, error, created_at, finished_at"
    " FROM backfill_jobs"
)
_UNFINISHED = ("pending", "running", "continuing")


def fetch_job(conn: psycopg.Connection[Any], job_id: int) -> BackfillJobRow | None:
    """The job with this id, or None."""
    with conn.cursor(row_factory=class_row(BackfillJobRow)) as cur:
        return cur.execute(_SELECT + sql.SQL(" WHERE job_id = %s"), (job_id,)).fetchone()


def fetch_unfinished_job(conn: psycopg.Connection[Any]) -> BackfillJobRow | None:
    """The one job not yet completed or failed (a partial unique index allows at most one), or None."""
    with conn.cursor(row_factory=class_row(BackfillJobRow)) as cur:
        return cur.execute(_SELECT + sql.SQL(" WHERE status = ANY(%s)"), (list(_UNFINISHED),)).fetchone()


def create_job(conn: psycopg.Connection[Any], mode: str) -> tuple[BackfillJobRow, bool]:
    """A new pending job, or the unfinished one if there is one; the flag says whether it was created now."""
    for _ in range(3):
        row = conn.execute(
            "INSERT INTO backfill_jobs (mode) VALUES (%s)"
            " ON CONFLICT ((true)) WHERE status IN ('pending', 'running', 'continuing') DO NOTHING RETURNING job_id",
            (mode,),
        ).fetchone()
        job = fetch_job(conn, int(row[0])) if row else fetch_unfinished_job(conn)
        if job is not None:
            return job, row is not None
    # the unfinished job finished between the two statements three times in a row
    raise RuntimeError("could not create a backfill job: the unfinished one keeps changing")


def try_lock_job(conn: psycopg.Connection[Any], job_id: int) -> bool:
    """Take the job's session lock unless another session holds it.

    A session lock, not a lease: when an invocation is killed its connection closes and the lock goes with it, so the
    next invocation resumes at once from the last checkpoint instead of waiting for a lease to expire.
    """
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (JOB_LOCK_CLASS, job_id)).fetchone()
    return bool(row and row[0])


def unlock_job(conn: psycopg.Connection[Any], job_id: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (JOB_LOCK_CLASS, job_id))


def update_job(conn: psycopg.Connection[Any], job_id: int, *, add: dict[str, int] | None = None, **values: Any) -> None:
    """Set columns to ``values`` and add ``add``'s amounts to counters, stamping ``updated_at``.

    Column names come from this module's callers only (never from user input); they are quoted as identifiers.
    """
    assignments: list[sql.Composable] = [sql.SQL("updated_at = now()")]
    params: list[Any] = []
    for column, value in values.items():
        assignments.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    for column, amount in (add or {}).items():
        assignments.append(sql.SQL("{0} = {0} + %s").format(sql.Identifier(column)))
        params.append(amount)
    conn.execute(
        sql.SQL("UPDATE backfill_jobs SET {} WHERE job_id = %s").format(sql.SQL(", ").join(assignments)),
        (*params, job_id),
    )
