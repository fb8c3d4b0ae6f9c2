"""View tracking against a real PostgreSQL and the fake YouTube server over real HTTP on loopback.

Every run goes through ``track_views`` with the real client; faults are injected in the fake server. After each
scenario the database must be consistent: nothing fetched lost, the ledger equal to the requests made, and
``aggregate_drift`` empty.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from reelrank.db.ingest_writes import MetricObservation, write_metrics
from reelrank.db.tracking import TRACKING_LOCK_CLASS
from reelrank.models.view_tracking import ViewTrackingEvent
from reelrank.services.ingest import ingest_snapshot
from reelrank.services.snapshot_reader import read_records, records_content_hash
from reelrank.services.view_tracking import queue_view_tracking_run, track_views, view_tracking_stats
from reelrank.services.youtube_client import YouTubeClient
from reelrank.settings import ViewTrackingSettings
from reelrank_dev.fake_youtube import DEFAULT_API_KEY, FakeYouTube, start_fake_youtube

# The run's clock in most tests: noon of today's Pacific quota day. Ingest enrols new videos due from the start of the
# real quota day, so they are due at NOW. Set again before each test (_clock_of_the_quota_day_the_test_runs_in).
PACIFIC = ZoneInfo("America/Los_Angeles")


def _quota_day_clock() -> tuple[date, datetime, datetime]:
    today = datetime.now(PACIFIC).date()
    return (
        today,
        datetime.combine(today, time(12), tzinfo=PACIFIC).astimezone(UTC),
        datetime.combine(today + timedelta(days=1), time(0), tzinfo=PACIFIC).astimezone(UTC),
    )


TODAY, NOW, NEXT_PACIFIC_MIDNIGHT = _quota_day_clock()
TAGS = ["edit", "fyp", "anime"]


@pytest.fixture(autouse=True)
def _clock_of_the_quota_day_the_test_runs_in() -> None:
    """NOW from the Pacific day the test runs in, not the one the module was imported in: in a suite that crossed
    Pacific midnight in between, ingest enrolled the videos due from the new day, after a NOW of the day before, and
    nothing was due (12 tests failed so in a CI run that started at 23:59 Pacific)."""
    global TODAY, NOW, NEXT_PACIFIC_MIDNIGHT
    TODAY, NOW, NEXT_PACIFIC_MIDNIGHT = _quota_day_clock()


def youtube_id(i: int) -> str:
    return f"yt{i:09d}"


def youtube_items(n: int, *, start: int = 0, posted: datetime | None = None) -> list[dict[str, Any]]:
    """n videos.list items spread over 3 channels and 3 hashtags, posted at ``posted`` (10 days before NOW)."""
    posted = posted if posted is not None else NOW - timedelta(days=10)
    return [
        {
            "kind": "youtube#video",
            "id": youtube_id(i),
            "snippet": {
                "publishedAt": posted.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channelId": f"UCchannel{i % 3:015d}",
                "channelTitle": f"channel {i % 3}",
                "title": f"video {i} #{TAGS[i % 3]} #{TAGS[(i + 1) % 3]}",
            },
            "statistics": {"viewCount": str(1000 + i), "likeCount": str(10 + i), "commentCount": str(i % 5)},
        }
        for i in range(start, start + n)
    ]


def ingest_youtube(conn: psycopg.Connection[Any], items: list[dict[str, Any]], observed_at: datetime) -> None:
    result = ingest_snapshot(
        conn,
        lambda: read_records(items, "youtube"),
        content_hash=records_content_hash(items),
        source="youtube",
        trigger="invoke",
        observed_at=observed_at,
    )
    assert result.status == "completed", result


def seed(conn: psycopg.Connection[Any], n: int, **kwargs: Any) -> None:
    conn.execute(
        "INSERT INTO communities (slug, name, linked_hashtags) VALUES ('editors', 'Editors', '{edit,anime}')"
        " ON CONFLICT DO NOTHING"
    )
    ingest_youtube(conn, youtube_items(n, **kwargs), NOW - timedelta(days=1))


def settings(**overrides: Any) -> ViewTrackingSettings:
    values: dict[str, Any] = {
        "YOUTUBE_API_KEY": DEFAULT_API_KEY,
        "YOUTUBE_MAX_CONCURRENCY": 4,
        "YOUTUBE_BACKOFF_BASE_S": 0.01,
        "YOUTUBE_BACKOFF_MAX_S": 0.05,
        "YOUTUBE_READ_TIMEOUT_S": 2.0,
        "TRACKING_CALLS_PER_COMMIT": 2,
    }
    values.update({k.upper(): v for k, v in overrides.items()})
    return ViewTrackingSettings.model_validate(values)


def run(conn: psycopg.Connection[Any], yt: FakeYouTube, cfg: ViewTrackingSettings | None = None, **kwargs: Any):
    cfg = cfg or settings()
    now = kwargs.pop("now", NOW)
    client = YouTubeClient.from_settings(
        cfg.model_copy(update={"youtube_api_base_url": yt.base_url}), cfg.youtube_api_key or ""
    )
    try:
        return track_views(conn, ViewTrackingEvent(**kwargs), cfg, client=client, now=now)
    finally:
        client.close()


@pytest.fixture
def yt(db_url: str) -> Iterator[FakeYouTube]:
    with start_fake_youtube(database_url=db_url) as fake:
        yield fake


def assert_consistent(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("SELECT aggregate, entity FROM aggregate_drift").fetchall() == []
    # the ledger holds every request the runs made
    ledger = conn.execute("SELECT coalesce(sum(units_spent), 0) FROM api_quota_ledger").fetchone()
    jobs = conn.execute("SELECT coalesce(sum(api_calls), 0) FROM tracking_jobs").fetchone()
    assert ledger is not None
    assert jobs is not None
    assert int(ledger[0]) >= int(jobs[0])


def tracked_rows(conn: psycopg.Connection[Any], job_id: int) -> int:
    row = conn.execute("SELECT count(*) FROM video_metric_snapshots WHERE tracking_job_id = %s", (job_id,)).fetchone()
    assert row is not None
    return int(row[0])


# ------------------------------------------------------------------------------------------------------- happy path
def test_a_run_tracks_every_due_video_in_exactly_ceil_n_over_50_calls(
    db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    # Given 120 YouTube videos (enrolled for tracking by ingest, due at once)
    seed(db, 120)
    assert db.execute("SELECT count(*), min(tier), max(tier) FROM view_tracking_priority").fetchone() == (120, 1, 1)
    # When a run is made
    job = run(db, yt)
    # Then it made ceil(120/50) = 3 calls of at most 50 ids and tracked them all
    assert (job.status, job.stopped_reason) == ("completed", None)
    assert yt.stats.calls == math.ceil(120 / 50) == job.api_calls == job.quota_units_used
    assert sorted(yt.stats.batch_sizes) == [20, 50, 50]
    assert (job.videos_due, job.videos_tracked, job.videos_missing) == (120, 120, 0)
    # And each video has a snapshot of this run and current metrics equal to what the API answered
    assert tracked_rows(db, job.job_id) == 120
    assert db.execute(
        "SELECT count(*) FROM videos_hot v JOIN video_metric_snapshots s ON s.video_id = v.video_id"
        " AND s.tracking_job_id = %s WHERE v.views_count = s.views_count AND v.metrics_observed_at = %s"
        " AND v.source = 'view_tracking'",
        (job.job_id, NOW),
    ).fetchone() == (120,)
    # And it is due again at the next Pacific midnight (tier 1: daily), and the ledger holds 3 units for today
    assert db.execute("SELECT DISTINCT next_due_at, last_tracked_at FROM view_tracking_priority").fetchall() == [
        (NEXT_PACIFIC_MIDNIGHT, NOW)
    ]
    assert db.execute("SELECT quota_day::text, units_spent FROM api_quota_ledger").fetchall() == [
        (TODAY.isoformat(), 3)
    ]
    assert_consistent(db)
    # When another run comes the same day, nothing is due and no call is made
    again = run(db, yt, now=NOW + timedelta(hours=2))
    assert (again.status, again.api_calls, yt.stats.calls) == ("completed", 0, 3)


def test_growth_moves_impact_and_every_aggregate_exactly(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given videos tracked once
    seed(db, 30)
    run(db, yt)
    before = db.execute("SELECT sum(views_count), sum(impact_score) FROM videos_hot").fetchone()
    # When the next day's run sees their counts grown (13 hours later on the fake's clock)
    yt.advance(hours=13)
    job = run(db, yt, now=NEXT_PACIFIC_MIDNIGHT + timedelta(minutes=15))
    after = db.execute("SELECT sum(views_count), sum(impact_score) FROM videos_hot").fetchone()
    # Then views and impact rose, every aggregate equals a recomputation, and velocities are known
    assert job.videos_tracked == 30
    assert before is not None
    assert after is not None
    assert after[0] > before[0]
    assert after[1] >= before[1]
    assert db.execute("SELECT sum(total_play_count) FROM creators_hot WHERE platform = 'youtube'").fetchone() == (
        after[0],
    )
    assert db.execute("SELECT count(*) FROM view_tracking_priority WHERE velocity > 0").fetchone() == (30,)
    assert_consistent(db)


def test_hidden_likes_keep_the_last_known_value_and_are_flagged(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given a video whose owner hides likes and another with comments disabled
    seed(db, 3)
    yt.faults.hidden_likes = {youtube_id(1)}
    yt.faults.hidden_comments = {youtube_id(2)}
    stored = {
        r[0]: r[1:] for r in db.execute("SELECT video_id, likes_count, comments_count FROM videos_hot").fetchall()
    }
    # When they are tracked
    job = run(db, yt)
    # Then the hidden counts keep their last known value, the snapshot records a gap (NULL), and the flag is set
    rows = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT v.video_id, v.likes_count, v.comments_count, s.likes_count, s.comments_count, p.likes_hidden,"
            " p.comments_hidden FROM videos_hot v JOIN view_tracking_priority p USING (video_id)"
            " JOIN video_metric_snapshots s ON s.video_id = v.video_id AND s.tracking_job_id = %s",
            (job.job_id,),
        ).fetchall()
    }
    likes_1, _comments_1 = stored[youtube_id(1)]
    assert rows[youtube_id(1)][0] == likes_1
    assert rows[youtube_id(1)][2:] == (None, rows[youtube_id(1)][1], True, False)
    _likes_2, comments_2 = stored[youtube_id(2)]
    assert rows[youtube_id(2)][1] == comments_2
    assert rows[youtube_id(2)][2:] == (rows[youtube_id(2)][0], None, False, True)
    assert rows[youtube_id(0)][4:] == (False, False)
    assert_consistent(db)


# ------------------------------------------------------------------------------------------------------------ quota
def test_quota_exceeded_mid_run_stops_cleanly_and_keeps_what_was_fetched(
    db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    # Given 250 due videos (5 calls) and an API whose quota runs out after 2 calls
    seed(db, 250)
    yt.faults.quota_exceeded_after = 2
    # When a run is made (one call at a time, one call per commit)
    job = run(db, yt, settings(youtube_max_concurrency=1, tracking_calls_per_commit=1))
    # Then it stopped with quota_exceeded after the third call (which spent a unit too)
    assert (job.status, job.stopped_reason) == ("stopped", "quota_exceeded")
    assert (job.api_calls, job.videos_tracked) == (3, 100)
    assert any("quotaExceeded" in e for e in job.errors)
    # And the two answered calls are written, the ledger is set to spent for the day
    assert tracked_rows(db, job.job_id) == 100
    assert db.execute("SELECT units_spent, exhausted_at IS NOT NULL FROM api_quota_ledger").fetchone() == (2000, True)
    assert db.execute("SELECT count(*) FROM view_tracking_priority WHERE next_due_at <= %s", (NOW,)).fetchone() == (
        150,
    )
    assert_consistent(db)
    # When another run comes the same quota day, it makes no call
    again = run(db, yt, now=NOW + timedelta(hours=1))
    assert (again.status, again.stopped_reason, again.api_calls, yt.stats.calls) == (
        "stopped",
        "quota_exceeded",
        0,
        3,
    )
    # And after Pacific midnight the quota is back
    yt.faults.quota_exceeded_after = None
    later = run(db, yt, now=NEXT_PACIFIC_MIDNIGHT + timedelta(minutes=15))
    assert (later.status, later.videos_tracked) == ("completed", 250)


def test_a_run_spends_at_most_the_days_remaining_budget(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given 250 due videos, a budget of 4 calls a day, 1 already spent today
    seed(db, 250)
    db.execute("INSERT INTO api_quota_ledger (quota_day, units_spent) VALUES (%s, 1)", (TODAY,))
    # When a run is made
    job = run(db, yt, settings(tracking_daily_quota_units=4))
    # Then it made the 3 calls left and tracked the 150 most important videos
    assert (job.status, job.stopped_reason, job.api_calls, job.videos_tracked) == ("stopped", "budget_spent", 3, 150)
    assert db.execute("SELECT units_spent FROM api_quota_ledger").fetchone() == (4,)
    assert_consistent(db)


def test_limit_caps_the_videos_of_a_run(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    seed(db, 120)
    job = run(db, yt, limit=60)
    assert (job.status, job.api_calls, job.videos_tracked, job.requested_limit) == ("completed", 2, 60, 60)


# ----------------------------------------------------------------------------------------------------------- faults
def test_5xx_bursts_rate_limits_and_timeouts_are_retried_and_counted(
    db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    # Given 150 due videos and an API that fails 2 calls with 503, 1 with 429, 1 with rateLimitExceeded, and hangs once
    seed(db, 150)
    yt.faults.error_burst = 2
    yt.faults.too_many_requests_burst = 1
    yt.faults.rate_limit_burst = 1
    yt.faults.timeout_burst = 1
    yt.faults.hang_seconds = 1.5
    # When a run is made with a 0.5 s read timeout, one call at a time
    job = run(db, yt, settings(youtube_max_concurrency=1, youtube_read_timeout_s=0.5, youtube_max_attempts=6))
    # Then every video was tracked, and the 5 failed attempts were spent and recorded as calls
    assert (job.status, job.videos_tracked) == ("completed", 150)
    assert job.api_calls == 3 + 5 == job.quota_units_used
    assert db.execute("SELECT units_spent FROM api_quota_ledger").fetchone() == (8,)
    assert_consistent(db)


def test_a_call_failing_every_attempt_leaves_its_videos_due(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given an API that answers 503 to the first 3 calls, and a client that tries 3 times
    seed(db, 100)
    yt.faults.error_burst = 3
    job = run(db, yt, settings(youtube_max_concurrency=1, youtube_max_attempts=3))
    # Then the run completed the other call, reports the failed one, and its 50 videos stay due
    assert (job.status, job.videos_tracked, job.api_calls) == ("completed", 50, 4)
    assert any("after 3 attempts" in e for e in job.errors)
    assert db.execute("SELECT count(*) FROM view_tracking_priority WHERE next_due_at <= %s", (NOW,)).fetchone() == (50,)
    assert_consistent(db)


def test_vanished_ids_leave_tracking_after_three_misses_in_a_row(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given 5 videos of which 2 were deleted
    seed(db, 5)
    gone = {youtube_id(1), youtube_id(3)}
    yt.faults.vanished = gone
    # When runs are made on three consecutive quota days
    jobs = [run(db, yt, now=NOW + timedelta(days=d)) for d in range(3)]
    # Then each run reports them missing, and after the third miss they are unavailable
    assert [j.videos_missing for j in jobs] == [2, 2, 2]
    assert [j.videos_unavailable for j in jobs] == [0, 0, 2]
    assert [j.videos_tracked for j in jobs] == [3, 3, 3]
    rows = dict(db.execute("SELECT video_id, status FROM view_tracking_priority").fetchall())
    assert {k for k, v in rows.items() if v == "unavailable"} == gone
    # And the next run does not ask for them any more
    yt.stats.batch_sizes.clear()
    run(db, yt, now=NOW + timedelta(days=3))
    assert yt.stats.batch_sizes == [3]
    assert_consistent(db)


def test_an_id_missing_once_is_asked_again_and_its_count_resets(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    seed(db, 2)
    yt.faults.vanished = {youtube_id(0)}
    run(db, yt)
    yt.faults.vanished = set()
    job = run(db, yt, now=NOW + timedelta(days=1))
    assert job.videos_tracked == 2
    assert db.execute("SELECT max(consecutive_misses), min(status) FROM view_tracking_priority").fetchone() == (
        0,
        "active",
    )


def test_an_invalid_key_fails_the_job_with_a_clear_message(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given a key the API does not accept
    seed(db, 60)
    # When a run is made
    job = run(db, yt, settings(youtube_api_key="wrong-key"))
    # Then the job failed, saying the key was rejected, and nothing was written but the spent units
    assert (job.status, job.stopped_reason) == ("failed", "invalid_api_key")
    assert any("API key" in e for e in job.errors)
    assert job.videos_tracked == 0
    assert db.execute("SELECT count(*) FROM video_metric_snapshots WHERE tracking_job_id IS NOT NULL").fetchone() == (
        0,
    )
    assert db.execute("SELECT units_spent FROM api_quota_ledger").fetchone() == (job.api_calls,)
    assert 1 <= job.api_calls <= 2
    assert_consistent(db)


def test_no_key_configured_fails_the_job_without_calling(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    seed(db, 3)
    cfg = settings(youtube_api_key=None, youtube_api_base_url=yt.base_url)
    job = track_views(db, ViewTrackingEvent(), cfg, now=NOW)
    assert (job.status, job.stopped_reason, yt.stats.calls) == ("failed", "invalid_api_key", 0)
    assert "YOUTUBE_API_KEY" in job.errors[0]


# -------------------------------------------------------------------------------------------------- jobs and runs
def test_a_run_that_died_keeps_its_committed_batches_and_is_marked_failed(
    db_url: str, db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    # Given 200 due videos (4 calls) and a slow API
    seed(db, 200)
    yt.faults.latency_ms = 300
    cfg = settings(youtube_max_concurrency=1, tracking_calls_per_commit=1)
    errors: list[BaseException] = []
    runner = psycopg.connect(db_url, autocommit=True)
    pid = runner.info.backend_pid

    def go() -> None:
        try:
            run(runner, yt, cfg)
        except BaseException as exc:
            errors.append(exc)

    # When the run's database session is killed after its second batch committed
    thread = threading.Thread(target=go)
    thread.start()
    for _ in range(200):
        row = db.execute("SELECT count(*) FROM video_metric_snapshots WHERE tracking_job_id IS NOT NULL").fetchone()
        if row and row[0] >= 100:
            break
        threading.Event().wait(0.05)
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(timeout=60)
    runner.close()
    # Then the run failed, what it committed is kept, and the job is left running
    assert errors
    kept = db.execute("SELECT count(*) FROM video_metric_snapshots WHERE tracking_job_id IS NOT NULL").fetchone()
    assert kept is not None
    assert 100 <= kept[0] < 200
    assert db.execute("SELECT status FROM tracking_jobs").fetchall() == [("running",)]
    # When the next run comes
    yt.faults.latency_ms = 0
    job = run(db, yt)
    # Then it marks the dead job failed and tracks what was left
    assert db.execute("SELECT status FROM tracking_jobs WHERE job_id <> %s", (job.job_id,)).fetchall() == [("failed",)]
    assert job.videos_tracked == 200 - kept[0]
    assert_consistent(db)


def test_a_second_run_at_the_same_time_stops_as_already_running(
    db_url: str, db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    seed(db, 1)
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, 0)", (TRACKING_LOCK_CLASS,))
        job = run(db, yt)
    assert (job.status, job.stopped_reason, yt.stats.calls) == ("stopped", "already_running", 0)


def test_a_queued_admin_run_is_picked_up_by_its_job_id(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given the admin API queued a run of 10 videos
    seed(db, 30)
    queued = queue_view_tracking_run(db, 10)
    assert (queued.status, queued.trigger, queued.requested_limit) == ("queued", "api", 10)
    # When the function runs it
    job = run(db, yt, job_id=queued.job_id, trigger="api")
    # Then the same job row completed with its limit
    assert (job.job_id, job.status, job.videos_tracked) == (queued.job_id, "completed", 10)


def test_stats_report_tiers_due_quota_runs_and_fastest_growing(db: psycopg.Connection[Any], yt: FakeYouTube) -> None:
    # Given 20 young videos and 10 old ones, tracked on two days
    seed(db, 20)
    ingest_youtube(db, youtube_items(10, start=100, posted=NOW - timedelta(days=400)), NOW - timedelta(days=1))
    run(db, yt)
    yt.advance(hours=24)
    run(db, yt, now=NOW + timedelta(days=1))
    # When the stats are read
    stats = view_tracking_stats(db, settings(), now=NOW + timedelta(days=1, hours=1))
    # Then they give tiers, quota and runs
    assert [(t.tier, t.videos) for t in stats.tiers] == [(1, 20), (2, 0), (3, 10)]
    assert (stats.active_videos, stats.unavailable_videos, stats.due_now) == (30, 0, 0)
    assert stats.due_today == 0
    assert (stats.quota.spent, stats.quota.left, stats.quota.budget) == (1, 1999, 2000)
    assert [r.status for r in stats.last_runs] == ["completed", "completed"]
    assert len(stats.fastest_growing) == 10
    speeds = [f.views_per_hour for f in stats.fastest_growing]
    assert speeds == sorted(speeds, reverse=True)
    assert speeds[0] > 0


# ---------------------------------------------------------------------------------------------- concurrency with ingest
def test_tracking_and_ingest_at_the_same_time_keep_every_aggregate_exact(
    db_url: str, db: psycopg.Connection[Any], yt: FakeYouTube
) -> None:
    # Given 300 tracked videos sharing channels and hashtags
    seed(db, 300)
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def tracking_run() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                run(conn, yt, settings(tracking_calls_per_commit=1))
        except BaseException as exc:
            errors.append(exc)

    def ingest_run(offset: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                # overlapping videos with new counts, new videos, and hashtag changes
                items = youtube_items(150, start=offset)
                for item in items:
                    item["statistics"]["viewCount"] = str(5_000_000 + offset)
                    item["snippet"]["title"] += " #anime #extra"
                ingest_youtube(conn, items, NOW + timedelta(minutes=offset))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=tracking_run),
        threading.Thread(target=ingest_run, args=(100,)),
        threading.Thread(target=ingest_run, args=(250,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    # Then nothing failed and every aggregate equals its recomputation
    assert errors == []
    assert_consistent(db)
    assert db.execute("SELECT count(*) FROM view_tracking_priority").fetchone() == (400,)


# ------------------------------------------------------------------- the invariant, over random metric sequences
observation = st.tuples(
    st.integers(0, 7),  # which video
    st.integers(0, 10**10),  # views
    st.none() | st.integers(0, 10**8),  # likes (None: hidden)
    st.none() | st.integers(0, 10**5),  # comments (None: disabled)
    st.integers(-3, 3),  # observed this many hours from NOW (earlier ones may be stale)
)


@given(
    batches=st.lists(st.lists(observation, min_size=1, max_size=8), min_size=1, max_size=5),
    reingest=st.booleans(),
)
@settings_(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_write_metrics_keeps_every_aggregate_exact_for_any_sequence(
    db: psycopg.Connection[Any], batches: list[list[tuple[int, int, int | None, int | None, int]]], reingest: bool
) -> None:
    # Given 8 YouTube videos sharing channels, hashtags and a community
    db.execute("TRUNCATE videos_hot, creators_hot, hashtags_hot, communities, ingestions RESTART IDENTITY CASCADE")
    seed(db, 8)
    latest: dict[str, tuple[datetime, int]] = {}
    # When batches of observations (hidden counts, repeats, out of order) go through the metric-only path,
    # optionally with an ingest of new counts and hashtags in between
    for n, batch in enumerate(batches):
        obs = [
            MetricObservation(youtube_id(v), views, likes, comments, NOW + timedelta(hours=h, seconds=n))
            for v, views, likes, comments, h in batch
        ]
        with db.transaction():
            write_metrics(db, obs, tracking_job_id=None)
        for o in obs:
            if o.video_id not in latest or o.observed_at >= latest[o.video_id][0]:
                latest[o.video_id] = (o.observed_at, o.views)
        if reingest and n == 0:
            items = youtube_items(4)
            for item in items:
                item["snippet"]["title"] = "#anime #new"
            ingest_youtube(db, items, NOW - timedelta(days=1))
    # Then every aggregate equals a recomputation, and each video holds its newest observation's views
    assert db.execute("SELECT aggregate, entity FROM aggregate_drift").fetchall() == []
    stored = dict(db.execute("SELECT video_id, views_count FROM videos_hot").fetchall())
    for video_id, (_, views) in latest.items():
        assert stored[video_id] == views
