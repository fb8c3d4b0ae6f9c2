"""Use case: ``reconcile`` — find and repair drift, refresh derived views, roll the snapshot partitions.

1. Videos: every row whose Impact is stale (another weights version) or wrong is rescored, in the backfill's keyset
   batches (short transactions; only rows that differ are written).
2. Every derived row — the fact tables' copied sort keys, community memberships, (hashtag, creator) counts, and the
   totals of creators, sounds, hashtags, communities and their per-platform rows — is recomputed by one set-based
   statement per table that writes only rows that differ (``reelrank.db.aggregate_repair``); given a second
   connection, step 1 and the side lane's steps (``aggregate_repair.SIDE_LANE``) run on it beside the others, which
   start with the community memberships (they read no score) while the videos are rescored.
3. Every materialized view of the schema is refreshed (CONCURRENTLY when it has a unique index): views other issues
   add are picked up without a code change. Then the hashtags' trend scores (``reelrank.services.trends``).
4. Snapshot partitions past the retention are dropped and the coming months' are created.

After a run ``aggregate_drift`` is empty, and a second run reports zeros.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from psycopg import sql

from reelrank.db import aggregate_repair, impact_rescore
from reelrank.db.impact_weights import fetch_active_weights
from reelrank.models.reconcile import AggregatesRepaired, ReconcileRequest, ReconcileResponse
from reelrank.models.weights import ImpactWeightsResponse
from reelrank.observability import logger
from reelrank.services.backfill import retrying
from reelrank.services.trends import refresh_hashtag_trends
from reelrank.settings import ReconcileSettings

# reconcile rescans every video to find wrong scores; bigger ranges than the backfill's, since few rows are written
VIDEO_BATCH_SIZE = 20_000
# reconcile rescores the videos its scan found by key when they are at most this many (drift); more, and it rescans
VIDEO_FIND_LIMIT = 100_000


def _set_lock_timeout(conn: psycopg.Connection[Any], ms: int) -> None:
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(ms)}ms")))


def repair_video_scores(
    conn: psycopg.Connection[Any],
    *,
    lock_timeout_ms: int,
    batch_size: int = VIDEO_BATCH_SIZE,
    find_limit: int = VIDEO_FIND_LIMIT,
) -> int:
    """Rescore every video whose Impact is stale or differs from the active weights; returns the rows written.

    One read-only scan finds them first (``impact_rescore.find_misscored``); when there are at most ``find_limit``,
    they are rescored by key, ``batch_size`` per transaction. More (after a weights change nobody backfilled), and
    the whole key space is rescored in keyset batches.
    """
    weights = fetch_active_weights(conn)
    found = impact_rescore.find_misscored(conn, weights.version, weights.weights, find_limit)
    if found is not None:
        return _rescore_found(conn, found, lock_timeout_ms=lock_timeout_ms, batch_size=batch_size)
    return _rescore_all(conn, lock_timeout_ms=lock_timeout_ms, batch_size=batch_size)


def _rescore_found(conn: psycopg.Connection[Any], keys: list[str], *, lock_timeout_ms: int, batch_size: int) -> int:
    def batch(part: list[str]) -> int:
        with conn.transaction():
            _set_lock_timeout(conn, lock_timeout_ms)
            weights = fetch_active_weights(conn)
            return impact_rescore.rescore_keys(conn, part, weights.version, weights.weights)

    return sum(int(retrying(batch, keys[i : i + batch_size])) for i in range(0, len(keys), batch_size))


def _rescore_all(conn: psycopg.Connection[Any], *, lock_timeout_ms: int, batch_size: int) -> int:
    repaired = 0
    after: str | None = None
    while True:
        weights = fetch_active_weights(conn)

        def batch(lo: str | None, weights: ImpactWeightsResponse) -> tuple[str | None, int]:
            with conn.transaction():
                _set_lock_timeout(conn, lock_timeout_ms)
                bound = impact_rescore.next_batch_bound(conn, lo, batch_size)
                if bound.rows == 0 or bound.hi is None:
                    return None, 0
                written = impact_rescore.rescore_range(
                    conn, lo, bound.hi, weights.version, weights.weights, stale_only=False
                )
                return bound.hi, written

        hi, written = retrying(batch, after, weights)
        written = int(written)
        repaired += written
        if hi is None:
            return repaired
        after = hi


def repair_aggregates(
    conn: psycopg.Connection[Any],
    *,
    lock_timeout_ms: int,
    work_mem_mb: int = aggregate_repair.DEFAULT_REPAIR_WORK_MEM_MB,
    statement_timeout_ms: int = aggregate_repair.DEFAULT_REPAIR_STATEMENT_TIMEOUT_MS,
    write_batch_rows: int = aggregate_repair.DEFAULT_REPAIR_WRITE_BATCH_ROWS,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
    rescore: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> AggregatesRepaired:
    """Run every set-based repair step (``aggregate_repair.run_step``: ingest is held off only by a step that has
    drift); rows written per family. ``rescore`` (the videos' scores, on the connection given) runs before every step
    that reads a score.

    With ``open_connection``, the side lane's steps (``aggregate_repair.SIDE_LANE``: the hashtag and sound facts'
    copies, the sounds and the hashtags) run on a connection of their own, in a thread, beside the other steps: the
    database works on two steps at once. ``rescore`` then runs first in the side lane, while the main lane runs its
    steps that read no score (``RepairStep.reads_scores``); its next step waits for the scores.
    """

    # two lanes keep both cores busy: the steps then run without parallel workers (aggregate_repair._set_step_locals)
    parallel = open_connection is None

    def run_lane(c: psycopg.Connection[Any], steps: Sequence[aggregate_repair.RepairStep]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for step in steps:

            def attempt(step: aggregate_repair.RepairStep = step) -> Counter[str]:
                return aggregate_repair.run_step(
                    c,
                    step,
                    lock_timeout_ms=lock_timeout_ms,
                    work_mem_mb=work_mem_mb,
                    statement_timeout_ms=statement_timeout_ms,
                    parallel=parallel,
                    write_batch_rows=write_batch_rows,
                )

            started = time.perf_counter()
            written: Counter[str] = retrying(attempt)
            counts.update(written)
            logger.debug(
                "repair step done",
                step=step.name,
                written=written.total(),
                seconds=round(time.perf_counter() - started, 3),
            )
        return counts

    if open_connection is None:
        if rescore is not None:
            rescore(conn)
        return AggregatesRepaired(**run_lane(conn, aggregate_repair.REPAIR_STEPS))
    side_steps = [s for s in aggregate_repair.REPAIR_STEPS if s.name in aggregate_repair.SIDE_LANE]
    main_steps = [s for s in aggregate_repair.REPAIR_STEPS if s.name not in aggregate_repair.SIDE_LANE]
    scored = threading.Event()  # set once the side lane has rescored the videos, or has failed before
    rescored: list[bool] = []

    def side_lane() -> Counter[str]:
        try:
            with open_connection() as side:
                if rescore is not None:
                    rescore(side)
                rescored.append(True)
                scored.set()
                return run_lane(side, side_steps)
        finally:
            scored.set()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reconcile-side-lane") as pool:
        side = pool.submit(side_lane)
        unscored = list(itertools.takewhile(lambda s: not s.reads_scores, main_steps))
        counts = run_lane(conn, unscored)
        scored.wait()
        if rescored:  # else the side lane failed before: its error is raised below
            counts.update(run_lane(conn, main_steps[len(unscored) :]))
        counts.update(side.result())  # update, not +=: families that wrote 0 stay; re-raises the lane's error
    return AggregatesRepaired(**counts)


def refresh_derived_views(conn: psycopg.Connection[Any]) -> tuple[list[str], list[str]]:
    """Refresh every materialized view of the schema; returns the refreshed and the failed views' names.

    One view failing to refresh (a bug in its definition) is logged and reported, and does not stop the others or
    the partition maintenance after it.
    """
    refreshed: list[str] = []
    failed: list[str] = []
    for view in aggregate_repair.list_materialized_views(conn):
        try:
            with conn.transaction():
                aggregate_repair.refresh_materialized_view(conn, view)
        except psycopg.Error:
            logger.exception("materialized view refresh failed", view=view.name)
            failed.append(view.name)
        else:
            refreshed.append(view.name)
    return refreshed, failed


def reconcile(
    conn: psycopg.Connection[Any],
    request: ReconcileRequest,
    *,
    settings: ReconcileSettings,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
) -> ReconcileResponse:
    """Find and repair drift, refresh derived views, drop expired and create upcoming snapshot partitions.

    Parameters
    ----------
    conn
        An autocommit connection; every step is its own short transaction.
    request
        Overrides of the retention and partition horizon (the schedule's Input; both optional).
    settings
        Defaults: ``METRIC_SNAPSHOT_RETENTION_DAYS`` (365), ``PARTITION_MONTHS_AHEAD`` (3), the lock timeout.
    open_connection
        Opens a second connection for the side lane's repair steps, which then run beside the others (see
        :func:`repair_aggregates`); without it every step runs on ``conn``, one after the other.

    Returns
    -------
    ReconcileResponse
        What was repaired (rows written), which views were refreshed, partitions dropped and created; a clean
        database reports zeros.
    """
    started = time.perf_counter()
    lock_timeout = settings.reconcile_lock_timeout_ms
    videos = 0

    def rescore(c: psycopg.Connection[Any]) -> None:
        nonlocal videos
        videos = repair_video_scores(c, lock_timeout_ms=lock_timeout)

    aggregates = repair_aggregates(
        conn,
        lock_timeout_ms=lock_timeout,
        work_mem_mb=settings.repair_work_mem_mb,
        statement_timeout_ms=settings.repair_statement_timeout_ms,
        write_batch_rows=settings.repair_write_batch_rows,
        open_connection=open_connection,
        rescore=rescore,
    )
    views, failed_views = refresh_derived_views(conn)
    trends = refresh_hashtag_trends(conn, lock_timeout_ms=lock_timeout)
    retention = request.retention_days or settings.snapshot_retention_days
    months = request.months_ahead if request.months_ahead is not None else settings.partition_months_ahead
    with conn.transaction():
        dropped = aggregate_repair.drop_expired_snapshot_partitions(conn, retention)
    with conn.transaction():
        created = aggregate_repair.create_snapshot_partitions(conn, months)
    response = ReconcileResponse(
        videos_repaired=videos,
        aggregates_repaired=aggregates,
        views_refreshed=views,
        views_failed=failed_views,
        partitions_dropped=len(dropped),
        partitions_created=created,
        trend_scores_updated=trends.hashtags + trends.platform_rows,
        duration_ms=int((time.perf_counter() - started) * 1000),
    )
    logger.info(
        "reconcile done", dropped_partitions=dropped, **response.model_dump(exclude={"views_refreshed", "views_failed"})
    )
    return response
