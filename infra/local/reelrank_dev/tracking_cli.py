"""``reelrank fake-youtube`` and ``reelrank tracking tiers|run|stats``: view tracking from the command line.

Registered into the main parser by :func:`register` (``reelrank_dev.cli.build_parser``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg

from reelrank_dev import embedded


def _database_url(args: argparse.Namespace) -> str:
    return str(getattr(args, "database_url", None) or os.environ.get("DATABASE_URL") or embedded.database_url())


def _cmd_fake_youtube(args: argparse.Namespace) -> int:
    from reelrank_dev.fake_youtube import Faults, start_fake_youtube

    faults = Faults(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        quota_exceeded_after=args.quota_exceeded_after,
        vanished=set(args.vanish or []),
    )
    fake = start_fake_youtube(
        database_url=None if args.no_database else _database_url(args),
        port=args.port,
        host=args.host,
        api_key=args.api_key,
        faults=faults,
        speedup=args.speedup,
    )
    print(f"fake YouTube serving videos.list at {fake.base_url}/youtube/v3/videos", flush=True)
    print(f"  export YOUTUBE_API_BASE_URL={fake.base_url} YOUTUBE_API_KEY={args.api_key}", flush=True)
    print("  faults: POST /fake/faults (JSON), calls: GET /fake/stats; Ctrl-C stops", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


def print_tiers(conn: psycopg.Connection[Any], out: Any = sys.stdout) -> None:
    """The tier distribution: active videos per tier, due now and due today, unavailable videos, today's quota."""
    from reelrank.db import tracking

    at = datetime.now(UTC)
    tiers = tracking.tier_counts(conn, at)
    names = {1: "1 (daily: < 30 days or top)", 2: "2 (every 3 days: 30-180 d)", 3: "3 (weekly: older)"}
    print(f"{'tier':<30} {'videos':>10} {'due now':>10} {'due today':>10}", file=out)
    for t in tiers:
        print(f"{names[t.tier]:<30} {t.videos:>10,} {t.due_now:>10,} {t.due_today:>10,}", file=out)
    print(
        f"{'total active':<30} {sum(t.videos for t in tiers):>10,} {sum(t.due_now for t in tiers):>10,}"
        f" {sum(t.due_today for t in tiers):>10,}",
        file=out,
    )
    print(f"{'unavailable (left tracking)':<30} {tracking.unavailable_count(conn):>10,}", file=out)
    day = tracking.quota_day(conn, at)
    spent, exhausted = tracking.quota_state(conn, day)
    print(
        f"quota day {day} (America/Los_Angeles): {spent:,} units spent{' (exhausted)' if exhausted else ''}", file=out
    )


def _cmd_tracking(args: argparse.Namespace) -> int:
    from reelrank.models.view_tracking import ViewTrackingEvent
    from reelrank.services.view_tracking import track_views, view_tracking_stats
    from reelrank.settings import ViewTrackingSettings

    settings = ViewTrackingSettings.model_validate(dict(os.environ))
    with psycopg.connect(_database_url(args), autocommit=True) as conn:
        if args.action == "tiers":
            print_tiers(conn)
        elif args.action == "stats":
            print(view_tracking_stats(conn, settings).model_dump_json(indent=2))
        else:
            job = track_views(conn, ViewTrackingEvent(trigger="cli", limit=args.limit), settings)
            print(job.model_dump_json(indent=2))
            return 0 if job.status in ("completed", "stopped") else 1
    return 0


def register(sub: Any) -> None:
    """Add ``fake-youtube`` and ``tracking`` to the ``reelrank`` subcommands."""
    fake = sub.add_parser(
        "fake-youtube",
        help="serve a fake YouTube videos.list for the database's YouTube videos (tests, demo, benchmark)",
    )
    fake.add_argument("--port", type=int, default=8089)
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--api-key", default="fake-youtube-key", help="the key it accepts (others: keyInvalid)")
    fake.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    fake.add_argument("--error-rate", type=float, default=0.0, help="share of calls answered 503")
    fake.add_argument("--quota-exceeded-after", type=int, default=None, help="answer quotaExceeded after N calls")
    fake.add_argument("--vanish", action="append", metavar="VIDEO_ID", help="an id to omit from answers (repeat)")
    fake.add_argument("--speedup", type=float, default=1.0, help="fake hours of growth per real hour")
    fake.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    fake.add_argument("--no-database", action="store_true", help="know no videos (faults only)")
    fake.set_defaults(func=_cmd_fake_youtube)

    trk = sub.add_parser(
        "tracking",
        help="view tracking: tier distribution, stats, or a run (YOUTUBE_API_BASE_URL / YOUTUBE_API_KEY)",
    )
    trk.add_argument("action", choices=["tiers", "stats", "run"])
    trk.add_argument("--limit", type=int, default=None, help="run: at most this many videos")
    trk.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    trk.set_defaults(func=_cmd_tracking)
