"""The schema's own guarantees: BIGINT counts, id shapes, normalised keys, partitions, and index-served sorts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from reelrank.db import rankings


def test_counts_above_2_pow_31_are_stored_exactly(db: psycopg.Connection[Any]) -> None:
    db.execute(
        "INSERT INTO videos_hot (video_id, platform, views_count) VALUES ('7481203345566778890', 'tiktok', %s)",
        (2**62,),
    )
    assert db.execute("SELECT views_count FROM videos_hot").fetchone() == (2**62,)


@pytest.mark.parametrize("column", ["views_count", "likes_count", "comments_count", "shares_count", "collect_count"])
def test_negative_counts_are_refused(db: psycopg.Connection[Any], column: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match=column):
        db.execute(f"INSERT INTO videos_hot (video_id, platform, {column}) VALUES ('100000000001', 'tiktok', -1)")


@pytest.mark.parametrize(
    ("platform", "video_id", "ok"),
    [
        ("tiktok", "7481203345566778890", True),
        ("tiktok", "Qz7rVd2kLmA", False),  # a YouTube-shaped id cannot be a TikTok video
        ("youtube", "Qz7rVd2kLmA", True),
        ("youtube", "7481203345566778890", False),
        ("instagram", "123456789012", False),
    ],
)
def test_video_ids_have_their_platform_shape(
    db: psycopg.Connection[Any], platform: str, video_id: str, ok: bool
) -> None:
    stmt = "INSERT INTO videos_hot (video_id, platform) VALUES (%s, %s)"
    if ok:
        db.execute(stmt, (video_id, platform))
        assert db.execute("SELECT platform FROM videos_hot WHERE video_id = %s", (video_id,)).fetchone() == (platform,)
    else:
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(stmt, (video_id, platform))


def test_creator_keys_cannot_collide_across_platforms(db: psycopg.Connection[Any]) -> None:
    db.execute(
        "INSERT INTO creators_hot (creator_id, platform, username) VALUES ('nightdrive.edits', 'tiktok', 'nightdrive.edits')"
    )
    db.execute("INSERT INTO creators_hot (creator_id, platform) VALUES ('UCa1B2c3D4e5F6g7H8i9J0kL', 'youtube')")
    with pytest.raises(psycopg.errors.CheckViolation, match="creators_tiktok_handle_lower"):
        db.execute("INSERT INTO creators_hot (creator_id, platform) VALUES ('NightDrive', 'tiktok')")
    with pytest.raises(psycopg.errors.CheckViolation, match="creators_youtube_channel_id"):
        db.execute("INSERT INTO creators_hot (creator_id, platform) VALUES ('nightdrive.edits2', 'youtube')")


@pytest.mark.parametrize("bad", ["#fyp", "FYP", ""])
def test_hashtags_are_stored_normalised(db: psycopg.Connection[Any], bad: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("INSERT INTO hashtags_hot (hashtag, display_name) VALUES (%s, %s)", (bad, bad))


def test_cafe_and_café_are_distinct_hashtags(db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO hashtags_hot (hashtag, display_name) VALUES ('café', 'café'), ('cafe', 'cafe')")
    assert db.execute("SELECT count(*) FROM hashtags_hot").fetchone() == (2,)


def test_snapshots_need_a_partition_and_ensure_creates_it(db: psycopg.Connection[Any]) -> None:
    # Given a video and an observation far outside the partitions created at migration time
    db.execute("INSERT INTO videos_hot (video_id, platform) VALUES ('Qz7rVd2kLmA', 'youtube')")
    insert = (
        "INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, source)"
        " VALUES ('Qz7rVd2kLmA', '2014-11-19T17:00:01Z', 10, 'youtube')"
    )
    with pytest.raises(psycopg.errors.CheckViolation, match="no partition"):
        db.execute(insert)
    # When the months are ensured (twice: idempotent)
    assert db.execute("SELECT ensure_snapshot_partitions('2014-10-15Z', '2014-12-01Z')").fetchone() == (3,)
    assert db.execute("SELECT ensure_snapshot_partitions('2014-10-15Z', '2014-12-01Z')").fetchone() == (0,)
    # Then the row lands in its month's partition
    db.execute(insert)
    assert db.execute("SELECT tableoid::regclass::text FROM video_metric_snapshots").fetchone() == (
        "video_metric_snapshots_y2014m11",
    )


def test_retention_drops_only_partitions_that_ended_before_the_cutoff(db: psycopg.Connection[Any]) -> None:
    db.execute("SELECT ensure_snapshot_partitions('2014-10-01Z', '2014-12-01Z')")
    dropped = [r[0] for r in db.execute("SELECT * FROM drop_snapshot_partitions_before('2014-12-01Z')").fetchall()]
    assert dropped == ["video_metric_snapshots_y2014m10", "video_metric_snapshots_y2014m11"]
    assert db.execute("SELECT to_regclass('video_metric_snapshots_y2014m12') IS NOT NULL").fetchone() == (True,)


def test_migration_creates_partitions_from_a_year_ago_to_three_months_ahead(db: psycopg.Connection[Any]) -> None:
    row = db.execute(
        """
        SELECT count(*) FROM pg_inherits WHERE inhparent = 'video_metric_snapshots'::regclass
        """
    ).fetchone()
    assert row is not None
    assert row[0] >= 16


@pytest.mark.parametrize(
    ("utc", "quota_day"),
    [
        ("2026-03-08T07:59:59Z", date(2026, 3, 7)),  # 23:59:59 PST
        ("2026-03-08T08:00:00Z", date(2026, 3, 8)),  # midnight PST; DST starts at 02:00 local that day
        ("2026-03-09T06:59:59Z", date(2026, 3, 8)),  # 23:59:59 PDT (UTC-7 now)
        ("2026-03-09T07:00:00Z", date(2026, 3, 9)),
        ("2026-11-01T06:59:59Z", date(2026, 10, 31)),  # 23:59:59 PDT
        ("2026-11-02T07:59:59Z", date(2026, 11, 1)),  # back on PST (UTC-8)
        ("2026-11-02T08:00:00Z", date(2026, 11, 2)),
    ],
)
def test_youtube_quota_day_is_the_pacific_calendar_day(db: psycopg.Connection[Any], utc: str, quota_day: date) -> None:
    assert db.execute("SELECT youtube_quota_day(%s::timestamptz)", (utc,)).fetchone() == (quota_day,)


# Each list sort of the read API must be served by an index scan in the sort's own order (no sort node), which is
# what makes keyset pagination cost the same on page 1 and page 500.
SORTED_QUERIES = [
    ("SELECT video_id FROM videos_hot ORDER BY views_count DESC, video_id DESC LIMIT 50", "videos_views_idx"),
    ("SELECT video_id FROM videos_hot ORDER BY impact_score DESC, video_id DESC LIMIT 50", "videos_impact_idx"),
    ("SELECT video_id FROM videos_hot ORDER BY likes_count DESC, video_id DESC LIMIT 50", "videos_likes_idx"),
    (
        "SELECT video_id FROM videos_hot ORDER BY created_at DESC NULLS LAST, video_id DESC LIMIT 50",
        "videos_recent_idx",
    ),
    (
        "SELECT video_id FROM videos_hot WHERE platform = 'youtube' ORDER BY impact_score DESC, video_id DESC LIMIT 50",
        "videos_platform_impact_idx",
    ),
    (
        "SELECT video_id FROM videos_hot WHERE creator_id = 'x' ORDER BY impact_score DESC, video_id DESC LIMIT 50",
        "videos_creator_impact_idx",
    ),
    (
        "SELECT video_id FROM videos_hot WHERE (views_count, video_id) < (100, 'z')"
        " ORDER BY views_count DESC, video_id DESC LIMIT 50",
        "videos_views_idx",
    ),
    (
        "SELECT video_id FROM video_hashtag_facts WHERE hashtag = 'fyp' ORDER BY views_count DESC, video_id DESC LIMIT 50",
        "video_hashtag_facts_views_idx",
    ),
    (
        "SELECT video_id FROM video_sound_facts WHERE sound_id = 's' ORDER BY impact_score DESC, video_id DESC LIMIT 50",
        "video_sound_facts_impact_idx",
    ),
    (
        "SELECT video_id FROM community_video_memberships WHERE community_id = 1"
        " ORDER BY impact_score DESC, video_id DESC LIMIT 50",
        "community_videos_impact_idx",
    ),
    (
        "SELECT creator_id FROM creators_hot ORDER BY total_impact_score DESC, creator_id DESC LIMIT 50",
        "creators_impact_idx",
    ),
    (
        "SELECT creator_id FROM creators_hot ORDER BY followers_count DESC NULLS LAST, creator_id DESC LIMIT 50",
        "creators_followers_idx",
    ),
    ("SELECT hashtag FROM hashtags_hot ORDER BY trend_score DESC, hashtag DESC LIMIT 50", "hashtags_trending_idx"),
    ("SELECT hashtag FROM hashtags_hot ORDER BY creators_count DESC, hashtag DESC LIMIT 50", "hashtags_creators_idx"),
    (
        "SELECT hashtag FROM hashtag_platform_totals WHERE platform = 'tiktok'"
        " ORDER BY views_total DESC, hashtag DESC LIMIT 50",
        "hashtag_platform_views_idx",
    ),
    ("SELECT sound_id FROM sounds_hot ORDER BY views_total DESC, sound_id DESC LIMIT 50", "sounds_views_idx"),
    (
        "SELECT creator_id FROM sound_creator_counts WHERE sound_id = 's'"
        " ORDER BY total_impact_score DESC, creator_id DESC LIMIT 50",
        "sound_creators_impact_idx",
    ),
    (
        "SELECT creator_id FROM sound_creator_counts WHERE sound_id = 's'"
        " ORDER BY total_likes DESC, creator_id DESC LIMIT 50",
        "sound_creators_likes_idx",
    ),
    (
        "SELECT creator_id FROM sound_creator_counts WHERE sound_id = 's'"
        " ORDER BY video_count DESC, creator_id DESC LIMIT 50",
        "sound_creators_videos_idx",
    ),
    (
        "SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'h'"
        " ORDER BY total_views DESC, creator_id DESC LIMIT 50",
        "hashtag_creator_counts_views_idx",
    ),
    (
        "SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'h'"
        " ORDER BY total_impact_score DESC, creator_id DESC LIMIT 50",
        "hashtag_creator_counts_impact_idx",
    ),
    (
        "SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'h'"
        " ORDER BY total_likes DESC, creator_id DESC LIMIT 50",
        "hashtag_creator_counts_likes_idx",
    ),
    ("SELECT video_id FROM videos_hot WHERE caption ILIKE '%edit%'", "videos_caption_trgm"),
    (
        "SELECT creator_id FROM creators_hot"
        " WHERE (coalesce(username, '') || ' ' || coalesce(display_name, '')) ILIKE '%drive%'",
        "creators_search_trgm",
    ),
]


@pytest.mark.parametrize(("query", "index"), SORTED_QUERIES)
def test_each_api_sort_and_search_is_served_by_its_index(db: psycopg.Connection[Any], query: str, index: str) -> None:
    # Planner costs on empty tables favour sequential scans; forbid them and explicit sorts so that the plan shows
    # whether an index can deliver the order at all.
    db.execute("SET enable_seqscan = off")
    db.execute("SET enable_sort = off")
    plan = "\n".join(str(r[0]) for r in db.execute(f"EXPLAIN {query}").fetchall())
    assert index in plan, plan
    assert "Sort Key" not in plan, plan


def _pair_list_plan(
    db: psycopg.Connection[Any], spec: rankings.ListSpec, sort: str, parent: str, after: rankings.Keyset | None
) -> str:
    """EXPLAIN of a nested creator list's page query (the first page, or the page after ``after``), sorts forbidden."""
    key = spec.sorts[sort]
    assert spec.parent is not None
    conds: list[sql.Composable] = [spec.parent]
    params: list[Any] = [parent]
    if after is not None:
        conds.append(sql.SQL("({}, {}) < (%s, %s)").format(key.expr, spec.id_expr))
        params += [after.value, after.id]
    query = rankings._select(spec, key, conds)
    db.execute("SET enable_seqscan = off")
    db.execute("SET enable_sort = off")
    rows = db.execute(sql.SQL("EXPLAIN {}").format(query), [*params, 51]).fetchall()
    return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("after", [None, rankings.Keyset(Decimal(1000), "c")])
def test_sound_creators_by_views_is_an_index_scan_of_the_pair_totals(
    db: psycopg.Connection[Any], after: rankings.Keyset | None
) -> None:
    # The query the API runs for GET /sounds/{id}/creators?sort=views (first page and a deep page by cursor): it
    # must read sound_creator_counts in its views index order (no GROUP BY of the facts, no sort), so a page 10,000
    # rows deep costs what the first one costs.
    plan = _pair_list_plan(db, rankings.SOUND_CREATORS, "views", "s", after)
    assert "sound_creators_views_idx" in plan, plan
    assert "Sort" not in plan, plan
    assert "Aggregate" not in plan, plan
    assert "video_sound_facts" not in plan, plan


@pytest.mark.parametrize("after", [None, rankings.Keyset(Decimal(1000), "c")])
@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("views", "hashtag_creator_counts_views_idx"),
        ("impact", "hashtag_creator_counts_impact_idx"),
        ("likes", "hashtag_creator_counts_likes_idx"),
    ],
)
def test_hashtag_creators_by_their_figures_within_it_is_an_index_scan_of_the_pair_totals(
    db: psycopg.Connection[Any], sort: str, index: str, after: rankings.Keyset | None
) -> None:
    # The query the API runs for GET /hashtags/{tag}/creators?sort=views|impact|likes (first page and a deep page by
    # cursor): it must read hashtag_creator_counts in the sort's index order (no join-then-sort of all the tag's
    # creators, no GROUP BY of the facts), so a page 10,000 rows deep costs what the first one costs.
    plan = _pair_list_plan(db, rankings.HASHTAG_CREATORS, sort, "h", after)
    assert index in plan, plan
    assert "Sort" not in plan, plan
    assert "Aggregate" not in plan, plan
    assert "video_hashtag_facts" not in plan, plan
