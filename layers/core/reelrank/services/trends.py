"""Use case: refresh the hashtags' trend scores (``reelrank.db.trends``), a step of ``reconcile``."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from reelrank.db import aggregate_repair, trends
from reelrank.observability import logger
from reelrank.services.backfill import retrying


def refresh_hashtag_trends(conn: psycopg.Connection[Any], *, lock_timeout_ms: int) -> trends.TrendRefresh:
    """Recompute every hashtag's trend score; ingest is held off only while the changed rows are written.

    One transaction: the scores are computed without any lock ingest waits for (``compute_trend_changes``, almost
    all of the time), then, in a savepoint, ingest's bucket locks are taken and the changed rows written
    (``write_trend_changes``). Ingest locks hashtag rows in key order and the write's UPDATE in join order, hence the
    bucket locks (as reconcile's repair steps take them); a write that loses a lock race is retried on its own, the
    computed scores kept.
    """

    def write() -> tuple[int, int]:
        with conn.transaction():
            asked = time.perf_counter()
            aggregate_repair.lock_out_ingest(conn, lock_timeout_ms)
            locked = time.perf_counter()
            written = trends.write_trend_changes(conn)
            timings["lock_wait"] = locked - asked
            timings["write"] = time.perf_counter() - locked
            return written

    timings: dict[str, float] = {}
    started = time.perf_counter()
    with conn.transaction():
        trending = trends.compute_trend_changes(conn)
        timings["computed"] = time.perf_counter() - started
        hashtags, platform_rows = retrying(write)
    result = trends.TrendRefresh(hashtags, platform_rows, trending)
    logger.info(
        "trend scores refreshed",
        hashtags_written=result.hashtags,
        platform_rows_written=result.platform_rows,
        trending=result.trending,
        seconds=round(time.perf_counter() - started, 3),
        compute_seconds=round(timings["computed"], 3),
        lock_wait_seconds=round(timings["lock_wait"], 3),
        write_seconds=round(timings["write"], 3),  # ingest held off (until the commit, right after)
    )
    return result
