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

A refresh has two phases (:func:`refresh_trend_scores` runs both):

1. :func:`compute_trend_changes`: one read-only SELECT, without any lock ingest waits for, computes every score from
   the snapshots and compares it with the stored one; it returns only the rows that differ (0 where a hashtag stopped
   gaining views). Almost all of the refresh's time is here. Being a plain SELECT, PostgreSQL may run it with
   parallel workers (a statement that writes never gets a parallel plan; at a million videos on 2 busy cores the
   planner kept it serial, and a forced parallel plan was slower); it needs no temporary table.
2. :func:`write_trend_changes`: the changed rows in batches of :data:`WRITE_BATCH`, through the primary keys. Each
   rewritten row is a non-HOT update of a table with 7-9 indexes (trend_score is indexed), 40-70 µs a row at a
   million videos on a loaded machine: a day's changes (most trending hashtags, two rows each) take seconds, so
   reconcile writes each batch in its own short transaction holding ingest's bucket locks
   (``reelrank.services.trends``); ingest waits for one batch at most (0.1-0.4 s measured at a million videos).

Snapshots ingested after phase 1 started are not in the scores until the next refresh, and while the batches are
written (seconds) some hashtags already show the new score beside others still showing the last one. That is by
design: the score is a daily trend, not an exact aggregate (ingest never touches it, ``aggregate_drift`` does not
check it). The changed rows come back to the caller rather than into a temporary table: the batches are separate
transactions, which a temporary table would only outlive with ON COMMIT PRESERVE ROWS, pinning the session to its
connection behind RDS Proxy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg

WINDOW = timedelta(days=7)
LOOKBACK = timedelta(days=30)  # how far before the window a video's last observation counts as its starting views
# rows of hashtags_hot and hashtag_platform_totals written per transaction (~0.1-0.2 s at a million videos)
WRITE_BATCH = 2000

# Phase 1: the rows whose score changes. One pass over the snapshots of the lookback and the window grouped per video:
# its last views before the window, its first and last inside it, each the second element of the max/min of
# [epoch, views] arrays. float8, not numeric: date_part's epoch keeps distinct microseconds distinct and in order until
# 2106 (its spacing is under 0.5 µs below 2^32 s), views are exact below 2^53, and it groups twice as fast as
# extract()'s numeric. Each video's gain computed once (MATERIALIZED: the videos posted inside the window are a range
# of videos_hot's recent index); the gains summed per (hashtag, platform) through the facts; compared with the stored
# scores, the rows still scored from the last run included (set to 0). platform NULL is a hashtags_hot row (the sum
# over platforms).
TREND_CHANGES: LiteralString = """
WITH gains AS MATERIALIZED (
    SELECT g.video_id, g.gained
    FROM (SELECT w.video_id,
                 (w.last_views - coalesce(w.base_views, CASE WHEN n.video_id IS NULL THEN w.first_views ELSE 0 END))
                     ::bigint AS gained
          FROM (SELECT s.video_id,
                       (max(ARRAY[date_part('epoch', s.observed_at), s.views_count::float8])
                            FILTER (WHERE s.observed_at <= %(start)s))[2] AS base_views,
                       (min(ARRAY[date_part('epoch', s.observed_at), s.views_count::float8])
                            FILTER (WHERE s.observed_at > %(start)s))[2] AS first_views,
                       (max(ARRAY[date_part('epoch', s.observed_at), s.views_count::float8])
                            FILTER (WHERE s.observed_at > %(start)s))[2] AS last_views
                FROM video_metric_snapshots s
                WHERE s.observed_at > %(lookback)s AND s.observed_at <= %(as_of)s AND s.views_count IS NOT NULL
                GROUP BY s.video_id
                HAVING max(s.observed_at) > %(start)s) w
          LEFT JOIN (SELECT video_id FROM videos_hot WHERE created_at > %(start)s) n ON n.video_id = w.video_id) g
    WHERE g.gained > 0
), scores AS MATERIALIZED (
    SELECT f.hashtag, f.platform, sum(g.gained) AS trend
    FROM gains g JOIN video_hashtag_facts f ON f.video_id = g.video_id
    GROUP BY f.hashtag, f.platform
)
SELECT coalesce(n.hashtag, o.hashtag) AS hashtag, coalesce(n.platform, o.platform) AS platform,
       coalesce(n.trend, 0) AS trend
FROM scores n
FULL JOIN (SELECT hashtag, platform, trend_score FROM hashtag_platform_totals WHERE trend_score > 0) o
       ON o.hashtag = n.hashtag AND o.platform = n.platform
WHERE coalesce(n.trend, 0) <> coalesce(o.trend_score, 0)
UNION ALL
SELECT coalesce(n.hashtag, o.hashtag), NULL, coalesce(n.trend, 0)
FROM (SELECT hashtag, sum(trend) AS trend FROM scores GROUP BY hashtag) n
FULL JOIN (SELECT hashtag, trend_score FROM hashtags_hot WHERE trend_score > 0) o ON o.hashtag = n.hashtag
WHERE coalesce(n.trend, 0) <> coalesce(o.trend_score, 0)
UNION ALL
SELECT NULL, NULL, count(DISTINCT hashtag) FROM scores  -- the hashtags trending now
"""

# Phase 2, one batch: the changed rows through each table's primary key. A row whose stored score already equals the
# computed one is skipped, so a second run writes nothing.
WRITE_TREND_CHANGES: LiteralString = """
WITH c AS (
    SELECT * FROM unnest(%(hashtags)s::text[], %(platforms)s::text[], %(trends)s::numeric[]) AS c(hashtag, platform, trend)
), platform_rows AS (
    UPDATE hashtag_platform_totals t SET trend_score = c.trend
    FROM c
    WHERE c.platform IS NOT NULL AND t.hashtag = c.hashtag AND t.platform = c.platform AND t.trend_score <> c.trend
    RETURNING 1
), hashtag_rows AS (
    UPDATE hashtags_hot h SET trend_score = c.trend
    FROM c
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


@dataclass(frozen=True, slots=True)
class TrendChange:
    """A score to write: a ``hashtag_platform_totals`` row, or (``platform`` None) a ``hashtags_hot`` row."""

    hashtag: str
    platform: str | None
    trend: int


@dataclass(frozen=True)
class TrendChanges:
    """Phase 1's result: the rows to write (in hashtag order) and how many hashtags have a positive score."""

    rows: list[TrendChange]
    trending: int

    def batches(self, size: int | None = None) -> Iterator[list[TrendChange]]:
        """The rows in consecutive batches of at most ``size`` (default :data:`WRITE_BATCH`)."""
        size = size or WRITE_BATCH
        for start in range(0, len(self.rows), size):
            yield self.rows[start : start + size]


def compute_trend_changes(
    conn: psycopg.Connection[Any], as_of: datetime | None = None, *, window: timedelta = WINDOW
) -> TrendChanges:
    """Phase 1: every hashtag's score as of ``as_of``, and the rows whose stored score differs. Read-only.

    Parameters
    ----------
    conn
        A connection; the query runs in a transaction of its own (a savepoint inside the caller's), with ``work_mem``
        and ``jit`` set for it. It takes only the share locks of its reads: ingest goes on meanwhile.
    as_of
        The end of the window (default: now); the scores are the views gained in ``(as_of - window, as_of]``.
    window
        The trend window (7 days).

    Returns
    -------
    TrendChanges
        The rows to write, and the hashtags trending now.
    """
    end = as_of or datetime.now(UTC)
    start = end - window
    with conn.transaction():
        conn.execute(TREND_WORK_MEM)
        conn.execute(TREND_JIT)
        found = conn.execute(
            TREND_CHANGES, {"as_of": end, "start": start, "lookback": start - LOOKBACK}, prepare=False
        ).fetchall()
    trending = 0
    rows: list[TrendChange] = []
    for hashtag, platform, trend in found:
        if hashtag is None:
            trending = int(trend)
        else:
            rows.append(TrendChange(str(hashtag), None if platform is None else str(platform), int(trend)))
    rows.sort(key=lambda r: (r.hashtag, r.platform or ""))
    return TrendChanges(rows, trending)


def write_trend_changes(conn: psycopg.Connection[Any], rows: Sequence[TrendChange]) -> tuple[int, int]:
    """Phase 2, one batch: write ``rows`` in the caller's transaction; returns (hashtags_hot rows, platform rows) written.

    Its UPDATE locks hashtag rows in join order, not in ingest's key order: reconcile holds ingest off first
    (``lock_out_ingest``). A row already holding its score (rewritten meanwhile by another refresh) is not written.
    """
    if not rows:
        return 0, 0
    row = conn.execute(
        WRITE_TREND_CHANGES,
        {
            "hashtags": [r.hashtag for r in rows],
            "platforms": [r.platform for r in rows],
            "trends": [r.trend for r in rows],
        },
    ).fetchone()
    if row is None:  # one row always; kept for the type checker
        return 0, 0
    return int(row[0]), int(row[1])


def refresh_trend_scores(
    conn: psycopg.Connection[Any], as_of: datetime | None = None, *, window: timedelta = WINDOW
) -> TrendRefresh:
    """Recompute every hashtag's trend score (overall and per platform) as of ``as_of`` (default: now): both phases,
    every batch in one transaction, without holding ingest off (for tests and tools; reconcile runs the phases itself,
    ``reelrank.services.trends``).

    Parameters
    ----------
    conn
        A connection; the refresh runs in transactions of its own (savepoints when the caller has one open).
    as_of
        The end of the window; the scores are the views gained in ``(as_of - window, as_of]``.
    window
        The trend window (7 days).

    Returns
    -------
    TrendRefresh
        The rows written (0 and 0 when nothing changed since the last refresh) and the hashtags trending now.
    """
    changes = compute_trend_changes(conn, as_of, window=window)
    with conn.transaction():
        hashtags, platform_rows = write_trend_changes(conn, changes.rows)
    return TrendRefresh(hashtags, platform_rows, changes.trending)
