"""The set-based write path of one ingest chunk: staging tables, upserts, facts and incremental aggregates.

One call of :func:`write_chunk` runs inside the caller's transaction and touches every table of DESIGN §3 with a
fixed number of statements, whatever the chunk's size (COPY into temporary staging tables, then one statement per
target table). Aggregates move by the difference between each video's old and new contribution, so they stay equal
to a full recomputation (the ``aggregate_drift`` view) after any sequence of chunks.

Concurrency: a chunk first takes its videos' bucket locks and locks its stored videos, inserts the keys it brings for
the first time (in key order), and writes its own videos and facts; only then does it lock the shared rows it moves
(creators, sounds, pairs, hashtags, communities: each table's rows in key order, the tables in a fixed order) and
write them. Two chunks of disjoint buckets (ingest's streams) therefore write their videos side by side and queue
only for the shared rows, and two with overlapping keys wait for each other instead of deadlocking. Row locks are FOR
NO KEY UPDATE, which does not block another chunk's foreign-key checks (FOR KEY SHARE). A record observed before the
video's current metrics only adds a snapshot row.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from reelrank.models.canonical import CanonicalVideo


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What one chunk did."""

    new_videos: int
    updated_videos: int
    stale_records: int


_STAGING = """
CREATE TEMP TABLE stage_videos (
    video_id text PRIMARY KEY, platform text NOT NULL, url text, caption text, thumbnail_url text,
    duration_seconds integer, created_at timestamptz, creator_id text,
    views bigint NOT NULL, likes bigint NOT NULL, comments bigint NOT NULL, shares bigint NOT NULL,
    saves bigint NOT NULL, snap_views bigint, snap_likes bigint, snap_comments bigint, snap_shares bigint,
    snap_saves bigint, observed_at timestamptz NOT NULL, source text NOT NULL, raw jsonb NOT NULL,
    seen boolean NOT NULL DEFAULT true  -- marks its creator and hashtags as seen (false for metric-only updates)
) ON COMMIT DROP;
CREATE TEMP TABLE stage_creators (
    creator_id text PRIMARY KEY, platform text NOT NULL, username text, display_name text, platform_user_id text,
    avatar_url text, verified boolean, followers_count bigint, bio text, raw jsonb
) ON COMMIT DROP;
CREATE TEMP TABLE stage_sounds (
    video_id text PRIMARY KEY, sound_id text NOT NULL, title text, author text, original boolean, cover_url text,
    play_url text
) ON COMMIT DROP;
CREATE TEMP TABLE stage_hashtags (video_id text, hashtag text, display text, PRIMARY KEY (video_id, hashtag))
    ON COMMIT DROP;
CREATE TEMP TABLE stage_mentions (video_id text, handle text, PRIMARY KEY (video_id, handle)) ON COMMIT DROP;
CREATE TEMP TABLE crossings (target text NOT NULL, key1 text NOT NULL, key2 text NOT NULL, platform text,
                             change integer NOT NULL) ON COMMIT DROP;
"""

# Temporary tables have no statistics until analysed (autovacuum never sees them), so the planner guesses their size
# from their pages: ~3.5x too many rows for a chunk of videos with their raw JSON, which is enough to turn the locking
# read of the chunk's stored videos into a sequential scan of all of videos_hot (a second per chunk at a million
# videos). The key columns are enough; analysing the raw JSON would cost more than it saves.
_ANALYZE_STAGING = """
ANALYZE stage_videos (video_id, creator_id, platform), stage_creators (creator_id), stage_sounds (video_id, sound_id),
        stage_hashtags, stage_mentions
"""


@dataclass(frozen=True, slots=True)
class _CountedTable:
    """An aggregate table moved by a temporary delta table with the same key columns.

    ``count`` is the table's row count column (the delta's ``n``); ``sums`` pair each other target column with its
    delta column. ``drop_at_zero`` tables (memberships, pair counts) hold a row only while its count is positive.
    With ``crossing_target``, every row created or dropped is written to ``crossings`` (+1 / -1 with the delta's
    platform): that is how distinct-creator counts move.
    """

    table: str
    keys: tuple[str, str]
    delta: str
    count: str
    sums: tuple[tuple[str, str], ...]
    drop_at_zero: bool
    crossing_target: bool = False


_PAIR_COUNTS = _CountedTable(
    "hashtag_creator_counts",
    ("hashtag", "creator_id"),
    "pair_delta",
    "video_count",
    (("total_views", "views"), ("total_likes", "likes"), ("total_impact_score", "impact")),
    True,
    True,
)
_SOUND_CREATORS = _CountedTable(
    "sound_creator_counts",
    ("sound_id", "creator_id"),
    "sound_pair_delta",
    "video_count",
    (("total_views", "views"), ("total_likes", "likes"), ("total_impact_score", "impact")),
    True,
)
_HASHTAG_PLATFORM_TOTALS = _CountedTable(
    "hashtag_platform_totals",
    ("hashtag", "platform"),
    "hashtag_delta",
    "videos_count",
    (
        ("creators_count", "creators"),
        ("views_total", "views"),
        ("likes_total", "likes"),
        ("total_impact_score", "impact"),
    ),
    False,
)
_COMMUNITY_CREATORS = _CountedTable(
    "community_creator_memberships",
    ("community_id", "creator_id"),
    "cc_delta",
    "video_count",
    (("total_views", "views"), ("total_likes", "likes"), ("total_impact_score", "impact")),
    True,
    True,
)
_COMMUNITY_HASHTAGS = _CountedTable(
    "community_hashtag_memberships",
    ("community_id", "hashtag"),
    "ch_delta",
    "video_count",
    (("total_views", "views"), ("total_impact_score", "impact")),
    True,
)
_COMMUNITY_PLATFORM_TOTALS = _CountedTable(
    "community_platform_totals",
    ("community_id", "platform"),
    "community_delta",
    "total_videos",
    (
        ("total_creators", "creators"),
        ("total_views", "views"),
        ("total_likes", "likes"),
        ("total_impact_score", "impact"),
    ),
    False,
)


def _apply_counted_delta(t: _CountedTable) -> tuple[sql.Composed, ...]:
    """The statements that add ``t.delta`` to ``t.table``, exactly, under concurrent chunks.

    Rows whose every delta is non-negative (and that add rows) go through one ``INSERT … ON CONFLICT DO UPDATE``:
    atomic against a concurrent chunk creating the same row, and its ``RETURNING`` says whether this chunk created
    it. Rows with a negative delta must already exist (they take back a contribution this chunk holds the video
    locks for): they are dropped when their count reaches zero or updated in place. (They cannot go through the
    upsert: PostgreSQL checks the table's CHECKs on the proposed row first.) Before either, every stored row the delta
    moves is locked in key order.
    """
    ident = sql.Identifier
    table, delta = ident(t.table), ident(t.delta)
    keys = sql.SQL(", ").join(map(ident, t.keys))
    t_keys = sql.SQL(", ").join(sql.SQL("t.{}").format(ident(k)) for k in t.keys)
    d_keys = sql.SQL(", ").join(sql.SQL("d.{}").format(ident(k)) for k in t.keys)
    match = sql.SQL("({}) = ({})").format(t_keys, d_keys)
    delta_cols = ["n", *(d for _, d in t.sums)]
    sums_nonnegative = [sql.SQL("d.{} >= 0").format(ident(c)) for c in delta_cols[1:]]
    grows = sql.SQL(" AND ").join([sql.SQL("d.n > 0"), *sums_nonnegative])
    nonzero = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.SQL("d.{}").format(ident(c)) for c in delta_cols),
        sql.SQL(", ").join(sql.Literal(0) for _ in delta_cols),
    )
    targets = [t.count, *(c for c, _ in t.sums)]
    additions = sql.SQL(", ").join(
        sql.SQL("{0} = t.{0} + d.{1}").format(ident(c), ident(d)) for c, d in zip(targets, delta_cols, strict=True)
    )
    crossing = sql.SQL("INSERT INTO crossings (target, key1, key2, platform, change) ")
    # Every stored row the delta moves is locked first, in key order, the growing ones too: a chunk then waits for
    # another only here (for a stored row) or inside the upsert (for a row the other is creating, which it would
    # have had to lock here had it been stored), so two chunks writing the same rows queue instead of deadlocking.
    statements = [
        sql.SQL(
            "SELECT 1 FROM {table} t JOIN {delta} d USING ({keys}) WHERE {nonzero}"
            " ORDER BY {t_keys} FOR NO KEY UPDATE OF t"
        ).format(table=table, delta=delta, keys=keys, nonzero=nonzero, t_keys=t_keys)
    ]
    if t.drop_at_zero:
        drop = sql.SQL(
            "DELETE FROM {table} t USING {delta} d WHERE {match} AND NOT ({grows}) AND t.{count} + d.n <= 0"
        ).format(table=table, delta=delta, match=match, grows=grows, count=ident(t.count))
        if t.crossing_target:
            drop = sql.SQL(
                "WITH gone AS ({drop} RETURNING {t_keys}, d.platform) "
                "{crossing} SELECT {name}, {k1}::text, {k2}::text, platform, -1 FROM gone"
            ).format(
                drop=drop,
                t_keys=t_keys,
                crossing=crossing,
                name=sql.Literal(t.table),
                k1=ident(t.keys[0]),
                k2=ident(t.keys[1]),
            )
        statements.append(drop)
    statements.append(
        sql.SQL("UPDATE {table} t SET {additions} FROM {delta} d WHERE {match} AND {nonzero} AND NOT ({grows})").format(
            table=table, additions=additions, delta=delta, match=match, nonzero=nonzero, grows=grows
        )
    )
    upsert = sql.SQL(
        "INSERT INTO {table} AS t ({keys}, {targets}) SELECT {d_keys}, {d_cols} FROM {delta} d WHERE {grows}"
        " ORDER BY {d_keys} ON CONFLICT ({keys}) DO UPDATE SET {excluded}"
    ).format(
        table=table,
        keys=keys,
        targets=sql.SQL(", ").join(map(ident, targets)),
        d_keys=d_keys,
        d_cols=sql.SQL(", ").join(sql.SQL("d.{}").format(ident(c)) for c in delta_cols),
        delta=delta,
        grows=grows,
        excluded=sql.SQL(", ").join(sql.SQL("{0} = t.{0} + excluded.{0}").format(ident(c)) for c in targets),
    )
    if t.crossing_target:
        # xmax = 0 on the returned row means this statement inserted it rather than updated a concurrent one
        upsert = sql.SQL(
            "WITH made AS ({upsert} RETURNING {t_keys}, (t.xmax = 0) AS created) "
            "{crossing} SELECT {name}, m.{k1}::text, m.{k2}::text, d.platform, 1 FROM made m "
            "JOIN {delta} d USING ({keys}) WHERE m.created"
        ).format(
            upsert=upsert,
            t_keys=t_keys,
            crossing=crossing,
            name=sql.Literal(t.table),
            k1=ident(t.keys[0]),
            k2=ident(t.keys[1]),
            delta=delta,
            keys=keys,
        )
    statements.append(upsert)
    return tuple(sql.Composed([s]) if isinstance(s, sql.SQL) else s for s in statements)


def _creator_pair_delta(t: _CountedTable, kind: str, key_type: str = "text") -> sql.Composed:
    """The statement that fills ``t.delta`` from ``contrib``: per (parent, creator) of ``kind``, the change in videos,
    views, likes and Impact, pairs whose change is nil left out. ``key_type``: the parent key's type."""
    return sql.SQL(
        "CREATE TEMP TABLE {delta} ON COMMIT DROP AS"
        " SELECT k1::{key_type} AS {parent}, k2 AS creator_id, min(platform) AS platform, sum(sign)::bigint AS n,"
        " sum(sign * views_count) AS views, sum(sign * likes_count) AS likes, sum(sign * impact_score) AS impact"
        " FROM contrib WHERE kind = {kind} AND k2 IS NOT NULL GROUP BY k1, k2"
        " HAVING (sum(sign), sum(sign * views_count), sum(sign * likes_count), sum(sign * impact_score))"
        " IS DISTINCT FROM (0, 0, 0, 0)"
    ).format(
        delta=sql.Identifier(t.delta),
        key_type=sql.SQL(key_type),
        parent=sql.Identifier(t.keys[0]),
        kind=sql.Literal(kind),
    )


# Statements run in order after the staging tables are filled. Each is one set-based statement. They come in three
# parts: the old state (shared with the metric-only path of view tracking), profiles and the videos themselves
# (ingest only), then facts and aggregate deltas (shared).
_OLD_STATE_STEPS: tuple[str | sql.Composed, ...] = (
    # 1. Lock the chunk's existing videos in key order and keep their old state (metrics and facts). The ids go in as
    # one array, so the rows are found by probes of the primary key whatever the planner guesses of the staging table
    # (a join let it walk the whole key range the chunk spans: 0.3-1.2 s a chunk at a million videos).
    """
    CREATE TEMP TABLE old_videos ON COMMIT DROP AS
    SELECT v.video_id, v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at,
           v.metrics_observed_at
    FROM videos_hot v
    WHERE v.video_id = ANY (ARRAY(SELECT video_id FROM stage_videos ORDER BY video_id))
    ORDER BY v.video_id
    FOR NO KEY UPDATE OF v
    """,
    # 2. Fresh records: new videos, or observed no earlier than the stored metrics. The rest only add snapshots.
    """
    CREATE TEMP TABLE fresh ON COMMIT DROP AS
    SELECT s.video_id, (o.video_id IS NULL) AS is_new
    FROM stage_videos s LEFT JOIN old_videos o USING (video_id)
    WHERE o.video_id IS NULL OR o.metrics_observed_at IS NULL OR s.observed_at >= o.metrics_observed_at
    """,
    # The metadata of each sound a fresh record brings (the last full sound object, as sounds_cold keeps it); none from
    # metric-only rows (view tracking), whose staged sounds are keys only.
    """
    CREATE TEMP TABLE fresh_sounds ON COMMIT DROP AS
    SELECT DISTINCT ON (ss.sound_id) ss.sound_id, ss.title, ss.author, ss.original, ss.cover_url, ss.play_url,
           jsonb_strip_nulls(jsonb_build_object('sound_id', ss.sound_id, 'title', ss.title, 'author', ss.author,
                                                'original', ss.original, 'cover_url', ss.cover_url,
                                                'play_url', ss.play_url)) AS raw
    FROM stage_sounds ss JOIN fresh USING (video_id) JOIN stage_videos sv USING (video_id)
    WHERE sv.seen
    ORDER BY ss.sound_id, ss.video_id
    """,
    # A hidden count (YouTube omits likeCount / commentCount when the owner hides them) is not a zero from now on:
    # a known video keeps its last known value, as view tracking does; the snapshot row keeps the gap (NULL).
    # Only rows with a missing count are touched, so TikTok chunks pay nothing.
    """
    UPDATE stage_videos s
    SET likes = coalesce(s.snap_likes, v.likes_count), comments = coalesce(s.snap_comments, v.comments_count)
    FROM videos_hot v
    WHERE v.video_id = s.video_id AND s.platform = 'youtube' AND (s.snap_likes IS NULL OR s.snap_comments IS NULL)
    """,
    """
    CREATE TEMP TABLE old_hashtags ON COMMIT DROP AS
    SELECT f.video_id, f.hashtag FROM video_hashtag_facts f JOIN fresh USING (video_id) WHERE NOT fresh.is_new
    """,
    """
    CREATE TEMP TABLE old_sounds ON COMMIT DROP AS
    SELECT f.video_id, f.sound_id FROM video_sound_facts f JOIN fresh USING (video_id) WHERE NOT fresh.is_new
    """,
    """
    CREATE TEMP TABLE old_communities ON COMMIT DROP AS
    SELECT m.video_id, m.community_id FROM community_video_memberships m JOIN fresh USING (video_id)
    WHERE NOT fresh.is_new
    """,
)

_PROFILE_STEPS: tuple[str | sql.Composed, ...] = (
    # 3. Keys: creators, sounds and hashtags this chunk brings for the first time, with their profiles (inserted in key
    # order). A row that exists is neither written nor locked here: its profile changes are written with its totals
    # (step 7), in the same row version and under the same lock, so another chunk writing the same creators can run
    # its own videos and facts meanwhile instead of waiting here for this one's commit. Stored keys are filtered out
    # first: the upsert's unique check on a row another chunk has updated waits for that chunk to commit.
    """
    INSERT INTO creators_hot (creator_id, platform, username, display_name, platform_user_id, avatar_url, verified,
                              followers_count, bio)
    SELECT sc.creator_id, sc.platform, sc.username, sc.display_name, sc.platform_user_id, sc.avatar_url,
           coalesce(sc.verified, false), sc.followers_count, sc.bio
    FROM stage_creators sc
    WHERE sc.creator_id IN (SELECT s.creator_id FROM stage_videos s JOIN fresh USING (video_id))
      AND NOT EXISTS (SELECT FROM creators_hot c WHERE c.creator_id = sc.creator_id)
    ORDER BY sc.creator_id
    ON CONFLICT (creator_id) DO NOTHING
    """,
    """
    INSERT INTO creators_cold (creator_id, raw)
    SELECT sc.creator_id, sc.raw FROM stage_creators sc
    WHERE sc.raw IS NOT NULL AND sc.creator_id IN (SELECT s.creator_id FROM stage_videos s JOIN fresh USING (video_id))
      AND NOT EXISTS (SELECT FROM creators_cold c WHERE c.creator_id = sc.creator_id)
    ORDER BY sc.creator_id
    ON CONFLICT (creator_id) DO NOTHING
    """,
    """
    INSERT INTO sounds_hot (sound_id, sound_title, sound_author, original, cover_url, play_url)
    SELECT sound_id, title, author, original, cover_url, play_url FROM fresh_sounds m
    WHERE NOT EXISTS (SELECT FROM sounds_hot s WHERE s.sound_id = m.sound_id)
    ORDER BY sound_id
    ON CONFLICT (sound_id) DO NOTHING
    """,
    """
    INSERT INTO sounds_cold (sound_id, raw)
    SELECT sound_id, raw FROM fresh_sounds m
    WHERE NOT EXISTS (SELECT FROM sounds_cold s WHERE s.sound_id = m.sound_id)
    ORDER BY sound_id
    ON CONFLICT (sound_id) DO NOTHING
    """,
    """
    INSERT INTO hashtags_hot AS h (hashtag, display_name)
    SELECT DISTINCT ON (sh.hashtag) sh.hashtag, sh.display
    FROM stage_hashtags sh JOIN fresh USING (video_id)
    WHERE NOT EXISTS (SELECT FROM hashtags_hot h WHERE h.hashtag = sh.hashtag)
    ORDER BY sh.hashtag, sh.video_id
    ON CONFLICT (hashtag) DO NOTHING
    """,
    """
    INSERT INTO hashtags_cold (hashtag, display_forms)
    SELECT sh.hashtag, array_agg(DISTINCT sh.display ORDER BY sh.display)
    FROM stage_hashtags sh JOIN fresh USING (video_id)
    WHERE NOT EXISTS (SELECT FROM hashtags_cold h WHERE h.hashtag = sh.hashtag)
    GROUP BY sh.hashtag
    ORDER BY sh.hashtag
    ON CONFLICT (hashtag) DO NOTHING
    """,
    # 4. The videos themselves (the trigger scores them with the active weights).
    """
    INSERT INTO videos_hot AS v (video_id, platform, url, caption, thumbnail_url, duration_seconds, created_at,
                                 creator_id, views_count, likes_count, comments_count, shares_count, collect_count,
                                 metrics_observed_at, source)
    SELECT s.video_id, s.platform, s.url, s.caption, s.thumbnail_url, s.duration_seconds, s.created_at,
           s.creator_id, s.views, s.likes, s.comments, s.shares, s.saves, s.observed_at, s.source
    FROM stage_videos s JOIN fresh USING (video_id)
    ORDER BY s.video_id
    ON CONFLICT (video_id) DO UPDATE SET
        url = coalesce(excluded.url, v.url),
        caption = coalesce(excluded.caption, v.caption),
        thumbnail_url = coalesce(excluded.thumbnail_url, v.thumbnail_url),
        duration_seconds = coalesce(excluded.duration_seconds, v.duration_seconds),
        created_at = coalesce(excluded.created_at, v.created_at),
        creator_id = coalesce(excluded.creator_id, v.creator_id),
        views_count = excluded.views_count,
        likes_count = excluded.likes_count,
        comments_count = excluded.comments_count,
        shares_count = excluded.shares_count,
        collect_count = excluded.collect_count,
        metrics_observed_at = excluded.metrics_observed_at,
        source = excluded.source,
        last_seen_at = now(),
        updated_at = now()
    """,
    """
    INSERT INTO videos_cold AS c (video_id, source, raw)
    SELECT s.video_id, s.source, s.raw FROM stage_videos s JOIN fresh USING (video_id)
    ORDER BY s.video_id
    ON CONFLICT (video_id) DO UPDATE SET source = excluded.source, raw = excluded.raw, updated_at = now()
    """,
)

_FACT_AND_AGGREGATE_STEPS: tuple[str | sql.Composed, ...] = (
    # The new state of the fresh videos, read once: every fact and contribution below derives from it.
    """
    CREATE TEMP TABLE new_videos ON COMMIT DROP AS
    SELECT v.video_id, v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at
    FROM videos_hot v JOIN fresh USING (video_id)
    """,
    # 5. Facts: replace each fresh video's hashtags, sound, mentions and community memberships.
    """
    DELETE FROM video_hashtag_facts f USING fresh
    WHERE f.video_id = fresh.video_id AND NOT fresh.is_new
      AND NOT EXISTS (SELECT 1 FROM stage_hashtags sh WHERE sh.video_id = f.video_id AND sh.hashtag = f.hashtag)
    """,
    """
    INSERT INTO video_hashtag_facts AS f (hashtag, video_id, platform, creator_id, views_count, likes_count,
                                         impact_score, created_at)
    SELECT sh.hashtag, n.video_id, n.platform, n.creator_id, n.views_count, n.likes_count, n.impact_score, n.created_at
    FROM stage_hashtags sh JOIN new_videos n USING (video_id)
    ORDER BY sh.hashtag, n.video_id
    ON CONFLICT (hashtag, video_id) DO UPDATE SET
        platform = excluded.platform, creator_id = excluded.creator_id, views_count = excluded.views_count,
        likes_count = excluded.likes_count, impact_score = excluded.impact_score, created_at = excluded.created_at
    WHERE (f.platform, f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
          IS DISTINCT FROM (excluded.platform, excluded.creator_id, excluded.views_count, excluded.likes_count,
                            excluded.impact_score, excluded.created_at)
    """,
    """
    DELETE FROM video_sound_facts f USING fresh
    WHERE f.video_id = fresh.video_id AND NOT fresh.is_new
      AND NOT EXISTS (SELECT 1 FROM stage_sounds ss WHERE ss.video_id = f.video_id AND ss.sound_id = f.sound_id)
    """,
    """
    INSERT INTO video_sound_facts AS f (video_id, sound_id, creator_id, views_count, likes_count, impact_score,
                                       created_at)
    SELECT n.video_id, ss.sound_id, n.creator_id, n.views_count, n.likes_count, n.impact_score, n.created_at
    FROM stage_sounds ss JOIN new_videos n USING (video_id)
    ORDER BY n.video_id
    ON CONFLICT (video_id) DO UPDATE SET
        sound_id = excluded.sound_id, creator_id = excluded.creator_id, views_count = excluded.views_count,
        likes_count = excluded.likes_count, impact_score = excluded.impact_score, created_at = excluded.created_at
    WHERE (f.sound_id, f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
          IS DISTINCT FROM (excluded.sound_id, excluded.creator_id, excluded.views_count, excluded.likes_count,
                            excluded.impact_score, excluded.created_at)
    """,
    """
    DELETE FROM video_creator_mentions m USING fresh
    WHERE m.video_id = fresh.video_id AND NOT fresh.is_new
      AND NOT EXISTS (SELECT 1 FROM stage_mentions sm WHERE sm.video_id = m.video_id AND sm.handle = m.handle)
    """,
    """
    INSERT INTO video_creator_mentions (video_id, handle)
    SELECT sm.video_id, sm.handle FROM stage_mentions sm JOIN fresh USING (video_id)
    ORDER BY sm.video_id, sm.handle
    ON CONFLICT DO NOTHING
    """,
    """
    CREATE TEMP TABLE new_communities ON COMMIT DROP AS
    SELECT DISTINCT sh.video_id, c.community_id
    FROM stage_hashtags sh JOIN fresh USING (video_id)
    JOIN (SELECT id AS community_id, unnest(linked_hashtags) AS hashtag FROM communities) c USING (hashtag)
    """,
    """
    DELETE FROM community_video_memberships m USING fresh
    WHERE m.video_id = fresh.video_id AND NOT fresh.is_new
      AND NOT EXISTS (SELECT 1 FROM new_communities nc WHERE nc.video_id = m.video_id AND nc.community_id = m.community_id)
    """,
    """
    INSERT INTO community_video_memberships AS m (community_id, video_id, platform, creator_id, views_count,
                                                 likes_count, impact_score, created_at)
    SELECT nc.community_id, n.video_id, n.platform, n.creator_id, n.views_count, n.likes_count, n.impact_score,
           n.created_at
    FROM new_communities nc JOIN new_videos n USING (video_id)
    ORDER BY nc.community_id, n.video_id
    ON CONFLICT (community_id, video_id) DO UPDATE SET
        platform = excluded.platform, creator_id = excluded.creator_id, views_count = excluded.views_count,
        likes_count = excluded.likes_count, impact_score = excluded.impact_score, created_at = excluded.created_at
    WHERE (m.platform, m.creator_id, m.views_count, m.likes_count, m.impact_score, m.created_at)
          IS DISTINCT FROM (excluded.platform, excluded.creator_id, excluded.views_count, excluded.likes_count,
                            excluded.impact_score, excluded.created_at)
    """,
    # 6. Contributions: each fresh video adds its new state and takes back its old one, per aggregate row.
    """
    CREATE TEMP TABLE contrib ON COMMIT DROP AS
    WITH states AS (
        SELECT o.video_id, o.platform, o.creator_id, o.views_count, o.likes_count, o.impact_score, -1 AS sign, true AS old
        FROM old_videos o JOIN fresh USING (video_id)
        UNION ALL
        SELECT n.video_id, n.platform, n.creator_id, n.views_count, n.likes_count, n.impact_score, 1, false
        FROM new_videos n
    )
    SELECT 'creator'::text AS kind, s.creator_id AS k1, NULL::text AS k2, s.platform, s.sign,
           s.views_count, s.likes_count, s.impact_score
    FROM states s WHERE s.creator_id IS NOT NULL
    UNION ALL
    SELECT 'sound', so.sound_id, s.creator_id, s.platform, s.sign, s.views_count, s.likes_count, s.impact_score
    FROM states s
    JOIN (SELECT video_id, sound_id, true AS old FROM old_sounds
          UNION ALL SELECT ss.video_id, ss.sound_id, false FROM stage_sounds ss JOIN fresh USING (video_id)) so
      ON so.video_id = s.video_id AND so.old = s.old
    UNION ALL
    SELECT 'hashtag', h.hashtag, s.creator_id, s.platform, s.sign, s.views_count, s.likes_count, s.impact_score
    FROM states s
    JOIN (SELECT video_id, hashtag, true AS old FROM old_hashtags
          UNION ALL SELECT sh.video_id, sh.hashtag, false FROM stage_hashtags sh JOIN fresh USING (video_id)) h
      ON h.video_id = s.video_id AND h.old = s.old
    UNION ALL
    SELECT 'community', c.community_id::text, s.creator_id, s.platform, s.sign, s.views_count, s.likes_count,
           s.impact_score
    FROM states s
    JOIN (SELECT video_id, community_id, true AS old FROM old_communities
          UNION ALL SELECT video_id, community_id, false FROM new_communities) c
      ON c.video_id = s.video_id AND c.old = s.old
    """,
    # The per-pair deltas, computed before any shared row is locked (another stream's chunk may be waiting for them).
    _creator_pair_delta(_SOUND_CREATORS, "sound"),
    _creator_pair_delta(_PAIR_COUNTS, "hashtag"),
    _creator_pair_delta(_COMMUNITY_CREATORS, "community", "bigint"),
    """
    CREATE TEMP TABLE ch_delta ON COMMIT DROP AS
    WITH member_states AS (
        SELECT c.community_id, c.video_id, c.old FROM (
            SELECT video_id, community_id, true AS old FROM old_communities
            UNION ALL SELECT video_id, community_id, false FROM new_communities) c
    ), tagged AS (
        SELECT m.community_id, h.hashtag, CASE WHEN m.old THEN -1 ELSE 1 END AS sign,
               CASE WHEN m.old THEN o.views_count ELSE n.views_count END AS views,
               CASE WHEN m.old THEN o.impact_score ELSE n.impact_score END AS impact
        FROM member_states m
        JOIN (SELECT video_id, hashtag, true AS old FROM old_hashtags
              UNION ALL SELECT sh.video_id, sh.hashtag, false FROM stage_hashtags sh JOIN fresh USING (video_id)) h
          ON h.video_id = m.video_id AND h.old = m.old
        LEFT JOIN old_videos o ON m.old AND o.video_id = m.video_id
        LEFT JOIN new_videos n ON NOT m.old AND n.video_id = m.video_id
    )
    SELECT community_id, hashtag, sum(sign)::bigint AS n, sum(sign * views) AS views, sum(sign * impact) AS impact
    FROM tagged GROUP BY community_id, hashtag
    HAVING (sum(sign), sum(sign * views), sum(sign * impact)) IS DISTINCT FROM (0, 0, 0)
    """,
    # 7. Apply the deltas, locking aggregate rows in key order first.
    """
    WITH seen AS (
        SELECT DISTINCT sv.creator_id FROM stage_videos sv JOIN fresh USING (video_id) WHERE sv.seen
    ), d AS (
        SELECT k1 AS creator_id, sum(sign) AS n, sum(sign * views_count) AS views, sum(sign * likes_count) AS likes,
               sum(sign * impact_score) AS impact, bool_or(seen.creator_id IS NOT NULL) AS seen
        FROM contrib LEFT JOIN seen ON seen.creator_id = contrib.k1
        WHERE kind = 'creator' GROUP BY k1
    ), locked AS (
        SELECT c.creator_id FROM creators_hot c JOIN d USING (creator_id) ORDER BY c.creator_id FOR NO KEY UPDATE OF c
    ), profile AS (  -- as a fresh record gives it; a field it lacks keeps its stored value
        SELECT sc.* FROM stage_creators sc
        WHERE sc.creator_id IN (SELECT s.creator_id FROM stage_videos s JOIN fresh USING (video_id))
    )
    UPDATE creators_hot c SET
        videos_count = c.videos_count + d.n, total_play_count = c.total_play_count + d.views,
        likes_total = c.likes_total + d.likes, total_impact_score = c.total_impact_score + d.impact,
        username = coalesce(p.username, c.username), display_name = coalesce(p.display_name, c.display_name),
        platform_user_id = coalesce(p.platform_user_id, c.platform_user_id),
        avatar_url = coalesce(p.avatar_url, c.avatar_url), verified = coalesce(p.verified, false) OR c.verified,
        followers_count = coalesce(p.followers_count, c.followers_count), bio = coalesce(p.bio, c.bio),
        last_seen_at = CASE WHEN d.seen THEN now() ELSE c.last_seen_at END, updated_at = now()
    FROM d JOIN locked USING (creator_id) LEFT JOIN profile p USING (creator_id)
    WHERE c.creator_id = d.creator_id AND ((d.n, d.views, d.likes, d.impact) IS DISTINCT FROM (0, 0, 0, 0) OR d.seen)
    """,
    # the last full creator object a source gave; rewritten only when it changed (the creator's row is locked above)
    """
    UPDATE creators_cold c SET raw = sc.raw, updated_at = now()
    FROM stage_creators sc
    WHERE c.creator_id = sc.creator_id AND sc.raw IS NOT NULL AND c.raw IS DISTINCT FROM sc.raw
      AND sc.creator_id IN (SELECT s.creator_id FROM stage_videos s JOIN fresh USING (video_id))
    """,
    # The sounds are locked in a statement of their own: last_used_at is recomputed from the facts, which the
    # UPDATE reads in its own snapshot. Taken after the locks, that snapshot holds every fact a chunk that locked the
    # sound before has committed; taken before them (a lock in the UPDATE's own CTE), it missed the facts of the chunk
    # it waited for, and kept a stale last_used_at (found by the hypothesis invariant with three writers).
    """
    SELECT 1 FROM sounds_hot s WHERE s.sound_id IN (SELECT k1 FROM contrib WHERE kind = 'sound')
    ORDER BY s.sound_id FOR NO KEY UPDATE OF s
    """,
    """
    WITH d AS (
        SELECT k1 AS sound_id, sum(sign) AS n, sum(sign * views_count) AS views, sum(sign * likes_count) AS likes,
               sum(sign * impact_score) AS impact
        FROM contrib WHERE kind = 'sound' GROUP BY k1
    )
    UPDATE sounds_hot s SET
        videos_count = s.videos_count + d.n, views_total = s.views_total + d.views,
        likes_total = s.likes_total + d.likes, total_impact_score = s.total_impact_score + d.impact,
        last_used_at = (SELECT max(f.created_at) FROM video_sound_facts f WHERE f.sound_id = s.sound_id),
        sound_title = coalesce(m.title, s.sound_title), sound_author = coalesce(m.author, s.sound_author),
        original = coalesce(m.original, s.original), cover_url = coalesce(m.cover_url, s.cover_url),
        play_url = coalesce(m.play_url, s.play_url), updated_at = now()
    FROM d LEFT JOIN fresh_sounds m USING (sound_id)
    WHERE s.sound_id = d.sound_id
    """,
    """
    UPDATE sounds_cold c SET raw = m.raw, updated_at = now()
    FROM fresh_sounds m
    WHERE c.sound_id = m.sound_id AND c.raw IS DISTINCT FROM m.raw
    """,
    # (sound, creator) pairs: each creator's figures within the sound, for GET /sounds/{id}/creators.
    *_apply_counted_delta(_SOUND_CREATORS),
    # (hashtag, creator) pairs first: their zero crossings (rows created or dropped, not rows whose sums alone move)
    # are the hashtags' creators_count deltas; their sums are each creator's figures within the hashtag.
    *_apply_counted_delta(_PAIR_COUNTS),
    """
    CREATE TEMP TABLE hashtag_delta ON COMMIT DROP AS
    WITH sums AS (
        SELECT k1 AS hashtag, platform, sum(sign) AS n, sum(sign * views_count) AS views,
               sum(sign * likes_count) AS likes, sum(sign * impact_score) AS impact
        FROM contrib WHERE kind = 'hashtag' GROUP BY k1, platform
    ), crossings AS (
        SELECT key1 AS hashtag, platform, sum(change) AS creators
        FROM crossings WHERE target = 'hashtag_creator_counts' GROUP BY key1, platform
    )
    SELECT s.hashtag, s.platform, s.n, s.views, s.likes, s.impact, coalesce(c.creators, 0) AS creators
    FROM sums s LEFT JOIN crossings c USING (hashtag, platform)
    """,
    """
    WITH seen AS (
        SELECT DISTINCT sh.hashtag
        FROM stage_hashtags sh JOIN fresh USING (video_id) JOIN stage_videos sv USING (video_id)
        WHERE sv.seen
    ), d AS (
        SELECT hd.hashtag, sum(hd.n) AS n, sum(hd.views) AS views, sum(hd.likes) AS likes, sum(hd.impact) AS impact,
               sum(hd.creators) AS creators, bool_or(seen.hashtag IS NOT NULL) AS seen
        FROM hashtag_delta hd LEFT JOIN seen USING (hashtag)
        GROUP BY hd.hashtag
    ), locked AS (
        SELECT h.hashtag FROM hashtags_hot h JOIN d USING (hashtag) ORDER BY h.hashtag FOR NO KEY UPDATE OF h
    )
    -- last_seen_at moves here, with the totals, so a hashtag row is written once per chunk, not twice
    UPDATE hashtags_hot h SET
        videos_count = h.videos_count + d.n, creators_count = h.creators_count + d.creators,
        views_total = h.views_total + d.views, likes_total = h.likes_total + d.likes,
        total_impact_score = h.total_impact_score + d.impact,
        last_seen_at = CASE WHEN d.seen THEN now() ELSE h.last_seen_at END, updated_at = now()
    FROM d JOIN locked USING (hashtag)
    WHERE h.hashtag = d.hashtag
      AND ((d.n, d.views, d.likes, d.impact, d.creators) IS DISTINCT FROM (0, 0, 0, 0, 0) OR d.seen)
    """,
    # every spelling of a hashtag seen, kept once (the hashtag's row is locked above); rewritten only for a new one
    """
    UPDATE hashtags_cold h
    SET display_forms = ARRAY(SELECT DISTINCT x FROM unnest(h.display_forms || n.forms) AS x ORDER BY x),
        updated_at = now()
    FROM (SELECT sh.hashtag, array_agg(DISTINCT sh.display ORDER BY sh.display) AS forms
          FROM stage_hashtags sh JOIN fresh USING (video_id) JOIN stage_videos sv USING (video_id)
          WHERE sv.seen GROUP BY sh.hashtag) n
    WHERE h.hashtag = n.hashtag AND NOT h.display_forms @> n.forms
    """,
    *_apply_counted_delta(_HASHTAG_PLATFORM_TOTALS),
    # Communities: (community, creator) and (community, hashtag) memberships, then the community totals.
    *_apply_counted_delta(_COMMUNITY_CREATORS),
    *_apply_counted_delta(_COMMUNITY_HASHTAGS),
    """
    CREATE TEMP TABLE community_delta ON COMMIT DROP AS
    WITH sums AS (
        SELECT k1::bigint AS community_id, platform, sum(sign) AS n, sum(sign * views_count) AS views,
               sum(sign * likes_count) AS likes, sum(sign * impact_score) AS impact
        FROM contrib WHERE kind = 'community' GROUP BY k1, platform
    ), crossings AS (
        SELECT key1::bigint AS community_id, platform, sum(change) AS creators
        FROM crossings WHERE target = 'community_creator_memberships' GROUP BY key1, platform
    )
    SELECT s.community_id, s.platform, s.n, s.views, s.likes, s.impact, coalesce(c.creators, 0) AS creators
    FROM sums s LEFT JOIN crossings c USING (community_id, platform)
    """,
    """
    WITH d AS (
        SELECT community_id, sum(n) AS n, sum(views) AS views, sum(likes) AS likes, sum(impact) AS impact,
               sum(creators) AS creators
        FROM community_delta GROUP BY community_id
    ), locked AS (
        SELECT c.id FROM communities c JOIN d ON d.community_id = c.id ORDER BY c.id FOR NO KEY UPDATE OF c
    )
    UPDATE communities c SET
        total_videos = c.total_videos + d.n, total_views = c.total_views + d.views,
        total_likes = c.total_likes + d.likes, total_creators = c.total_creators + d.creators,
        total_impact_score = c.total_impact_score + d.impact, updated_at = now()
    FROM d JOIN locked ON locked.id = d.community_id
    WHERE c.id = d.community_id AND (d.n, d.views, d.likes, d.impact, d.creators) IS DISTINCT FROM (0, 0, 0, 0, 0)
    """,
    *_apply_counted_delta(_COMMUNITY_PLATFORM_TOTALS),
)


_SNAPSHOTS = """
INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, likes_count, comments_count, shares_count,
                                   collect_count, source, ingestion_id)
SELECT s.video_id, s.observed_at, s.snap_views, s.snap_likes, s.snap_comments, s.snap_shares, s.snap_saves, s.source,
       %s
FROM stage_videos s
WHERE EXISTS (SELECT 1 FROM videos_hot v WHERE v.video_id = s.video_id)
ORDER BY s.video_id
ON CONFLICT DO NOTHING
"""


def _dedupe(videos: list[CanonicalVideo], observed_at: datetime) -> list[tuple[CanonicalVideo, datetime]]:
    """One record per video: the latest observation wins (a record repeated in a snapshot counts once)."""
    latest: dict[str, tuple[CanonicalVideo, datetime]] = {}
    for video in videos:
        seen = video.observed_at or observed_at
        kept = latest.get(video.video_id)
        if kept is None or seen >= kept[1]:
            latest[video.video_id] = (video, seen)
    return [latest[k] for k in sorted(latest)]


def _copy_staging(conn: psycopg.Connection[Any], rows: list[tuple[CanonicalVideo, datetime]]) -> None:
    with conn.cursor() as cur:
        with cur.copy(
            "COPY stage_videos (video_id, platform, url, caption, thumbnail_url, duration_seconds, created_at,"
            " creator_id, views, likes, comments, shares, saves, snap_views, snap_likes, snap_comments, snap_shares,"
            " snap_saves, observed_at, source, raw) FROM STDIN"
        ) as copy:
            for v, seen in rows:
                copy.write_row(
                    (
                        v.video_id,
                        v.platform,
                        v.url,
                        v.caption,
                        v.thumbnail_url,
                        v.duration_seconds,
                        v.posted_at,
                        v.creator.creator_id if v.creator else None,
                        v.views or 0,
                        v.likes or 0,
                        v.comments or 0,
                        v.shares or 0,
                        v.saves or 0,
                        v.views,
                        v.likes,
                        v.comments,
                        v.shares,
                        v.saves,
                        seen,
                        v.source,
                        Jsonb(v.raw),
                    )
                )
        creators = {v.creator.creator_id: (v.creator, v.raw) for v, _ in rows if v.creator is not None}
        with cur.copy(
            "COPY stage_creators (creator_id, platform, username, display_name, platform_user_id, avatar_url,"
            " verified, followers_count, bio, raw) FROM STDIN"
        ) as copy:
            for c, _raw in creators.values():
                copy.write_row(
                    (
                        c.creator_id,
                        c.platform,
                        c.username,
                        c.display_name,
                        c.platform_user_id,
                        c.avatar_url,
                        c.verified,
                        c.followers_count,
                        c.bio,
                        Jsonb(c.model_dump(mode="json")),
                    )
                )
        with cur.copy(
            "COPY stage_sounds (video_id, sound_id, title, author, original, cover_url, play_url) FROM STDIN"
        ) as copy:
            for v, _ in rows:
                if v.sound is not None:
                    s = v.sound
                    copy.write_row((v.video_id, s.sound_id, s.title, s.author, s.original, s.cover_url, s.play_url))
        with cur.copy("COPY stage_hashtags (video_id, hashtag, display) FROM STDIN") as copy:
            for v, _ in rows:
                seen_tags: set[str] = set()
                for h in v.hashtags:
                    if h.tag not in seen_tags:
                        seen_tags.add(h.tag)
                        copy.write_row((v.video_id, h.tag, h.display))
        with cur.copy("COPY stage_mentions (video_id, handle) FROM STDIN") as copy:
            for v, _ in rows:
                for handle in sorted(set(v.mentions)):
                    copy.write_row((v.video_id, handle))


# Advisory lock class for ingest's video buckets, and how many buckets the video id space is hashed into.
VIDEO_LOCK_CLASS = 0x7EE1
VIDEO_LOCK_BUCKETS = 64


def video_bucket(video_id: str) -> int:
    """The ingest lock bucket of a video (0 … VIDEO_LOCK_BUCKETS - 1)."""
    return zlib.crc32(video_id.encode()) % VIDEO_LOCK_BUCKETS


def _lock_video_buckets(conn: psycopg.Connection[Any], video_ids: list[str]) -> None:
    """Hold, until commit, a lock on every bucket of video ids this chunk touches, taken in bucket order.

    Row locks alone cannot cover a video that does not exist yet: two chunks inserting the same new video would
    each count it as new. Whoever holds a bucket has committed before the next holder reads the video's old state,
    so every chunk sees the previous writer's rows and facts. A fixed number of buckets bounds the locks per
    transaction (PostgreSQL's shared lock table is small); disjoint chunks still run in parallel.
    """
    buckets = sorted({video_bucket(video_id) for video_id in video_ids})
    for bucket in buckets:
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (VIDEO_LOCK_CLASS, bucket))


def write_chunk(
    conn: psycopg.Connection[Any], videos: list[CanonicalVideo], *, ingestion_id: int | None, observed_at: datetime
) -> ChunkResult:
    """Write one chunk of validated videos into every table, inside the caller's transaction.

    Parameters
    ----------
    conn
        A connection with an open transaction (the chunk commits or rolls back as one).
    videos
        Validated records; duplicates of a video id are collapsed to the latest observation.
    ingestion_id
        Recorded on the snapshot rows.
    observed_at
        The observation time of records that carry none of their own (the snapshot's delivery time).

    Returns
    -------
    ChunkResult
        New and updated video counts, and how many records were older than the stored metrics.
    """
    rows = _dedupe(videos, observed_at)
    if not rows:
        return ChunkResult(0, 0, 0)
    _lock_video_buckets(conn, [v.video_id for v, _ in rows])
    conn.execute(_STAGING)
    _copy_staging(conn, rows)
    conn.execute(_ANALYZE_STAGING)
    for statement in _OLD_STATE_STEPS + _PROFILE_STEPS:
        conn.execute(statement)
    # the chunk's own rows before any shared one is locked: a chunk of another stream may be waiting for those
    conn.execute(_SNAPSHOTS, (ingestion_id,))
    for statement in _FACT_AND_AGGREGATE_STEPS:
        conn.execute(statement)
    counts = conn.execute(
        "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM fresh"
    ).fetchone()
    new, updated = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    return ChunkResult(new_videos=new, updated_videos=updated, stale_records=len(rows) - new - updated)


# ---------------------------------------------------------------------------------------------------------------------
# The metric-only path (view tracking): new counts for videos already stored, nothing else about them changes.
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricObservation:
    """New counts for a stored video. ``None`` likes or comments mean hidden: the stored value is kept."""

    video_id: str
    views: int
    likes: int | None
    comments: int | None
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class MetricWriteResult:
    """What :func:`write_metrics` did: videos whose current metrics moved, observations older than the stored
    metrics (a snapshot row only), and ids not (or no longer) in ``videos_hot`` (nothing written)."""

    updated_videos: int
    stale_observations: int
    unknown_videos: int


_METRIC_STAGING = """
CREATE TEMP TABLE stage_metrics (
    video_id text PRIMARY KEY, views bigint NOT NULL, likes bigint, comments bigint, observed_at timestamptz NOT NULL
) ON COMMIT DROP
"""

# Fill the ingest staging tables from the stored rows, so the shared steps see the video's facts unchanged and only
# its counts move: every aggregate then moves by exactly (new contribution - old contribution).
_METRIC_STAGE_FROM_STORED: tuple[str, ...] = (
    """
    INSERT INTO stage_videos (video_id, platform, url, caption, thumbnail_url, duration_seconds, created_at,
                              creator_id, views, likes, comments, shares, saves, snap_views, snap_likes,
                              snap_comments, snap_shares, snap_saves, observed_at, source, raw, seen)
    SELECT m.video_id, v.platform, v.url, v.caption, v.thumbnail_url, v.duration_seconds, v.created_at, v.creator_id,
           m.views, coalesce(m.likes, v.likes_count), coalesce(m.comments, v.comments_count), v.shares_count,
           v.collect_count, m.views, m.likes, m.comments, NULL, NULL, m.observed_at, %(source)s, '{}'::jsonb, false
    FROM stage_metrics m JOIN videos_hot v USING (video_id)
    """,
    """
    INSERT INTO stage_hashtags (video_id, hashtag, display)
    SELECT f.video_id, f.hashtag, f.hashtag FROM video_hashtag_facts f JOIN stage_videos s USING (video_id)
    """,
    """
    INSERT INTO stage_sounds (video_id, sound_id)
    SELECT f.video_id, f.sound_id FROM video_sound_facts f JOIN stage_videos s USING (video_id)
    """,
    """
    INSERT INTO stage_mentions (video_id, handle)
    SELECT m.video_id, m.handle FROM video_creator_mentions m JOIN stage_videos s USING (video_id)
    """,
)

# Runs between the old-state steps and the fact steps, in place of ingest's upsert (same lock order: the videos are
# locked by old_videos already). The scoring trigger rescores each changed row with the active weights.
_METRIC_UPDATE = """
UPDATE videos_hot v SET
    views_count = s.views, likes_count = s.likes, comments_count = s.comments,
    metrics_observed_at = s.observed_at, source = s.source, updated_at = now()
FROM stage_videos s JOIN fresh USING (video_id)
WHERE v.video_id = s.video_id
"""

_METRIC_SNAPSHOTS = """
INSERT INTO video_metric_snapshots (video_id, observed_at, views_count, likes_count, comments_count, source,
                                    tracking_job_id)
SELECT s.video_id, s.observed_at, s.snap_views, s.snap_likes, s.snap_comments, s.source, %s
FROM stage_videos s
ORDER BY s.video_id
ON CONFLICT DO NOTHING
"""

# The counts each updated video had before this write (its previous observation), for the caller's own statements in
# the same transaction (view tracking derives velocity from it). Dropped at commit.
PRIOR_METRICS_TABLE = "metric_priors"
_METRIC_PRIORS = sql.SQL(
    "CREATE TEMP TABLE {} ON COMMIT DROP AS"
    " SELECT o.video_id, o.views_count, o.metrics_observed_at FROM old_videos o JOIN fresh USING (video_id)"
).format(sql.Identifier(PRIOR_METRICS_TABLE))


def write_metrics(
    conn: psycopg.Connection[Any],
    observations: list[MetricObservation],
    *,
    source: str = "view_tracking",
    tracking_job_id: int | None = None,
) -> MetricWriteResult:
    """Write new counts for stored videos through ingest's set-based path, inside the caller's transaction.

    Each observation becomes a ``video_metric_snapshots`` row (hidden counts as NULL: a gap, not a zero) and, unless
    it is older than the stored metrics, the video's current counts (hidden ones keep their last known value). Facts
    keep their keys and take the new sort keys; every aggregate moves by the difference between old and new
    contribution, with the same video-bucket advisory locks and lock order as :func:`write_chunk`, so tracking and
    ingest can run at the same time and ``aggregate_drift`` stays empty.

    Parameters
    ----------
    conn
        A connection with an open transaction.
    observations
        Counts per video; duplicates of a video id are collapsed to the latest observation.
    source
        Recorded as the videos' and the snapshots' source.
    tracking_job_id
        Recorded on the snapshot rows.

    Returns
    -------
    MetricWriteResult
        Also leaves the temporary table :data:`PRIOR_METRICS_TABLE` (video_id, views_count, metrics_observed_at: the
        state each updated video had before) until the transaction ends.
    """
    latest: dict[str, MetricObservation] = {}
    for o in observations:
        kept = latest.get(o.video_id)
        if kept is None or o.observed_at >= kept.observed_at:
            latest[o.video_id] = o
    if not latest:
        return MetricWriteResult(0, 0, 0)
    ids = sorted(latest)
    _lock_video_buckets(conn, ids)
    conn.execute(_STAGING)
    conn.execute(_METRIC_STAGING)
    with (
        conn.cursor() as cur,
        cur.copy("COPY stage_metrics (video_id, views, likes, comments, observed_at) FROM STDIN") as copy,
    ):
        for video_id in ids:
            o = latest[video_id]
            copy.write_row((video_id, o.views, o.likes, o.comments, o.observed_at))
    for statement in _METRIC_STAGE_FROM_STORED:
        conn.execute(statement, {"source": source})
    for step in _OLD_STATE_STEPS:
        conn.execute(step)
    conn.execute(_METRIC_UPDATE)
    conn.execute(_METRIC_SNAPSHOTS, (tracking_job_id,))
    for step in _FACT_AND_AGGREGATE_STEPS:
        conn.execute(step)
    conn.execute(_METRIC_PRIORS)
    row = conn.execute("SELECT (SELECT count(*) FROM stage_videos), (SELECT count(*) FROM fresh)").fetchone()
    staged, fresh = (int(row[0]), int(row[1])) if row else (0, 0)
    return MetricWriteResult(updated_videos=fresh, stale_observations=staged - fresh, unknown_videos=len(ids) - staged)
