"""``make bench``: benchmarks reported as ratios against a baseline measured in the same run.

Each benchmark builds its own scratch database on the same server (DATABASE_URL or the embedded one), so runs do
not disturb the dev database. Scale with ``--videos`` (``make bench BENCH_VIDEOS=1000000`` for the full catalogue
size of PERF_NOTES.md).

Benchmarks so far:

- ``impact_trigger``: loading N videos with the scoring trigger (every row scored as it is written, as the ingest
  path does) against the cheapest way to get the same scores: the same load with triggers disabled followed by one
  set-based UPDATE. The ratio is the trigger's cost per row relative to set-based scoring.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from reelrank.db.migrations import apply_migrations
from reelrank_dev import embedded
from reelrank_dev.cli import SQL_DIR


@dataclass
class Result:
    name: str
    seconds: float
    baseline_seconds: float
    detail: str

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else float("inf")


def synthetic_video_rows(n: int, seed: int = 7) -> Iterator[tuple[Any, ...]]:
    """N TikTok-shaped video rows with heavy-tailed counts (log-normal views; comments far rarer than likes)."""
    rng = random.Random(seed)
    for i in range(n):
        views = int(rng.lognormvariate(9, 2.2))
        likes = int(views * rng.uniform(0.01, 0.12))
        yield (
            str(7_000_000_000_000_000_000 + i),
            "tiktok",
            views,
            likes,
            int(likes * rng.uniform(0.001, 0.03)),
            int(likes * rng.uniform(0.0, 0.05)),
            int(likes * rng.uniform(0.0, 0.08)),
        )


COLUMNS = ("video_id", "platform", "views_count", "likes_count", "comments_count", "shares_count", "collect_count")


def _copy_videos(conn: psycopg.Connection[Any], n: int, *, version: int | None = None) -> None:
    """COPY n synthetic videos; with ``version`` the rows carry it (the trigger is off and does not set it)."""
    columns = COLUMNS + (("impact_version",) if version is not None else ())
    copy_sql = sql.SQL("COPY videos_hot ({}) FROM STDIN").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
    extra = (version,) if version is not None else ()
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in synthetic_video_rows(n):
            copy.write_row(row + extra)


def bench_impact_trigger(url: str, n: int) -> Result:
    with psycopg.connect(url, autocommit=True) as conn:
        # candidate: COPY with the BEFORE INSERT scoring trigger
        started = time.perf_counter()
        with conn.transaction():
            _copy_videos(conn, n)
        candidate = time.perf_counter() - started
        scored = conn.execute("SELECT sum(impact_score) FROM videos_hot").fetchone()
        conn.execute("TRUNCATE videos_hot CASCADE")
        conn.execute("VACUUM videos_hot")
        # baseline: COPY without triggers, then one set-based UPDATE computing the same scores
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("ALTER TABLE videos_hot DISABLE TRIGGER USER")
            _copy_videos(conn, n, version=1)
            conn.execute(
                """
                UPDATE videos_hot v
                SET impact_score = impact_formula(v.views_count, v.likes_count, v.comments_count, v.shares_count,
                                                  v.collect_count, w.w_views, w.w_likes, w.w_comments, w.w_shares,
                                                  w.w_saves),
                    impact_version = w.version
                FROM impact_weights w WHERE w.active
                """
            )
            conn.execute("ALTER TABLE videos_hot ENABLE TRIGGER USER")
        baseline = time.perf_counter() - started
        same = conn.execute("SELECT sum(impact_score) FROM videos_hot").fetchone()
    if scored != same:
        raise AssertionError(f"trigger and set-based scoring disagree: {scored} != {same}")
    return Result(
        "impact_trigger",
        candidate,
        baseline,
        f"{n:,} videos: trigger {n / candidate:,.0f} rows/s, COPY+UPDATE {n / baseline:,.0f} rows/s",
    )


def bench_ingest(url: str, n: int) -> Result:
    from reelrank_dev.bench_ingest import bench_ingest as run

    candidate, baseline, detail = run(url, n)
    return Result("ingest", candidate, baseline, "per record; " + detail)


def bench_view_tracking(url: str, n: int) -> Result:
    from reelrank_dev.bench_tracking import bench_view_tracking as run

    candidate, baseline, detail = run(url, n)
    return Result("view_tracking", candidate, baseline, "vs the same calls writing nothing; " + detail)


def bench_backfill(url: str, n: int) -> Result:
    from reelrank_dev.bench_backfill import bench_backfill as run

    candidate, baseline, detail = run(url, n)
    return Result("backfill", candidate, baseline, detail)


def bench_reconcile(url: str, n: int) -> Result:
    from reelrank_dev.bench_backfill import bench_reconcile as run

    candidate, baseline, detail = run(url, n)
    return Result("reconcile", candidate, baseline, detail)


def bench_api(url: str, n: int) -> Result:
    from reelrank_dev.bench_api import bench_api as run

    candidate, baseline, detail = run(url, n)
    return Result("api", candidate, baseline, "worst keyset 10k-deep p95 vs worst OFFSET 10000 p95\n" + detail)


BENCHMARKS = {
    "api": bench_api,
    "impact_trigger": bench_impact_trigger,
    "ingest": bench_ingest,
    "view_tracking": bench_view_tracking,
    "backfill": bench_backfill,
    "reconcile": bench_reconcile,
}


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        apply_migrations(conn, SQL_DIR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=200_000)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    args = parser.parse_args()
    chosen = args.only or sorted(BENCHMARKS)

    admin_url = make_conninfo(embedded.database_url(), dbname="postgres")
    name = f"reelrank_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin_url, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, SQL_DIR)
        results = []
        for key in chosen:
            if key != chosen[0]:  # a fresh schema for each benchmark
                _reset(url)
            results.append(BENCHMARKS[key](url, args.videos))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"{'benchmark':<16} {'seconds':>9} {'baseline':>9} {'ratio':>7}  detail")
    for r in results:
        print(f"{r.name:<16} {r.seconds:>9.3g} {r.baseline_seconds:>9.3g} {r.ratio:>6.3f}x  {r.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
