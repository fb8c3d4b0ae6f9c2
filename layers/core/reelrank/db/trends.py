"""Hashtag trend scores (``GET /hashtags?sort=trending``): the views a hashtag's videos gained in the last 7 days.

A video's gain over the window ``(as_of - 7 days, as_of]`` is read from ``video_metric_snapshots`` (ingest and view
tracking both write it):

- the views of its latest snapshot inside the window,
- minus its views at the window's start: those of its latest snapshot before the window (looked for up to
  ``LOOKBACK`` earlier); a video posted inside the window with no earlier snapshot counts from 0, so a new video's
  views all count as gained; a video posted before the window but first observed inside it counts only what it
  gained between its observations inside the window (its views at the start are unknown, and counting all of them
  would make every newly scraped old video "trend");
- never below 0 (a platform correcting a count down does not make a hashtag un-trend).

A video not observed inside the window gained nothing that anyone saw. A hashtag's trend score on a platform is the sum
of the gains of its videos on that platform (``hashtag_platform_totals.trend_score``), and ``hashtags_hot.trend_score``
is the sum over platforms.

A refresh has two phases (:func:`refresh_trend_scores` runs both in one transaction):

1. :func:`compute_trend_changes`, read-only and without any lock ingest waits for: the scores are computed from the
   snapshots in plain SELECTs (which PostgreSQL may run with parallel workers; a statement that writes never gets a
   parallel plan) into the temporary table ``trend_changes``, holding only the rows whose score differs from the one
   stored (0 where a hashtag stopped gaining views); almost all of the refresh's time is here.
2. :func:`write_trend_changes`, which writes those rows. Reconcile runs it after taking ingest's bucket locks
   (``reelrank.services.trends``), so ingest waits only for this short UPDATE.

Snapshots ingested between the two phases are not in the scores until the next refresh. That is by design: the
score is a daily trend, not an exact aggregate (ingest never touches it, ``aggregate_drift`` does not check it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg

WINDOW = timedelta(days=7)
LOOKBACK = timedelta(days=30)  # how far before the window a video's last observation counts as its starting views

# Phase 1a: each (hashtag, platform)'s score. One pass over the snapshots of the lookback and the window grouped per
# video (its last views before the window, its first and last inside it); the videos posted inside the window are a
# range of videos_hot's recent index; the gains summed per (hashtag, platform) through the facts. A plain SELECT
# (CREATE TABLE AS may run it with parallel workers).
TREND_SCORES: LiteralString = """
SELECT f.hashtag, f.platform, sum(g.gained)::numeric AS trend
FROM (SELECT w.video_id,
             w.last_views - coalesce(w.base_views, CASE WHEN n.video_id IS NULL THEN w.first_views ELSE 0 END)
                 AS gained
      FROM (SELECT s.video_id,
                   (max(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                        FILTER (WHERE s.observed_at <= %(start)s))[2] AS base_views,
                   (min(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                        FILTER (WHERE s.observed_at > %(start)s))[2] AS first_views,
                   (max(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                        FILTER (WHERE s.observed_at > %(start)s))[2] AS last_views
            FROM video_metric_snapshots s
            WHERE s.observed_at > %(lookback)s AND s.observed_at <= %(as_of)s AND s.views_count IS NOT NULL
            GROUP BY s.video_id
            HAVING max(s.observed_at) > %(start)s) w
      LEFT JOIN (SELECT video_id FROM videos_hot WHERE created_at > %(start)s) n ON n.video_id = w.video_id) g
JOIN video_hashtag_facts f ON f.video_id = g.video_id
WHERE g.gained > 0
GROUP BY f.hashtag, f.platform
"""

# Phase 1b: the rows to write, compared with the stored scores — the rows scored now, plus the rows still scored from
# the last run (set to 0). platform NULL is a hashtags_hot row (the sum over platforms).
TREND_CHANGES: LiteralString = """
SELECT coalesce(n.hashtag, o.hashtag) AS hashtag, coalesce(n.platform, o.platform) AS platform,
       coalesce(n.trend, 0) AS trend
FROM trend_scores n
FULL JOIN (SELECT hashtag, platform, trend_score FROM hashtag_platform_totals WHERE trend_score > 0) o
       ON o.hashtag = n.hashtag AND o.platform = n.platform
WHERE coalesce(n.trend, 0) <> coalesce(o.trend_score, 0)
UNION ALL
SELECT coalesce(n.hashtag, o.hashtag), NULL, coalesce(n.trend, 0)
FROM (SELECT hashtag, sum(trend) AS trend FROM trend_scores GROUP BY hashtag) n
FULL JOIN (SELECT hashtag, trend_score FROM hashtags_hot WHERE trend_score > 0) o ON o.hashtag = n.hashtag
WHERE coalesce(n.trend, 0) <> coalesce(o.trend_score, 0)
"""

# Phase 2 (ingest held off by the caller): the changed rows, through each table's primary key. A row whose stored
# score already equals the computed one is skipped, so a second run writes nothing.
WRITE_TREND_CHANGES: LiteralString = """
WITH platform_rows AS (
    UPDATE hashtag_platform_totals t SET trend_score = c.trend
    FROM trend_changes c
    WHERE c.platform IS NOT NULL AND t.hashtag = c.hashtag AND t.platform = c.platform AND t.trend_score <> c.trend
    RETURNING 1
), hashtag_rows AS (
    UPDATE hashtags_hot h SET trend_score = c.trend
    FROM trend_changes c
    WHERE c.platform IS NULL AND h.hashtag = c.hashtag AND h.trend_score <> c.trend
    RETURNING 1
)
SELECT (SELECT count(*) FROM hashtag_rows) AS hashtags, (SELECT count(*) FROM platform_rows) AS platform_rows
"""

# the per-video grouping holds one entry per video observed in the last 37 days: at the default 4 MB it spills to disk
TREND_WORK_MEM: LiteralString = "SET LOCAL work_mem = '256MB'"
# no JIT: the plan runs once a day, and compiling it costs more than it saves (as reconcile's repair steps)
TREND_JIT: LiteralString = "SET LOCAL jit = off"


@dataclass(frozen=True)
class TrendRefresh:
    """What one refresh wrote: ``hashtags_hot`` rows and ``hashtag_platform_totals`` rows whose score changed, and how
    many hashtags have a positive score now."""

    hashtags: int
    platform_rows: int
    trending: int


def compute_trend_changes(
    conn: psycopg.Connection[Any], as_of: datetime | None = None, *, window: timedelta = WINDOW
) -> int:
    """Phase 1: fill the temporary table ``trend_changes (hashtag, platform, trend)`` with the scores to write.

    Read-only and lock-free for ingest (it takes only the share locks of its reads). Must run inside a transaction:
    the temporary tables (``trend_scores``, ``trend_changes``) are dropped at its commit. Sets ``work_mem`` and
    ``jit`` for that transaction.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    as_of
        The end of the window (default: now); the scores are the views gained in ``(as_of - window, as_of]``.
    window
        The trend window (7 days).

    Returns
    -------
    int
        How many hashtags have a positive score.
    """
    end = as_of or datetime.now(UTC)
    start = end - window
    conn.execute(TREND_WORK_MEM)
    conn.execute(TREND_JIT)
    # left by an earlier refresh in the same still-open transaction (a caller's own, around a savepoint)
    conn.execute("DROP TABLE IF EXISTS pg_temp.trend_scores, pg_temp.trend_changes")
    conn.execute(
        "CREATE TEMPORARY TABLE trend_scores ON COMMIT DROP AS " + TREND_SCORES,
        {"as_of": end, "start": start, "lookback": start - LOOKBACK},
        prepare=False,
    )
    conn.execute("CREATE TEMPORARY TABLE trend_changes ON COMMIT DROP AS " + TREND_CHANGES)
    # statistics for the write's plan: none after a quiet day, the whole hashtag table when the window moved far
    conn.execute("ANALYZE trend_changes")
    row = conn.execute("SELECT count(DISTINCT hashtag) FROM trend_scores").fetchone()
    return int(row[0]) if row else 0


def write_trend_changes(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """Phase 2: write the rows :func:`compute_trend_changes` found; returns (hashtags_hot rows, platform rows) written.

    Runs in the same transaction as phase 1 (it reads its temporary table). Its UPDATE locks hashtag rows in join
    order, not in ingest's key order: the caller holds ingest off first (``lock_out_ingest``).
    """
    row = conn.execute(WRITE_TREND_CHANGES).fetchone()
    if row is None:  # one row always; kept for the type checker
        return 0, 0
    return int(row[0]), int(row[1])


def refresh_trend_scores(
    conn: psycopg.Connection[Any],
    as_of: datetime | None = None,
    *,
    window: timedelta = WINDOW,
) -> TrendRefresh:
    """Recompute every hashtag's trend score (overall and per platform) as of ``as_of`` (default: now): both phases,
    without holding ingest off (for tests and tools; reconcile runs the phases itself, ``reelrank.services.trends``).

    Parameters
    ----------
    conn
        A connection; the refresh runs in a transaction of its own (a savepoint when the caller has one open).
    as_of
        The end of the window; the scores are the views gained in ``(as_of - window, as_of]``.
    window
        The trend window (7 days).

    Returns
    -------
    TrendRefresh
        The rows written (0 and 0 when nothing changed since the last refresh) and the hashtags trending now.
    """
    with conn.transaction():
        trending = compute_trend_changes(conn, as_of, window=window)
        hashtags, platform_rows = write_trend_changes(conn)
    return TrendRefresh(hashtags, platform_rows, trending)
