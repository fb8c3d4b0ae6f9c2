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
is the sum over platforms. :func:`refresh_trend_scores` recomputes them in one set-based statement that writes only
rows that differ, setting 0 where a hashtag stopped gaining views.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import psycopg

WINDOW = timedelta(days=7)
LOOKBACK = timedelta(days=30)  # how far before the window a video's last observation counts as its starting views

# One statement: one pass over the snapshots of the lookback and the window grouped per video (its last views before
# the window, its first and last inside it), the gains summed per (hashtag, platform) through the facts, and both score
# columns updated where they differ — the rows scored now, plus the rows still scored from the last run.
REFRESH_TREND_SCORES: LiteralString = """
WITH per_video AS (
    SELECT s.video_id,
           (max(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                FILTER (WHERE s.observed_at <= %(start)s))[2] AS base_views,
           (min(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                FILTER (WHERE s.observed_at > %(start)s))[2] AS first_views,
           (max(ARRAY[(extract(epoch FROM s.observed_at) * 1000000)::bigint, s.views_count])
                FILTER (WHERE s.observed_at > %(start)s))[2] AS last_views
    FROM video_metric_snapshots s
    WHERE s.observed_at > %(lookback)s AND s.observed_at <= %(as_of)s AND s.views_count IS NOT NULL
    GROUP BY s.video_id
    HAVING max(s.observed_at) > %(start)s
), gains AS MATERIALIZED (
    -- each video's gain computed once (inlined, it would be recomputed for each of the video's facts); the videos
    -- posted inside the window are a range of videos_hot's recent index
    SELECT g.video_id, g.gained
    FROM (SELECT w.video_id,
                 w.last_views - coalesce(w.base_views, CASE WHEN n.video_id IS NULL THEN w.first_views ELSE 0 END)
                     AS gained
          FROM per_video w
          LEFT JOIN (SELECT video_id FROM videos_hot WHERE created_at > %(start)s) n ON n.video_id = w.video_id) g
    WHERE g.gained > 0
), by_platform AS (
    SELECT f.hashtag, f.platform, sum(g.gained)::numeric AS trend
    FROM gains g JOIN video_hashtag_facts f ON f.video_id = g.video_id
    GROUP BY f.hashtag, f.platform
), by_hashtag AS (
    SELECT hashtag, sum(trend) AS trend FROM by_platform GROUP BY hashtag
), platform_rows AS (
    UPDATE hashtag_platform_totals t SET trend_score = coalesce(n.trend, 0)
    FROM (SELECT hashtag, platform FROM hashtag_platform_totals WHERE trend_score > 0
          UNION SELECT hashtag, platform FROM by_platform) k
    LEFT JOIN by_platform n ON n.hashtag = k.hashtag AND n.platform = k.platform
    WHERE t.hashtag = k.hashtag AND t.platform = k.platform AND t.trend_score <> coalesce(n.trend, 0)
    RETURNING 1
), hashtag_rows AS (
    UPDATE hashtags_hot h SET trend_score = coalesce(n.trend, 0)
    FROM (SELECT hashtag FROM hashtags_hot WHERE trend_score > 0 UNION SELECT hashtag FROM by_hashtag) k
    LEFT JOIN by_hashtag n ON n.hashtag = k.hashtag
    WHERE h.hashtag = k.hashtag AND h.trend_score <> coalesce(n.trend, 0)
    RETURNING 1
)
SELECT (SELECT count(*) FROM hashtag_rows) AS hashtags, (SELECT count(*) FROM platform_rows) AS platform_rows,
       (SELECT count(*) FROM by_hashtag) AS trending
"""
# the per-video grouping holds one entry per video observed in the last 37 days: at the default 4 MB it spills to disk
TREND_WORK_MEM: LiteralString = "SET LOCAL work_mem = '256MB'"


@dataclass(frozen=True)
class TrendRefresh:
    """What one refresh wrote: ``hashtags_hot`` rows and ``hashtag_platform_totals`` rows whose score changed, and how
    many hashtags have a positive score now."""

    hashtags: int
    platform_rows: int
    trending: int


def refresh_trend_scores(
    conn: psycopg.Connection[Any], as_of: datetime | None = None, *, window: timedelta = WINDOW
) -> TrendRefresh:
    """Recompute every hashtag's trend score (overall and per platform) as of ``as_of`` (default: now).

    Parameters
    ----------
    conn
        A connection inside the caller's transaction (reconcile holds ingest off for the statement: its row locks on
        hashtags would otherwise meet ingest's, taken in another order); ``work_mem`` is raised for that transaction.
    as_of
        The end of the window; the scores are the views gained in ``(as_of - window, as_of]``.
    window
        The trend window (7 days).

    Returns
    -------
    TrendRefresh
        The rows written (0 and 0 when nothing changed since the last refresh) and the hashtags trending now.
    """
    end = as_of or datetime.now(UTC)
    start = end - window
    conn.execute(TREND_WORK_MEM)
    row = conn.execute(
        REFRESH_TREND_SCORES, {"as_of": end, "start": start, "lookback": start - LOOKBACK}, prepare=False
    ).fetchone()
    if row is None:  # one row always; kept for the type checker
        return TrendRefresh(0, 0, 0)
    return TrendRefresh(int(row[0]), int(row[1]), int(row[2]))
