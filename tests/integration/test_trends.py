"""Hashtag trend scores (``reelrank.db.trends``): the views a hashtag's videos gained in the last 7 days, from metric
snapshots crafted so that the expected scores are known; a second refresh writes nothing; sort=trending serves them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from reelrank.db import trends
from reelrank.db.ingest_writes import VIDEO_LOCK_BUCKETS, VIDEO_LOCK_CLASS
from reelrank.db.trends import TrendRefresh, refresh_trend_scores
from reelrank.models.reconcile import ReconcileRequest
from reelrank.services.reconcile import reconcile
from reelrank.services.trends import refresh_hashtag_trends
from reelrank.settings import ReconcileSettings
from tests.integration.api_helpers import ApiClient, api_environment

T = datetime(2030, 6, 15, 12, tzinfo=UTC)
DAY = timedelta(days=1)
OLD = datetime(2029, 1, 1, tzinfo=UTC)

# video: (platform, posted, hashtags, [(observed_at, views)])
VIDEOS: dict[str, tuple[str, datetime, list[str], list[tuple[datetime, int | None]]]] = {
    # baseline before the window, two observations inside: 3000 - 1000
    "100000000001": ("tiktok", OLD, ["alpha"], [(T - 10 * DAY, 1000), (T - 3 * DAY, 1500), (T - DAY, 3000)]),
    # posted inside the window: all its views count
    "100000000002": ("tiktok", T - 2 * DAY, ["alpha", "delta"], [(T - DAY, 800)]),
    # older video first observed inside the window: only what it gained there, 10500 - 10000
    "100000000003": ("tiktok", OLD, ["beta"], [(T - 5 * DAY, 10_000), (T - DAY, 10_500)]),
    # YouTube: 5100 - 100; a snapshot after as_of does not count
    "YouTubeVid1": ("youtube", OLD, ["beta"], [(T - 8 * DAY, 100), (T - 2 * DAY, 5100), (T + DAY, 90_000)]),
    # a count corrected downwards: 0, never negative
    "100000000005": ("tiktok", OLD, ["gamma"], [(T - 9 * DAY, 7000), (T - DAY, 6000)]),
    # not observed inside the window: 0
    "100000000006": ("tiktok", OLD, ["gamma"], [(T - 20 * DAY, 10), (T - 8 * DAY, 50_000)]),
    # its only earlier snapshot is older than the lookback: counts from its first observation in the window, 0
    "100000000007": ("tiktok", OLD, ["gamma"], [(T - 50 * DAY, 100), (T - DAY, 400)]),
    # a snapshot exactly at the window's start is the baseline; a NULL (unreported) count is ignored
    "100000000008": ("tiktok", OLD, ["epsilon"], [(T - 7 * DAY, 40), (T - 3 * DAY, 70), (T - DAY, None)]),
}
EXPECTED = {"alpha": 2800, "beta": 5500, "delta": 800, "epsilon": 30, "gamma": 0, "stale": 0}
EXPECTED_PLATFORM = {("alpha", "tiktok"): 2800, ("beta", "tiktok"): 500, ("beta", "youtube"): 5000,
                     ("delta", "tiktok"): 800, ("epsilon", "tiktok"): 30}  # fmt: skip


def _seed(db: psycopg.Connection[Any], at: datetime = T) -> None:
    """The videos above, shifted so that ``T`` becomes ``at``, plus a hashtag still scored from an earlier run."""
    shift = at - T
    db.execute("SELECT ensure_snapshot_partitions(%s, %s)", (at - 60 * DAY, at + 2 * DAY))
    db.execute("INSERT INTO hashtags_hot (hashtag, display_name, trend_score) VALUES ('stale', 'stale', 123)")
    db.execute("INSERT INTO hashtag_platform_totals (hashtag, platform, trend_score) VALUES ('stale', 'tiktok', 123)")
    for video_id, (platform, posted, tags, snapshots) in VIDEOS.items():
        views = [v for _, v in snapshots if v is not None][-1]
        db.execute(
            "INSERT INTO videos_hot (video_id, platform, created_at, views_count) VALUES (%s, %s, %s, %s)",
            (video_id, platform, posted + shift, views),
        )
        for tag in tags:
            db.execute(
                "INSERT INTO hashtags_hot (hashtag, display_name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (tag, tag)
            )
            db.execute(
                "INSERT INTO hashtag_platform_totals (hashtag, platform) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (tag, platform),
            )
            db.execute(
                "INSERT INTO video_hashtag_facts (hashtag, video_id, platform, views_count, created_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (tag, video_id, platform, views, posted + shift),
            )
        for observed_at, count in snapshots:
            db.execute(
                "INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, source)"
                " VALUES (%s, %s, %s, 'brightdata')",
                (video_id, observed_at + shift, count),
            )


def _scores(db: psycopg.Connection[Any]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    totals = {str(h): int(s) for h, s in db.execute("SELECT hashtag, trend_score FROM hashtags_hot").fetchall()}
    platform = {
        (str(h), str(p)): int(s)
        for h, p, s in db.execute(
            "SELECT hashtag, platform, trend_score FROM hashtag_platform_totals WHERE trend_score <> 0"
        ).fetchall()
    }
    return totals, platform


def test_trend_scores_are_the_views_gained_in_the_last_7_days(db: psycopg.Connection[Any]) -> None:
    # Given crafted snapshots around T
    _seed(db)
    # When the scores are refreshed as of T
    result = refresh_trend_scores(db, T)
    # Then each hashtag scores the views its videos gained in (T - 7 days, T], each platform its own videos'
    totals, platform = _scores(db)
    assert totals == EXPECTED
    assert platform == EXPECTED_PLATFORM
    # and only the rows that changed were written: 4 hashtags up from 0 plus "stale" down to 0, likewise per platform
    assert result == TrendRefresh(hashtags=5, platform_rows=6, trending=4)
    # When it runs again, nothing is written
    assert refresh_trend_scores(db, T) == TrendRefresh(hashtags=0, platform_rows=0, trending=4)
    # When the window moves on by 6 days, the observations at T - 1 day become the baselines: only the YouTube video,
    # observed again at T + 1 day, gained views (90000 - 5100); every other hashtag falls back to 0
    refresh_trend_scores(db, T + 6 * DAY)
    totals, platform = _scores(db)
    assert totals == {**dict.fromkeys(EXPECTED, 0), "beta": 84_900}
    assert platform == {("beta", "youtube"): 84_900}


def test_sort_trending_serves_the_scores_overall_and_per_platform(db_url: str, db: psycopg.Connection[Any]) -> None:
    # Given refreshed trend scores
    _seed(db)
    refresh_trend_scores(db, T)
    with api_environment(db_url):
        api = ApiClient()
        # When hashtags are listed by trend, overall and per platform
        overall = api.get("/hashtags", sort="trending", limit=4).body["data"]
        tiktok = api.get("/hashtags", sort="trending", platform="tiktok", limit=3).body["data"]
        youtube = api.get("/hashtags", sort="trending", platform="youtube", limit=1).body["data"]
        detail = api.get("/hashtags/beta").body
    # Then the biggest gain comes first, and a platform's list ranks and shows that platform's own gains
    assert [(h["id"], h["trendScore"]) for h in overall] == [("beta", 5500), ("alpha", 2800), ("delta", 800),
                                                              ("epsilon", 30)]  # fmt: skip
    assert [(h["id"], h["trendScore"]) for h in tiktok] == [("alpha", 2800), ("delta", 800), ("beta", 500)]
    assert [(h["id"], h["trendScore"]) for h in youtube] == [("beta", 5000)]
    assert detail["trendScore"] == 5500
    assert {p["platform"]: p["trendScore"] for p in detail["platforms"]} == {"tiktok": 500, "youtube": 5000}


def test_reconcile_refreshes_the_trend_scores(db: psycopg.Connection[Any]) -> None:
    # Given the crafted snapshots around now
    _seed(db, datetime.now(UTC))
    # When reconcile runs twice
    first = reconcile(db, ReconcileRequest(), settings=ReconcileSettings())
    second = reconcile(db, ReconcileRequest(), settings=ReconcileSettings())
    # Then the first run scored the hashtags (and zeroed "stale"), the second wrote no trend score
    assert first.trend_scores_updated == 5 + 6
    assert _scores(db)[0] == EXPECTED
    assert second.trend_scores_updated == 0


def _waiting_on_a_lock(db: psycopg.Connection[Any], pid: int) -> bool:
    """Whether session ``pid`` waits on a heavyweight lock; polled until it does (a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row is not None and row[0] == "Lock":
            return True
        time.sleep(0.05)
    return False


def test_ingest_is_not_held_off_while_the_scores_are_computed(db_url: str, db: psycopg.Connection[Any]) -> None:
    # Given crafted snapshots around now, and another session holding a snapshot partition of the lookback (the
    # month of 35 days ago; ingest writes into the current one) so that the refresh's computation waits for it
    now = datetime.now(UTC)
    _seed(db, now)
    month = now - 35 * DAY
    partition = f"video_metric_snapshots_y{month:%Y}m{month:%m}"
    holder = psycopg.connect(db_url)
    refresher = psycopg.connect(db_url, autocommit=True)
    results: list[TrendRefresh] = []
    thread = threading.Thread(target=lambda: results.append(refresh_hashtag_trends(refresher, lock_timeout_ms=60_000)))
    try:
        holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(partition)))
        # When reconcile's trend step starts and is stuck computing the scores
        thread.start()
        pid = refresher.info.backend_pid
        assert _waiting_on_a_lock(db, pid)
        # Then it holds none of ingest's bucket locks, and an ingest chunk can take every one of them
        held = db.execute(
            "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory' AND granted", (pid,)
        ).fetchone()
        assert held == (0,)
        with psycopg.connect(db_url) as ingest, ingest.transaction():
            taken = ingest.execute(
                "SELECT bool_and(pg_try_advisory_xact_lock(%s, b)) FROM generate_series(0, %s) AS b",
                (VIDEO_LOCK_CLASS, VIDEO_LOCK_BUCKETS - 1),
            ).fetchone()
        assert taken == (True,)
    finally:
        holder.rollback()  # releases the partition
        thread.join(120)
        holder.close()
        refresher.close()
    # and once the partition is free, the refresh finishes with the same scores
    assert results == [TrendRefresh(hashtags=5, platform_rows=6, trending=4)]
    assert _scores(db) == (EXPECTED, EXPECTED_PLATFORM)


def test_the_changed_rows_are_written_in_batches_of_their_own_transactions(
    db: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given crafted snapshots around now, and batches of 2 rows
    _seed(db, datetime.now(UTC))
    monkeypatch.setattr(trends, "WRITE_BATCH", 2)
    write = trends.write_trend_changes
    batches: list[tuple[int, int, int]] = []  # (rows, transaction id, ingest bucket locks held)

    def recording_write(conn: psycopg.Connection[Any], rows: list[trends.TrendChange]) -> tuple[int, int]:
        xact = conn.execute(
            "SELECT pg_current_xact_id()::text::bigint,"
            " (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted)"
        ).fetchone()
        assert xact is not None
        batches.append((len(rows), int(xact[0]), int(xact[1])))
        return write(conn, rows)

    monkeypatch.setattr(trends, "write_trend_changes", recording_write)
    # When reconcile's trend step runs
    result = refresh_hashtag_trends(db, lock_timeout_ms=10_000)
    # Then its 11 changed rows went in 6 batches, each in a transaction of its own holding all of ingest's bucket locks
    assert result == TrendRefresh(hashtags=5, platform_rows=6, trending=4)
    assert [n for n, _, _ in batches] == [2, 2, 2, 2, 2, 1]
    assert len({xact for _, xact, _ in batches}) == 6
    assert {locks for _, _, locks in batches} == {VIDEO_LOCK_BUCKETS}
    # and every score is the one a single refresh writes
    assert _scores(db) == (EXPECTED, EXPECTED_PLATFORM)
