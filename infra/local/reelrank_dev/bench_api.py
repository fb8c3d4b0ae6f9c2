"""``make bench`` → ``api``: p50/p95 of every list route and sort through RankingApiFunction's handler in process (a
warm container), first page and a page 10,000 rows deep by keyset cursor, beside the OFFSET 10000 page it replaces.

The catalogue is written set-based in SQL (the ingest path is benchmarked on its own): N videos, N/5 creators and
N/20 hashtags (three per video), N/200 sounds, 50 communities, all Zipf-like skewed, with the fact tables, the
aggregates and the per-platform totals the lists read.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from reelrank.db import rankings as q
from reelrank.db.trends import refresh_trend_scores

REPEAT = 25
DEEP = 10_000


def build_catalogue(conn: psycopg.Connection[Any], n: int) -> None:
    """A skewed synthetic catalogue of ``n`` videos written straight into the tables."""
    creators, tags, sounds = max(10, n // 5), max(10, n // 20), max(5, n // 200)
    p = {"n": n, "creators": creators, "tags": tags, "sounds": sounds}
    conn.execute("SELECT setseed(0.42)")
    steps = [
        "INSERT INTO creators_hot (creator_id, platform, username, display_name, followers_count)"
        " SELECT 'creator' || i, 'tiktok', 'creator' || i, 'Creator ' || i,"
        " CASE WHEN i %% 7 = 0 THEN NULL ELSE (random() * 1e7)::bigint END FROM generate_series(1, %(creators)s) i",
        "INSERT INTO hashtags_hot (hashtag, display_name) SELECT 'tag' || i, 'Tag' || i FROM generate_series(1, %(tags)s) i",
        "INSERT INTO sounds_hot (sound_id, sound_title, sound_author) SELECT (7400000000000000000 + i)::text,"
        " 'Sound ' || i, 'Artist ' || i FROM generate_series(1, %(sounds)s) i",
        "CREATE TEMP TABLE bench_v AS SELECT i, (7000000000000000000 + i)::text AS video_id,"
        " 'creator' || (1 + floor(power(random(), 4) * %(creators)s))::int AS creator_id,"
        " (7400000000000000000 + 1 + floor(power(random(), 4) * %(sounds)s)::int)::text AS sound_id,"
        " ARRAY['tag' || (1 + floor(power(random(), 5) * %(tags)s))::int, 'tag' || (1 + floor(power(random(), 5) * %(tags)s))::int,"
        " 'tag' || (1 + floor(power(random(), 5) * %(tags)s))::int] AS tags,"
        " (exp(9 + 2.2 * sqrt(-2 * ln(greatest(random(), 1e-12))) * cos(2 * pi() * random())))::bigint AS views,"
        " now() - random() * interval '700 days' AS created_at FROM generate_series(1, %(n)s) i",
        "INSERT INTO videos_hot (video_id, platform, caption, creator_id, created_at, views_count, likes_count,"
        " comments_count, shares_count, collect_count) SELECT video_id, 'tiktok', 'synthetic video ' || i, creator_id,"
        " created_at, views, views / 20, views / 2000, views / 500, views / 300 FROM bench_v",
        "INSERT INTO video_hashtag_facts (hashtag, video_id, platform, creator_id, views_count, likes_count, impact_score,"
        " created_at) SELECT DISTINCT ON (t, v.video_id) t, v.video_id, 'tiktok', v.creator_id, h.views_count,"
        " h.likes_count, h.impact_score, v.created_at FROM bench_v v JOIN videos_hot h USING (video_id),"
        " unnest(v.tags) t",
        "INSERT INTO video_sound_facts (video_id, sound_id, creator_id, views_count, likes_count, impact_score, created_at)"
        " SELECT v.video_id, v.sound_id, v.creator_id, h.views_count, h.likes_count, h.impact_score, v.created_at"
        " FROM bench_v v JOIN videos_hot h USING (video_id)",
        "UPDATE creators_hot c SET videos_count = s.n, total_play_count = s.v, likes_total = s.l, total_impact_score = s.i"
        " FROM (SELECT creator_id, count(*) n, sum(views_count) v, sum(likes_count) l, sum(impact_score) i"
        " FROM videos_hot GROUP BY 1) s WHERE s.creator_id = c.creator_id",
        "UPDATE sounds_hot x SET videos_count = s.n, views_total = s.v, likes_total = s.l, total_impact_score = s.i,"
        " last_used_at = s.t FROM (SELECT sound_id, count(*) n, sum(views_count) v, sum(likes_count) l,"
        " sum(impact_score) i, max(created_at) t FROM video_sound_facts GROUP BY 1) s WHERE s.sound_id = x.sound_id",
        "INSERT INTO sound_creator_counts (sound_id, creator_id, video_count, total_views, total_likes,"
        " total_impact_score) SELECT sound_id, creator_id, count(*), sum(views_count), sum(likes_count),"
        " sum(impact_score) FROM video_sound_facts GROUP BY 1, 2",
        "INSERT INTO hashtag_creator_counts (hashtag, creator_id, video_count, total_views, total_likes,"
        " total_impact_score) SELECT hashtag, creator_id, count(*), sum(views_count), sum(likes_count),"
        " sum(impact_score) FROM video_hashtag_facts GROUP BY 1, 2",
        "UPDATE hashtags_hot x SET videos_count = s.n, views_total = s.v, likes_total = s.l, total_impact_score = s.i,"
        " creators_count = s.c, last_seen_at = now() - (s.n %% 97) * interval '1 hour'"
        " FROM (SELECT hashtag, count(*) n, sum(views_count) v, sum(likes_count) l, sum(impact_score) i,"
        " count(DISTINCT creator_id) c FROM video_hashtag_facts GROUP BY 1) s WHERE s.hashtag = x.hashtag",
        "INSERT INTO hashtag_platform_totals (hashtag, platform, videos_count, creators_count, views_total, likes_total,"
        " total_impact_score) SELECT hashtag, 'tiktok', videos_count, creators_count, views_total, likes_total,"
        " total_impact_score FROM hashtags_hot WHERE videos_count > 0",
        "INSERT INTO communities (slug, name, linked_hashtags) SELECT 'community-' || i, 'Community ' || i,"
        " ARRAY['tag' || i, 'tag' || (i + 50)] FROM generate_series(1, 50) i",
        "INSERT INTO community_video_memberships (community_id, video_id, platform, creator_id, views_count, likes_count,"
        " impact_score, created_at) SELECT DISTINCT ON (c.id, f.video_id) c.id, f.video_id, 'tiktok', f.creator_id,"
        " f.views_count, f.likes_count, f.impact_score, f.created_at FROM communities c"
        " JOIN video_hashtag_facts f ON f.hashtag = ANY (c.linked_hashtags)",
        "INSERT INTO community_creator_memberships (community_id, creator_id, video_count, total_views, total_likes,"
        " total_impact_score) SELECT community_id, creator_id, count(*), sum(views_count), sum(likes_count),"
        " sum(impact_score) FROM community_video_memberships GROUP BY 1, 2",
        "INSERT INTO community_hashtag_memberships (community_id, hashtag, video_count, total_views, total_impact_score)"
        " SELECT m.community_id, f.hashtag, count(*), sum(m.views_count), sum(m.impact_score)"
        " FROM community_video_memberships m JOIN video_hashtag_facts f USING (video_id) GROUP BY 1, 2",
        "UPDATE communities c SET total_videos = s.n, total_views = s.v, total_likes = s.l, total_impact_score = s.i,"
        " total_creators = s.c FROM (SELECT community_id, count(*) n, sum(views_count) v, sum(likes_count) l,"
        " sum(impact_score) i, count(DISTINCT creator_id) c FROM community_video_memberships GROUP BY 1) s"
        " WHERE s.community_id = c.id",
        # metric snapshots for the trend scores: a quarter of the videos observed before the 7-day window and in it,
        # a quarter first observed in it (twice), a quarter only before it
        "SELECT ensure_snapshot_partitions(now() - interval '40 days', now())",
        "INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, source)"
        " SELECT video_id, now() - d * interval '1 day' - (i %% 1000) * interval '1 second',"
        " (views * f)::bigint, 'brightdata' FROM bench_v,"
        " LATERAL (VALUES (10, 0.7, 0), (1, 1.0, 0), (3, 0.9, 1), (1, 1.0, 1), (20, 1.0, 2)) AS s(d, f, k)"
        " WHERE i %% 4 = k",
        "DROP TABLE bench_v",
    ]
    for step in steps:
        conn.execute(step, p)  # type: ignore[call-overload]  # fixed literals of this benchmark
    conn.execute("VACUUM ANALYZE")


def _lists(conn: psycopg.Connection[Any]) -> list[tuple[str, str, q.ListSpec, tuple[Any, ...]]]:
    """(path, sort, spec, parent filter params) of every list route and sort, nested ones on their biggest parent."""
    tag = conn.execute("SELECT hashtag FROM hashtags_hot ORDER BY videos_count DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    sound = conn.execute("SELECT sound_id FROM sounds_hot ORDER BY videos_count DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    community = conn.execute("SELECT slug FROM communities ORDER BY total_videos DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    flat = [("/videos", q.VIDEOS), ("/creators", q.CREATORS), ("/sounds", q.SOUNDS), ("/hashtags", q.HASHTAGS),
            ("/communities", q.COMMUNITIES)]  # fmt: skip
    nested = [
        (f"/hashtags/{tag}/videos", q.HASHTAG_VIDEOS), (f"/hashtags/{tag}/creators", q.HASHTAG_CREATORS),
        (f"/sounds/{sound}/videos", q.SOUND_VIDEOS), (f"/sounds/{sound}/creators", q.SOUND_CREATORS),
        (f"/communities/{community}/videos", q.COMMUNITY_VIDEOS),
        (f"/communities/{community}/creators", q.COMMUNITY_CREATORS),
        (f"/communities/{community}/hashtags", q.COMMUNITY_HASHTAGS),
    ]  # fmt: skip
    lists: list[tuple[str, str, q.ListSpec, dict[str, str]]] = [
        (path, sort, spec, {}) for path, spec in flat + nested for sort in spec.sorts
    ]
    # one platform's own trend (hashtag_platform_totals, sql/0017)
    return [*lists, ("/hashtags", "trending", q.PLATFORM_HASHTAGS, {"platform": "tiktok"})]


def _followers_plans(conn: psycopg.Connection[Any]) -> str:
    """The plan sort=followers takes on the benchmarked parents (walk or sort) and their creator counts."""
    parts = []
    for spec, parent_sql in [
        (q.HASHTAG_CREATORS, "SELECT hashtag FROM hashtags_hot ORDER BY videos_count DESC LIMIT 1"),
        (q.SOUND_CREATORS, "SELECT sound_id FROM sounds_hot ORDER BY videos_count DESC LIMIT 1"),
        (q.COMMUNITY_CREATORS, "SELECT id FROM communities ORDER BY total_videos DESC LIMIT 1"),
    ]:
        parent = conn.execute(parent_sql).fetchone()[0]  # type: ignore[index]
        table = sql.Identifier(spec.pair_table or "")
        count = conn.execute(sql.SQL("SELECT count(*) FROM {} p WHERE {}").format(table, spec.parent), (parent,))
        plan = q.followers_plan(conn, spec, parent, 50)
        parts.append(f"{spec.name} {plan} ({count.fetchone()[0]:,} creators)")  # type: ignore[index]
    return "sort=followers plans: " + ", ".join(parts)


def _refresh_trends(conn: psycopg.Connection[Any]) -> str:
    """Trend scores from the snapshots, timed: the first refresh writes them, the second finds nothing to write."""
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        with conn.transaction():
            result = refresh_trend_scores(conn)
        timings.append(f"{time.perf_counter() - started:.2f} s ({result.hashtags:,} hashtags written)")
    snapshots = conn.execute("SELECT count(*) FROM video_metric_snapshots").fetchone()[0]  # type: ignore[index]
    return f"trend refresh over {snapshots:,} snapshots: {timings[0]}, again {timings[1]}"


def _timed(call: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def bench_api(url: str, n: int) -> tuple[float, float, str]:
    """Returns (worst deep keyset p95 s, worst OFFSET p95 s, the table)."""
    from tests.integration.api_helpers import ApiClient, api_environment

    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        build_catalogue(conn, n)
        built = time.perf_counter() - started
        trends = _refresh_trends(conn)
        conn.execute("VACUUM ANALYZE hashtags_hot, hashtag_platform_totals")
        lists = _lists(conn)
        plans = _followers_plans(conn)
    lines = [
        f"catalogue of {n:,} videos built in {built:.0f} s; {trends}",
        plans,
        f"p50/p95 ms through the handler, {REPEAT} calls each",
        f"{'route':<44} {'sort':<13} {'first p50/p95':>14} {'keyset 10k':>12} {'OFFSET 10k':>12}",
    ]
    worst_deep = worst_offset = 0.0
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    with api_environment(url), psycopg.connect(url, autocommit=True) as offset_conn:
        api = ApiClient()
        for path, sort, spec, extra in lists:
            first = _timed(partial(api.get, path, sort=sort, limit=50, **extra))
            # the cursor 10,000 rows in, by walking there 100 at a time
            cursor, depth = None, 0
            while depth < DEEP:
                page = api.get(path, sort=sort, limit=100, cursor=cursor, **extra)
                cursor, depth = page.body["next_cursor"], depth + len(page.body["data"])
                if cursor is None:
                    break
            deep = offset = None
            if cursor is not None:
                deep = _timed(partial(api.get, path, sort=sort, limit=50, cursor=cursor, **extra))
                if spec.parent is None and not extra:
                    offset = _timed(partial(q.offset_page, offset_conn, spec, sort, DEEP, 50))
                worst_deep = max(worst_deep, deep[1])
                worst_offset = max(worst_offset, offset[1] if offset else 0.0)
            show = lambda t: f"{t[0]:.1f}/{t[1]:.1f}" if t else "-"  # noqa: E731
            label = path + "".join(f"?{k}={v}" for k, v in extra.items())
            lines.append(f"{label[:44]:<44} {sort:<13} {show(first):>14} {show(deep):>12} {show(offset):>12}")
    return worst_deep / 1000, (worst_offset or 1.0) / 1000, "\n".join(lines)
