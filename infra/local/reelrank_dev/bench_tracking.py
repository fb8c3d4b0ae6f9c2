"""``make bench`` view tracking: N YouTube videos with priorities, N/10 due, a fake API answering in 50 ms.

Candidate: one full ``track_views`` run (tier refresh, due selection, ⌈due/50⌉ calls 16 at a time through the real
client, snapshots and metrics written through ingest's set-based path, rescheduling). Baseline, measured in the same
run: the same calls through the same client and fake server with nothing written, i.e. the network floor. The ratio
is what the database work adds on top of the API's latency. The detail also prints the due selection time (issue 6:
< 1 s at 1,000,000 videos / 100,000 due) and the call count (exactly 2,000 at full scale).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from reelrank.db import tracking
from reelrank.models.view_tracking import ViewTrackingEvent
from reelrank.services.view_tracking import track_views
from reelrank.services.youtube_client import MAX_IDS_PER_CALL, QuotaGate, YouTubeClient
from reelrank.settings import ViewTrackingSettings
from reelrank_dev.fake_youtube import DEFAULT_API_KEY, Faults, start_fake_youtube

CHANNELS = 20_000
LATENCY_MS = 50.0


def _load(conn: psycopg.Connection[Any], n: int, now: datetime) -> int:
    """N YouTube videos over CHANNELS channels, posted over the last 3 years; one in ten due now. Returns due count."""
    with conn.cursor() as cur:
        with cur.copy("COPY creators_hot (creator_id, platform, username) FROM STDIN") as copy:
            for c in range(CHANNELS):
                copy.write_row((f"UCbench{c:017d}", "youtube", f"channel{c}"))
        with cur.copy(
            "COPY videos_hot (video_id, platform, creator_id, created_at, views_count, likes_count, comments_count,"
            " metrics_observed_at, source) FROM STDIN"
        ) as copy:
            for i in range(n):
                views = (i * 7919) % 5_000_000
                copy.write_row(
                    (
                        f"b{i:010d}",
                        "youtube",
                        f"UCbench{i % CHANNELS:017d}",
                        now - timedelta(hours=(i * 31) % (3 * 365 * 24)),
                        views,
                        views // 40,
                        views // 2000,
                        now - timedelta(days=2),
                        "youtube",
                    )
                )
    # creator totals consistent with the videos (the write path moves them by deltas)
    conn.execute(
        """
        UPDATE creators_hot c SET videos_count = e.videos_count, likes_total = e.likes_total,
            total_play_count = e.total_play_count, total_impact_score = e.total_impact_score
        FROM expected_creator_totals e WHERE e.creator_id = c.creator_id
        """
    )
    # the enrolment trigger made every video due; schedule 9 in 10 for later
    conn.execute(
        "UPDATE view_tracking_priority SET next_due_at = %s + interval '2 days', last_tracked_at = %s"
        " WHERE right(video_id, 1) <> '7'",
        (now, now - timedelta(days=1)),
    )
    conn.execute("VACUUM ANALYZE view_tracking_priority")
    conn.execute("VACUUM ANALYZE videos_hot")
    return tracking.count_due(conn, now)


def bench_view_tracking(url: str, n: int) -> tuple[float, float, str]:
    """(run seconds, network-floor seconds, detail)."""
    now = datetime.now(UTC)
    settings = ViewTrackingSettings.model_validate({"YOUTUBE_API_KEY": DEFAULT_API_KEY})
    with psycopg.connect(url, autocommit=True) as conn:
        due_count = _load(conn, n, now)
        started = time.perf_counter()
        due = tracking.fetch_due_videos(conn, now, settings.tracking_daily_quota_units * MAX_IDS_PER_CALL)
        select_s = time.perf_counter() - started
        calls = math.ceil(len(due) / MAX_IDS_PER_CALL)
        with start_fake_youtube(database_url=url, faults=Faults(latency_ms=LATENCY_MS)) as yt:
            cfg = settings.model_copy(update={"youtube_api_base_url": yt.base_url})
            # baseline: the same calls, same client and concurrency, nothing written
            client = YouTubeClient.from_settings(cfg, DEFAULT_API_KEY)
            gate = QuotaGate(calls)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=cfg.youtube_max_concurrency) as pool:
                list(
                    pool.map(
                        lambda i: client.list_statistics(due[i : i + MAX_IDS_PER_CALL], gate),
                        range(0, len(due), MAX_IDS_PER_CALL),
                    )
                )
            baseline = time.perf_counter() - started
            yt.stats.calls = 0
            # candidate: the whole run
            started = time.perf_counter()
            job = track_views(conn, ViewTrackingEvent(trigger="cli"), cfg, client=client, now=now)
            candidate = time.perf_counter() - started
            client.close()
            made = yt.stats.calls
        if job.status not in ("completed", "stopped") or job.videos_tracked != len(due) or made != calls:
            raise AssertionError(f"tracking run went wrong: {job} (fake saw {made} calls, expected {calls})")
    detail = (
        f"{n:,} videos, {due_count:,} due: {made:,} calls ({LATENCY_MS:.0f} ms each), {job.videos_tracked:,} tracked"
        f" in {candidate:.1f} s; selecting the due videos {select_s * 1000:.0f} ms"
    )
    return candidate, baseline, detail
