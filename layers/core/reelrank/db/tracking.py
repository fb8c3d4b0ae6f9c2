"""Data access for view tracking: runs (``tracking_jobs``), the quota ledger, priorities, and the per-batch write.

Tiers, due times and priority scores are SQL functions (``sql/0010_view_tracking_schedule.sql``), so the run, the tier
refresh and the enrolment trigger of new YouTube videos share one definition. Current metrics go through
:func:`reelrank.db.ingest_writes.write_metrics`, ingest's set-based path, so every aggregate stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from reelrank.db.ingest_writes import PRIOR_METRICS_TABLE, MetricObservation, write_metrics
from reelrank.models.view_tracking import FastGrowerOut, TierCount, TrackingJobOut

# Advisory lock (session level) held by the one tracking run allowed at a time.
TRACKING_LOCK_CLASS = 0x7EE2
MAX_JOB_ERRORS = 50

_JOB_COLUMNS = sql.SQL(
    "job_id, status, trigger, requested_limit, started_at, finished_at, api_calls, videos_due, videos_tracked,"
    " videos_missing, videos_unavailable, quota_units_used, stopped_reason, errors"
)


@dataclass(frozen=True, slots=True)
class FetchedVideo:
    """A video's counts from the API; ``likes`` / ``comments`` None when hidden."""

    video_id: str
    views: int
    likes: int | None
    comments: int | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    tracked: int
    missing: int
    became_unavailable: int


# ------------------------------------------------------------------------------------------------------------- runs
def try_lock_runs(conn: psycopg.Connection[Any]) -> bool:
    """Take the session-level lock of the single running tracking run; False when another run holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, 0)", (TRACKING_LOCK_CLASS,)).fetchone()
    return bool(row and row[0])


def unlock_runs(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, 0)", (TRACKING_LOCK_CLASS,))


def fail_interrupted_jobs(conn: psycopg.Connection[Any]) -> int:
    """Mark jobs left ``running`` by a run that died as failed (call while holding the run lock: none is alive)."""
    cur = conn.execute(
        """
        UPDATE tracking_jobs SET status = 'failed', finished_at = now(),
            errors = errors || '["interrupted: the run ended without finishing (timeout or crash)"]'::jsonb
        WHERE status = 'running'
        """
    )
    return cur.rowcount


def create_job(
    conn: psycopg.Connection[Any], *, trigger: str, limit: int | None, status: str = "running"
) -> TrackingJobOut:
    """A new run row (``queued`` for a run the admin API asked for, ``running`` for one starting now)."""
    with conn.cursor(row_factory=class_row(TrackingJobOut)) as cur:
        row = cur.execute(
            sql.SQL(
                "INSERT INTO tracking_jobs (status, trigger, requested_limit) VALUES (%s, %s, %s) RETURNING {}"
            ).format(_JOB_COLUMNS),
            (status, trigger, limit),
        ).fetchone()
    assert row is not None
    return row


def start_job(conn: psycopg.Connection[Any], job_id: int) -> TrackingJobOut:
    """Move a queued job to running (its start time becomes now)."""
    with conn.cursor(row_factory=class_row(TrackingJobOut)) as cur:
        row = cur.execute(
            sql.SQL(
                "UPDATE tracking_jobs SET status = 'running', started_at = now() WHERE job_id = %s AND status = 'queued'"
                " RETURNING {}"
            ).format(_JOB_COLUMNS),
            (job_id,),
        ).fetchone()
    if row is None:
        raise LookupError(f"tracking job {job_id} does not exist or is not queued")
    return row


def get_job(conn: psycopg.Connection[Any], job_id: int) -> TrackingJobOut:
    with conn.cursor(row_factory=class_row(TrackingJobOut)) as cur:
        row = cur.execute(
            sql.SQL("SELECT {} FROM tracking_jobs WHERE job_id = %s").format(_JOB_COLUMNS), (job_id,)
        ).fetchone()
    if row is None:
        raise LookupError(f"tracking job {job_id} does not exist")
    return row


def last_jobs(conn: psycopg.Connection[Any], limit: int = 10) -> list[TrackingJobOut]:
    with conn.cursor(row_factory=class_row(TrackingJobOut)) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM tracking_jobs ORDER BY started_at DESC, job_id DESC LIMIT %s").format(_JOB_COLUMNS),
            (limit,),
        ).fetchall()


def set_job_due(conn: psycopg.Connection[Any], job_id: int, videos_due: int) -> None:
    conn.execute("UPDATE tracking_jobs SET videos_due = %s WHERE job_id = %s", (videos_due, job_id))


def add_job_progress(
    conn: psycopg.Connection[Any],
    job_id: int,
    *,
    api_calls: int,
    tracked: int,
    missing: int,
    unavailable: int,
    units: int,
    errors: list[str],
) -> None:
    conn.execute(
        """
        UPDATE tracking_jobs SET api_calls = api_calls + %s, videos_tracked = videos_tracked + %s,
            videos_missing = videos_missing + %s, videos_unavailable = videos_unavailable + %s,
            quota_units_used = quota_units_used + %s,
            errors = CASE WHEN jsonb_array_length(errors) >= %s THEN errors ELSE errors || %s END
        WHERE job_id = %s
        """,
        (api_calls, tracked, missing, unavailable, units, MAX_JOB_ERRORS, Jsonb(errors[:MAX_JOB_ERRORS]), job_id),
    )


def finish_job(
    conn: psycopg.Connection[Any], job_id: int, *, status: str, stopped_reason: str | None, errors: list[str]
) -> TrackingJobOut:
    with conn.cursor(row_factory=class_row(TrackingJobOut)) as cur:
        row = cur.execute(
            sql.SQL(
                "UPDATE tracking_jobs SET status = %s, stopped_reason = %s, finished_at = now(),"
                " errors = CASE WHEN jsonb_array_length(errors) >= %s THEN errors ELSE errors || %s END"
                " WHERE job_id = %s RETURNING {}"
            ).format(_JOB_COLUMNS),
            (status, stopped_reason, MAX_JOB_ERRORS, Jsonb(errors[:MAX_JOB_ERRORS]), job_id),
        ).fetchone()
    if row is None:
        raise LookupError(f"tracking job {job_id} does not exist")
    return row


# ------------------------------------------------------------------------------------------------------------ quota
def quota_day(conn: psycopg.Connection[Any], at: datetime) -> date:
    """The YouTube quota day (America/Los_Angeles calendar day, DST-aware) ``at`` falls on."""
    row = conn.execute("SELECT youtube_quota_day(%s)", (at,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def quota_state(conn: psycopg.Connection[Any], day: date) -> tuple[int, bool]:
    """(units spent, exhausted) for ``day``."""
    row = conn.execute(
        "SELECT units_spent, exhausted_at IS NOT NULL FROM api_quota_ledger WHERE quota_day = %s", (day,)
    ).fetchone()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def spend_quota(conn: psycopg.Connection[Any], day: date, units: int, *, exhausted_at: int | None = None) -> None:
    """Add ``units`` to ``day``'s ledger; with ``exhausted_at`` (the day's budget) the day is set to spent."""
    conn.execute(
        """
        INSERT INTO api_quota_ledger AS l (quota_day, units_spent, exhausted_at)
        VALUES (%(day)s, greatest(%(units)s, coalesce(%(budget)s, 0)),
                CASE WHEN %(budget)s::integer IS NOT NULL THEN now() END)
        ON CONFLICT (quota_day) DO UPDATE SET
            units_spent = greatest(l.units_spent + %(units)s, coalesce(%(budget)s, 0)),
            exhausted_at = CASE WHEN %(budget)s::integer IS NOT NULL THEN coalesce(l.exhausted_at, now())
                                ELSE l.exhausted_at END,
            updated_at = now()
        """,
        {"day": day, "units": units, "budget": exhausted_at},
    )


# ------------------------------------------------------------------------------------------------------- priorities
def refresh_tiers(conn: psycopg.Connection[Any], at: datetime, top_performers: int) -> Decimal | None:
    """Enrol YouTube videos that have no priority row, then move videos whose tier changed (they aged, or their
    velocity made or lost the top ``top_performers``); their score and due time follow. Returns the velocity a video
    needs to count as a top performer (None: no velocity known yet)."""
    threshold = top_velocity_threshold(conn, top_performers)
    conn.execute(
        """
        INSERT INTO view_tracking_priority (video_id, tier, priority_score, next_due_at)
        SELECT v.video_id, tracking_tier(v.created_at, false, %(at)s),
               tracking_priority_score(tracking_tier(v.created_at, false, %(at)s), NULL),
               tracking_quota_day_start(%(at)s)
        FROM videos_hot v
        WHERE v.platform = 'youtube' AND NOT EXISTS (SELECT 1 FROM view_tracking_priority p WHERE p.video_id = v.video_id)
        ORDER BY v.video_id
        ON CONFLICT (video_id) DO NOTHING
        """,
        {"at": at},
    )
    conn.execute(
        """
        WITH computed AS (
            SELECT p.video_id,
                   tracking_tier(v.created_at, coalesce(p.velocity >= %(threshold)s, false), %(at)s) AS tier
            FROM view_tracking_priority p JOIN videos_hot v USING (video_id)
            WHERE p.status = 'active'
        )
        UPDATE view_tracking_priority p SET
            tier = c.tier,
            priority_score = tracking_priority_score(c.tier, p.velocity),
            next_due_at = CASE WHEN p.last_tracked_at IS NULL THEN p.next_due_at
                               ELSE tracking_next_due(p.last_tracked_at, c.tier) END,
            updated_at = now()
        FROM computed c
        WHERE p.video_id = c.video_id AND p.tier <> c.tier
        """,
        {"at": at, "threshold": threshold},
    )
    return threshold


def top_velocity_threshold(conn: psycopg.Connection[Any], top_performers: int) -> Decimal | None:
    """The velocity of the ``top_performers``-th fastest active video (read from the velocity index)."""
    if top_performers <= 0:
        return None
    row = conn.execute(
        """
        SELECT velocity FROM view_tracking_priority
        WHERE status = 'active' AND velocity IS NOT NULL AND velocity > 0
        ORDER BY velocity DESC NULLS LAST, video_id OFFSET %s LIMIT 1
        """,
        (top_performers - 1,),
    ).fetchone()
    if row is not None:
        return row[0]  # type: ignore[no-any-return]
    # fewer than top_performers videos have grown: all of them are top performers
    row = conn.execute(
        "SELECT min(velocity) FROM view_tracking_priority WHERE status = 'active' AND velocity > 0"
    ).fetchone()
    return row[0] if row else None


def count_due(conn: psycopg.Connection[Any], at: datetime) -> int:
    row = conn.execute(
        "SELECT count(*) FROM view_tracking_priority WHERE status = 'active' AND next_due_at <= %s", (at,)
    ).fetchone()
    return int(row[0]) if row else 0


def fetch_due_videos(conn: psycopg.Connection[Any], at: datetime, limit: int) -> list[str]:
    """Ids of active videos due at ``at``, most important first (priority score, then longest overdue)."""
    if limit <= 0:
        return []
    rows = conn.execute(
        """
        SELECT video_id FROM view_tracking_priority
        WHERE status = 'active' AND next_due_at <= %s
        ORDER BY priority_score DESC, next_due_at, video_id
        LIMIT %s
        """,
        (at, limit),
    ).fetchall()
    return [r[0] for r in rows]


_RESCHEDULE_TRACKED = sql.SQL("""
UPDATE view_tracking_priority p SET
    velocity = coalesce(n.velocity, p.velocity),
    tier = n.tier,
    priority_score = tracking_priority_score(n.tier, coalesce(n.velocity, p.velocity)),
    next_due_at = tracking_next_due(%(at)s, n.tier),
    last_tracked_at = %(at)s,
    consecutive_misses = 0,
    likes_hidden = n.likes_hidden,
    comments_hidden = n.comments_hidden,
    updated_at = now()
FROM (
    SELECT t.video_id, t.likes_hidden, t.comments_hidden, g.velocity,
           tracking_tier(v.created_at, coalesce(coalesce(g.velocity, p.velocity) >= %(threshold)s, false), %(at)s)
               AS tier
    FROM tracked_now t
    JOIN videos_hot v USING (video_id)
    JOIN view_tracking_priority p USING (video_id)
    LEFT JOIN LATERAL (
        SELECT round((t.views - m.views_count)
                     / (extract(epoch FROM %(at)s - m.metrics_observed_at) / 3600), 4) AS velocity
        FROM {priors} m
        WHERE m.video_id = t.video_id AND m.metrics_observed_at < %(at)s - interval '1 minute'
    ) g ON true
) n
WHERE p.video_id = n.video_id
""").format(priors=sql.Identifier(PRIOR_METRICS_TABLE))

_RESCHEDULE_MISSING = """
WITH missed AS (
    UPDATE view_tracking_priority p SET
        consecutive_misses = p.consecutive_misses + 1,
        status = CASE WHEN p.consecutive_misses + 1 >= %(after)s THEN 'unavailable' ELSE p.status END,
        -- ride out a transient omission: ask again on the next quota day whatever the tier
        next_due_at = tracking_next_due(%(at)s, 1::smallint),
        updated_at = now()
    WHERE p.video_id = ANY(%(ids)s) AND p.status = 'active'
    RETURNING p.status
)
SELECT count(*) FILTER (WHERE status = 'unavailable') FROM missed
"""


def record_batch(
    conn: psycopg.Connection[Any],
    *,
    job_id: int,
    at: datetime,
    fetched: list[FetchedVideo],
    missing: list[str],
    threshold: Decimal | None,
    unavailable_after: int,
) -> BatchOutcome:
    """Write one batch of call results inside the caller's transaction: snapshots and current metrics (ingest's
    set-based path), then each video's velocity, tier and next due time; misses count towards ``unavailable``."""
    tracked = 0
    if fetched:
        result = write_metrics(
            conn,
            [MetricObservation(f.video_id, f.views, f.likes, f.comments, at) for f in fetched],
            source="view_tracking",
            tracking_job_id=job_id,
        )
        tracked = result.updated_videos + result.stale_observations
        conn.execute(
            "CREATE TEMP TABLE tracked_now (video_id text PRIMARY KEY, views bigint NOT NULL,"
            " likes_hidden boolean NOT NULL, comments_hidden boolean NOT NULL) ON COMMIT DROP"
        )
        with (
            conn.cursor() as cur,
            cur.copy("COPY tracked_now (video_id, views, likes_hidden, comments_hidden) FROM STDIN") as copy,
        ):
            for f in {f.video_id: f for f in fetched}.values():
                copy.write_row((f.video_id, f.views, f.likes is None, f.comments is None))
        conn.execute(_RESCHEDULE_TRACKED, {"at": at, "threshold": threshold})
    unavailable = 0
    if missing:
        row = conn.execute(_RESCHEDULE_MISSING, {"at": at, "ids": missing, "after": unavailable_after}).fetchone()
        unavailable = int(row[0]) if row else 0
    return BatchOutcome(tracked=tracked, missing=len(missing), became_unavailable=unavailable)


# ------------------------------------------------------------------------------------------------------------ stats
def tier_counts(conn: psycopg.Connection[Any], at: datetime) -> list[TierCount]:
    """Active videos per tier, with how many are due now and before the next Pacific midnight."""
    rows = conn.execute(
        """
        SELECT tier, count(*), count(*) FILTER (WHERE next_due_at <= %(at)s),
               count(*) FILTER (WHERE next_due_at < tracking_next_due(%(at)s, 1::smallint))
        FROM view_tracking_priority WHERE status = 'active' GROUP BY tier ORDER BY tier
        """,
        {"at": at},
    ).fetchall()
    found = {int(r[0]): TierCount(tier=int(r[0]), videos=r[1], due_now=r[2], due_today=r[3]) for r in rows}
    return [found.get(t, TierCount(tier=t, videos=0, due_now=0, due_today=0)) for t in (1, 2, 3)]


def unavailable_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM view_tracking_priority WHERE status = 'unavailable'").fetchone()
    return int(row[0]) if row else 0


def fastest_growing(conn: psycopg.Connection[Any], limit: int = 10) -> list[FastGrowerOut]:
    """Active videos by views/hour between their last two observations, fastest first (the velocity index)."""
    rows = conn.execute(
        """
        SELECT p.video_id, v.views_count, p.velocity, p.tier, p.last_tracked_at
        FROM view_tracking_priority p JOIN videos_hot v USING (video_id)
        WHERE p.status = 'active' AND p.velocity IS NOT NULL
        ORDER BY p.velocity DESC NULLS LAST, p.video_id LIMIT %s
        """,
        (limit,),
    ).fetchall()
    return [
        FastGrowerOut(video_id=r[0], views=r[1], views_per_hour=float(r[2]), tier=r[3], last_tracked_at=r[4])
        for r in rows
    ]
