"""Use case: refresh the hashtags' trend scores (``reelrank.db.trends``), a step of ``reconcile``."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from reelrank.db import aggregate_repair, trends
from reelrank.observability import logger
from reelrank.services.backfill import retrying


def refresh_hashtag_trends(conn: psycopg.Connection[Any], *, lock_timeout_ms: int) -> trends.TrendRefresh:
    """Recompute every hashtag's trend score; ingest is held off only while a batch of changed rows is written.

    The scores are computed by a read-only query that takes no lock ingest waits for (``compute_trend_changes``,
    most of the time). The changed rows are then written in batches (``write_trend_changes``), each in its own
    transaction that first takes ingest's bucket locks (as reconcile's repair steps do): ingest locks hashtag rows in
    key order and the batch's UPDATE in join order. A batch that loses a lock race is retried on its own.
    """
    started = time.perf_counter()
    changes = trends.compute_trend_changes(conn)
    computed = time.perf_counter()
    hashtags = platform_rows = 0
    longest_hold = 0.0

    def write(batch: list[trends.TrendChange]) -> tuple[int, int]:
        nonlocal longest_hold
        with conn.transaction():
            aggregate_repair.lock_out_ingest(conn, lock_timeout_ms)
            locked = time.perf_counter()
            written = trends.write_trend_changes(conn, batch)
        longest_hold = max(longest_hold, time.perf_counter() - locked)  # until the commit
        return written

    for batch in changes.batches():
        batch_hashtags, batch_platform_rows = retrying(write, batch)
        hashtags += batch_hashtags
        platform_rows += batch_platform_rows
    result = trends.TrendRefresh(hashtags, platform_rows, changes.trending)
    logger.info(
        "trend scores refreshed",
        hashtags_written=result.hashtags,
        platform_rows_written=result.platform_rows,
        trending=result.trending,
        seconds=round(time.perf_counter() - started, 3),
        compute_seconds=round(computed - started, 3),
        longest_ingest_hold_seconds=round(longest_hold, 3),
    )
    return result
