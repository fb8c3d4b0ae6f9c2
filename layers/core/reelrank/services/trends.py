"""Use case: refresh the hashtags' trend scores (``reelrank.db.trends``), a step of ``reconcile``."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from reelrank.db import aggregate_repair, trends
from reelrank.observability import logger
from reelrank.services.backfill import retrying


def refresh_hashtag_trends(conn: psycopg.Connection[Any], *, lock_timeout_ms: int) -> trends.TrendRefresh:
    """Recompute every hashtag's trend score in one short transaction with ingest held off; returns what it wrote.

    Ingest locks hashtag rows in key order; the refresh's UPDATE would lock them in join order, so it takes ingest's
    bucket locks first (as reconcile's repair steps do) and is retried when it still loses a lock race.
    """

    def run() -> trends.TrendRefresh:
        with conn.transaction():
            aggregate_repair.lock_out_ingest(conn, lock_timeout_ms)
            return trends.refresh_trend_scores(conn)

    started = time.perf_counter()
    result: trends.TrendRefresh = retrying(run)
    logger.info(
        "trend scores refreshed",
        hashtags_written=result.hashtags,
        platform_rows_written=result.platform_rows,
        trending=result.trending,
        seconds=round(time.perf_counter() - started, 3),
    )
    return result
