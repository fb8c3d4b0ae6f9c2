"""The tracking schedule in SQL (quota days and due times across DST, tiers as videos age and grow) and the
``video_performance_trends`` materialized view."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from reelrank.db import tracking
from tests.integration.test_view_tracking import NOW, ingest_youtube, youtube_id, youtube_items


@pytest.mark.parametrize(
    ("utc", "quota_day"),
    [
        # spring forward, Sunday 2026-03-08 02:00 PST -> 03:00 PDT: the day starts at 08:00 UTC, the next at 07:00 UTC
        ("2026-03-08 07:59:59+00", date(2026, 3, 7)),
        ("2026-03-08 08:00:00+00", date(2026, 3, 8)),
        ("2026-03-09 06:59:59+00", date(2026, 3, 8)),
        ("2026-03-09 07:00:00+00", date(2026, 3, 9)),
        # fall back, Sunday 2026-11-01 02:00 PDT -> 01:00 PST: that day lasts 25 hours (07:00 UTC to 08:00 UTC next)
        ("2026-11-01 06:59:59+00", date(2026, 10, 31)),
        ("2026-11-01 07:00:00+00", date(2026, 11, 1)),
        ("2026-11-02 07:59:59+00", date(2026, 11, 1)),
        ("2026-11-02 08:00:00+00", date(2026, 11, 2)),
    ],
)
def test_the_quota_day_is_the_pacific_day_across_dst(db: psycopg.Connection[Any], utc: str, quota_day: date) -> None:
    at = datetime.fromisoformat(utc)
    assert tracking.quota_day(db, at) == quota_day


@pytest.mark.parametrize(
    ("tracked", "tier", "due"),
    [
        # tracked the evening before spring forward: due at the next Pacific midnight, still PST (08:00 UTC)
        ("2026-03-08 05:00:00+00", 1, "2026-03-08 08:00:00+00"),
        # tracked on the short day: the next midnight is PDT (07:00 UTC), 23 hours after the day began
        ("2026-03-08 20:00:00+00", 1, "2026-03-09 07:00:00+00"),
        # weekly across fall back: 7 quota days later, at PST midnight
        ("2026-10-30 08:00:00+00", 3, "2026-11-06 08:00:00+00"),
        # every 3 days, tracked at 23:59 Pacific: due 3 quota days later, not 3 x 24 h later
        ("2026-06-02 06:59:00+00", 2, "2026-06-04 07:00:00+00"),
    ],
)
def test_next_due_is_the_pacific_midnight_an_interval_of_quota_days_later(
    db: psycopg.Connection[Any], tracked: str, tier: int, due: str
) -> None:
    row = db.execute("SELECT tracking_next_due(%s::timestamptz, %s::smallint)", (tracked, tier)).fetchone()
    assert row == (datetime.fromisoformat(due),)


def test_quota_ledger_rows_follow_the_pacific_day(db: psycopg.Connection[Any]) -> None:
    # Given spending at 23:30 and 00:30 Pacific on the fall-back night
    before, after = datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    for at in (before, after):
        tracking.spend_quota(db, tracking.quota_day(db, at), 5)
    tracking.spend_quota(db, tracking.quota_day(db, after), 1, exhausted_at=2000)
    # Then they land on two days, and the day marked exhausted reads as spent
    assert tracking.quota_state(db, date(2026, 10, 31)) == (5, False)
    assert tracking.quota_state(db, date(2026, 11, 1)) == (2000, True)


def test_tiers_follow_age_and_velocity(db: psycopg.Connection[Any]) -> None:
    # Given videos posted 5, 60 and 400 days ago
    for i, days in enumerate((5, 60, 400)):
        ingest_youtube(db, youtube_items(1, start=i, posted=NOW - timedelta(days=days)), NOW - timedelta(days=1))
    tracking.refresh_tiers(db, NOW, top_performers=1)
    tiers = dict(db.execute("SELECT video_id, tier FROM view_tracking_priority").fetchall())
    assert tiers == {youtube_id(0): 1, youtube_id(1): 2, youtube_id(2): 3}
    # When they age 30 days, and the oldest becomes the fastest grower
    db.execute(
        "UPDATE view_tracking_priority SET velocity = 500, last_tracked_at = %s WHERE video_id = %s",
        (NOW, youtube_id(2)),
    )
    later = NOW + timedelta(days=30)
    threshold = tracking.refresh_tiers(db, later, top_performers=1)
    # Then the young one moved to tier 2, the 90-day one stayed, the top performer is tier 1 and due the next day
    rows = {
        r[0]: r[1:] for r in db.execute("SELECT video_id, tier, next_due_at FROM view_tracking_priority").fetchall()
    }
    assert threshold == 500
    assert {k: v[0] for k, v in rows.items()} == {youtube_id(0): 2, youtube_id(1): 2, youtube_id(2): 1}
    assert rows[youtube_id(2)][1] == db.execute("SELECT tracking_next_due(%s, 1::smallint)", (NOW,)).fetchone()[0]
    # And the due list puts tier 1 first
    assert tracking.fetch_due_videos(db, later + timedelta(days=2), 10)[0] == youtube_id(2)


def test_selecting_due_videos_is_an_index_scan_on_the_due_index(db: psycopg.Connection[Any]) -> None:
    db.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "EXPLAIN SELECT video_id FROM view_tracking_priority WHERE status = 'active' AND next_due_at <= now()"
            " ORDER BY priority_score DESC, next_due_at, video_id LIMIT 100000"
        ).fetchall()
    )
    assert "view_tracking_due_idx" in plan


def test_performance_trends_take_the_snapshot_nearest_each_age(db: psycopg.Connection[Any]) -> None:
    # Given a video posted 40 days ago with snapshots at 20 h, 30 h, 6 d, 8 d and 33 d after posting
    posted = NOW - timedelta(days=40)
    ingest_youtube(db, youtube_items(1, posted=posted), posted + timedelta(hours=20))
    vid = youtube_id(0)
    points = [(30, 2000), (6 * 24, 9000), (8 * 24, 11000), (33 * 24, 40000)]
    for hours, views in points:
        db.execute(
            "INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, source) VALUES (%s, %s, %s, 'test')",
            (vid, posted + timedelta(hours=hours), views),
        )
    # And a video with no snapshot near any age
    ingest_youtube(db, youtube_items(1, start=1, posted=posted), posted + timedelta(days=60))
    # When the view is refreshed the way reconcile does it
    db.execute("REFRESH MATERIALIZED VIEW video_performance_trends")
    db.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY video_performance_trends")
    rows = db.execute(
        "SELECT video_id, views_day_1, views_week_1, views_month_1, growth_day_1_to_week_1, week_1_multiple"
        " FROM video_performance_trends"
    ).fetchall()
    # Then day 1 is the 20 h snapshot (1000 views from ingest), week 1 the 6-day one, month 1 the 33-day one
    assert len(rows) == 1
    video_id, day_1, week_1, month_1, growth, multiple = rows[0]
    assert (video_id, day_1, week_1, month_1) == (vid, 1000, 9000, 40000)
    assert float(growth) == round((9000 - 1000) / ((6 * 24 - 20) / 24), 2)
    assert float(multiple) == 9.0
