"""The per-video ingestion audit: is one video's data present and consistent in every table of DESIGN §3?

Each check is one parameterised query (``%(video)s`` is the video id) returning ``(status, detail)`` rows:
``ok``, ``missing`` (a row that must exist does not), ``drift`` (a row exists but differs from what the base tables
say it should be), or ``n/a`` (the table does not concern this video, e.g. no sound). Aggregates are compared with
the ``expected_*`` recomputation views of sql/0008, restricted to the video's own creator, sound, hashtags and
communities, so an audit costs what those entities cost, not a full recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True, slots=True)
class AuditLine:
    table: str
    status: str  # ok | missing | drift | stale | n/a | info
    detail: str


_VIDEO = """
SELECT v.video_id, v.platform, v.creator_id, v.views_count, v.likes_count, v.comments_count, v.shares_count,
       v.collect_count, v.impact_score, v.impact_version, v.metrics_observed_at, v.source,
       compute_impact_version(v.impact_version, v.views_count, v.likes_count, v.comments_count, v.shares_count,
                              v.collect_count) AS expected,
       active_impact_version() AS active_version
FROM videos_hot v WHERE v.video_id = %(video)s
"""

# (table, query): each query returns (status, detail) rows.
_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "videos_cold",
        """
        SELECT CASE WHEN c.video_id IS NULL THEN 'missing' ELSE 'ok' END,
               CASE WHEN c.video_id IS NULL THEN 'no raw record kept'
                    ELSE format('raw record from %%s, %%s bytes', c.source, pg_column_size(c.raw)) END
        FROM (SELECT %(video)s AS video_id) k LEFT JOIN videos_cold c USING (video_id)
        """,
    ),
    (
        "creators_hot",
        """
        SELECT CASE WHEN v.creator_id IS NULL THEN 'n/a' WHEN c.creator_id IS NULL THEN 'missing'
                    WHEN (c.videos_count, c.likes_total, c.total_play_count, c.total_impact_score)
                         IS DISTINCT FROM (e.videos_count, e.likes_total, e.total_play_count, e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               CASE WHEN v.creator_id IS NULL THEN 'the video has no creator'
                    ELSE format('%%s: %%s videos, %%s views, impact %%s (recomputed: %%s videos, %%s views, impact %%s)',
                                v.creator_id, c.videos_count, c.total_play_count, c.total_impact_score,
                                e.videos_count, e.total_play_count, e.total_impact_score) END
        FROM videos_hot v
        LEFT JOIN creators_hot c ON c.creator_id = v.creator_id
        LEFT JOIN expected_creator_totals e ON e.creator_id = v.creator_id
        WHERE v.video_id = %(video)s
        """,
    ),
    (
        "creators_cold",
        """
        SELECT CASE WHEN v.creator_id IS NULL THEN 'n/a' WHEN c.creator_id IS NULL THEN 'missing' ELSE 'ok' END,
               coalesce(v.creator_id, 'the video has no creator')
        FROM videos_hot v LEFT JOIN creators_cold c ON c.creator_id = v.creator_id
        WHERE v.video_id = %(video)s
        """,
    ),
    (
        "video_sound_facts",
        """
        SELECT CASE WHEN f.video_id IS NULL THEN 'n/a'
                    WHEN (f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
                         IS DISTINCT FROM (v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at)
                    THEN 'drift' ELSE 'ok' END,
               CASE WHEN f.video_id IS NULL THEN 'no sound' ELSE 'sound ' || f.sound_id END
        FROM videos_hot v LEFT JOIN video_sound_facts f USING (video_id)
        WHERE v.video_id = %(video)s
        """,
    ),
    (
        "sounds_hot",
        """
        SELECT CASE WHEN s.sound_id IS NULL THEN 'missing'
                    WHEN (s.videos_count, s.views_total, s.likes_total, s.total_impact_score, s.last_used_at)
                         IS DISTINCT FROM (e.videos_count, e.views_total, e.likes_total, e.total_impact_score,
                                           e.last_used_at)
                    THEN 'drift' ELSE 'ok' END,
               format('%%s: %%s videos, %%s views, impact %%s (recomputed: %%s videos, %%s views, impact %%s)',
                      f.sound_id, s.videos_count, s.views_total, s.total_impact_score,
                      e.videos_count, e.views_total, e.total_impact_score)
        FROM video_sound_facts f
        LEFT JOIN sounds_hot s USING (sound_id)
        LEFT JOIN expected_sound_totals e USING (sound_id)
        WHERE f.video_id = %(video)s
        """,
    ),
    (
        "sound_creator_counts",
        """
        SELECT CASE WHEN t.sound_id IS NULL THEN 'missing'
                    WHEN (t.video_count, t.total_views, t.total_likes, t.total_impact_score)
                         IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('%%s by %%s: %%s videos, %%s views, impact %%s (recomputed: %%s videos, %%s views, impact %%s)',
                      f.sound_id, f.creator_id, t.video_count, t.total_views, t.total_impact_score,
                      e.video_count, e.total_views, e.total_impact_score)
        FROM video_sound_facts f
        LEFT JOIN sound_creator_counts t ON (t.sound_id, t.creator_id) = (f.sound_id, f.creator_id)
        LEFT JOIN expected_sound_creator_counts e ON (e.sound_id, e.creator_id) = (f.sound_id, f.creator_id)
        WHERE f.video_id = %(video)s AND f.creator_id IS NOT NULL
        """,
    ),
    (
        "sounds_cold",
        """
        SELECT CASE WHEN c.sound_id IS NULL THEN 'missing' ELSE 'ok' END, f.sound_id
        FROM video_sound_facts f LEFT JOIN sounds_cold c USING (sound_id)
        WHERE f.video_id = %(video)s
        """,
    ),
    (
        "video_hashtag_facts",
        """
        SELECT CASE WHEN count(f.hashtag) = 0 THEN 'n/a'
                    WHEN bool_or((f.platform, f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
                                 IS DISTINCT FROM (v.platform, v.creator_id, v.views_count, v.likes_count,
                                                   v.impact_score, v.created_at))
                    THEN 'drift' ELSE 'ok' END,
               CASE WHEN count(f.hashtag) = 0 THEN 'no hashtags'
                    ELSE count(f.hashtag) || ' hashtags: ' || string_agg('#' || f.hashtag, ' ' ORDER BY f.hashtag) END
        FROM videos_hot v LEFT JOIN video_hashtag_facts f USING (video_id)
        WHERE v.video_id = %(video)s
        """,
    ),
    (
        "hashtags_hot",
        """
        SELECT CASE WHEN h.hashtag IS NULL THEN 'missing'
                    WHEN (h.videos_count, h.creators_count, h.views_total, h.likes_total, h.total_impact_score)
                         IS DISTINCT FROM (e.videos_count, e.creators_count, e.views_total, e.likes_total,
                                           e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('#%%s: %%s videos, %%s creators, %%s views (recomputed: %%s videos, %%s creators, %%s views)',
                      f.hashtag, h.videos_count, h.creators_count, h.views_total,
                      e.videos_count, e.creators_count, e.views_total)
        FROM video_hashtag_facts f
        LEFT JOIN hashtags_hot h USING (hashtag)
        LEFT JOIN expected_hashtag_totals e USING (hashtag)
        WHERE f.video_id = %(video)s
        ORDER BY f.hashtag
        """,
    ),
    (
        "hashtags_cold",
        """
        SELECT CASE WHEN c.hashtag IS NULL THEN 'missing' ELSE 'ok' END,
               format('#%%s: forms %%s', f.hashtag, c.display_forms)
        FROM video_hashtag_facts f LEFT JOIN hashtags_cold c USING (hashtag)
        WHERE f.video_id = %(video)s
        ORDER BY f.hashtag
        """,
    ),
    (
        "hashtag_platform_totals",
        """
        SELECT CASE WHEN t.hashtag IS NULL THEN 'missing'
                    WHEN (t.videos_count, t.creators_count, t.views_total, t.likes_total, t.total_impact_score)
                         IS DISTINCT FROM (e.videos_count, e.creators_count, e.views_total, e.likes_total,
                                           e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('#%%s on %%s: %%s videos, %%s views (recomputed: %%s videos, %%s views)',
                      f.hashtag, f.platform, t.videos_count, t.views_total, e.videos_count, e.views_total)
        FROM video_hashtag_facts f
        LEFT JOIN hashtag_platform_totals t ON (t.hashtag, t.platform) = (f.hashtag, f.platform)
        LEFT JOIN expected_hashtag_platform_totals e ON (e.hashtag, e.platform) = (f.hashtag, f.platform)
        WHERE f.video_id = %(video)s
        ORDER BY f.hashtag
        """,
    ),
    (
        "hashtag_creator_counts",
        """
        SELECT CASE WHEN t.hashtag IS NULL THEN 'missing'
                    WHEN (t.video_count, t.total_views, t.total_likes, t.total_impact_score)
                         IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('#%%s by %%s: %%s videos, %%s views, impact %%s (recomputed: %%s videos, %%s views, impact %%s)',
                      f.hashtag, f.creator_id, t.video_count, t.total_views, t.total_impact_score,
                      e.video_count, e.total_views, e.total_impact_score)
        FROM video_hashtag_facts f
        LEFT JOIN hashtag_creator_counts t ON (t.hashtag, t.creator_id) = (f.hashtag, f.creator_id)
        LEFT JOIN expected_hashtag_creator_counts e ON (e.hashtag, e.creator_id) = (f.hashtag, f.creator_id)
        WHERE f.video_id = %(video)s AND f.creator_id IS NOT NULL
        ORDER BY f.hashtag
        """,
    ),
    (
        "video_creator_mentions",
        """
        SELECT 'info', CASE WHEN count(*) = 0 THEN 'no mentions'
                            ELSE string_agg('@' || handle, ' ' ORDER BY handle) END
        FROM video_creator_mentions WHERE video_id = %(video)s
        """,
    ),
    (
        "community_video_memberships",
        """
        WITH actual AS (SELECT community_id FROM community_video_memberships WHERE video_id = %(video)s),
        expected AS (SELECT community_id FROM expected_community_video_memberships WHERE video_id = %(video)s),
        keys AS (
            SELECT bool_or(m.video_id IS NOT NULL AND
                           (m.platform, m.creator_id, m.views_count, m.likes_count, m.impact_score, m.created_at)
                           IS DISTINCT FROM (v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score,
                                             v.created_at)) AS differ
            FROM videos_hot v LEFT JOIN community_video_memberships m USING (video_id)
            WHERE v.video_id = %(video)s
        )
        SELECT CASE WHEN EXISTS (SELECT * FROM expected EXCEPT SELECT * FROM actual) THEN 'missing'
                    WHEN EXISTS (SELECT * FROM actual EXCEPT SELECT * FROM expected) OR (SELECT differ FROM keys)
                    THEN 'drift'
                    WHEN NOT EXISTS (SELECT 1 FROM expected) THEN 'n/a' ELSE 'ok' END,
               format('member of %%s (expected %%s)',
                      coalesce((SELECT string_agg(c.slug, ', ' ORDER BY c.slug) FROM actual a
                                JOIN communities c ON c.id = a.community_id), 'none'),
                      coalesce((SELECT string_agg(c.slug, ', ' ORDER BY c.slug) FROM expected x
                                JOIN communities c ON c.id = x.community_id), 'none'))
        """,
    ),
    (
        "communities",
        """
        SELECT CASE WHEN (c.total_videos, c.total_views, c.total_likes, c.total_creators, c.total_impact_score)
                         IS DISTINCT FROM (e.total_videos, e.total_views, e.total_likes, e.total_creators,
                                           e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('%%s: %%s videos, %%s creators, %%s views (recomputed: %%s videos, %%s creators, %%s views)',
                      c.slug, c.total_videos, c.total_creators, c.total_views,
                      e.total_videos, e.total_creators, e.total_views)
        FROM community_video_memberships m
        JOIN communities c ON c.id = m.community_id
        JOIN expected_community_totals e ON e.community_id = m.community_id
        WHERE m.video_id = %(video)s
        ORDER BY c.slug
        """,
    ),
    (
        "community_platform_totals",
        """
        SELECT CASE WHEN t.community_id IS NULL THEN 'missing'
                    WHEN (t.total_videos, t.total_views, t.total_likes, t.total_creators, t.total_impact_score)
                         IS DISTINCT FROM (e.total_videos, e.total_views, e.total_likes, e.total_creators,
                                           e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('community %%s on %%s: %%s videos (recomputed: %%s)', m.community_id, m.platform,
                      t.total_videos, e.total_videos)
        FROM community_video_memberships m
        LEFT JOIN community_platform_totals t ON (t.community_id, t.platform) = (m.community_id, m.platform)
        LEFT JOIN expected_community_platform_totals e ON (e.community_id, e.platform) = (m.community_id, m.platform)
        WHERE m.video_id = %(video)s
        """,
    ),
    (
        "community_creator_memberships",
        """
        SELECT CASE WHEN t.community_id IS NULL THEN 'missing'
                    WHEN (t.video_count, t.total_views, t.total_likes, t.total_impact_score)
                         IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('community %%s, %%s: %%s videos (recomputed: %%s)', m.community_id, m.creator_id,
                      t.video_count, e.video_count)
        FROM community_video_memberships m
        LEFT JOIN community_creator_memberships t ON (t.community_id, t.creator_id) = (m.community_id, m.creator_id)
        LEFT JOIN expected_community_creator_memberships e
               ON (e.community_id, e.creator_id) = (m.community_id, m.creator_id)
        WHERE m.video_id = %(video)s AND m.creator_id IS NOT NULL
        """,
    ),
    (
        "community_hashtag_memberships",
        """
        SELECT CASE WHEN t.community_id IS NULL THEN 'missing'
                    WHEN (t.video_count, t.total_views, t.total_impact_score)
                         IS DISTINCT FROM (e.video_count, e.total_views, e.total_impact_score)
                    THEN 'drift' ELSE 'ok' END,
               format('community %%s, #%%s: %%s videos (recomputed: %%s)', m.community_id, f.hashtag,
                      t.video_count, e.video_count)
        FROM community_video_memberships m
        JOIN video_hashtag_facts f ON f.video_id = m.video_id
        LEFT JOIN community_hashtag_memberships t ON (t.community_id, t.hashtag) = (m.community_id, f.hashtag)
        LEFT JOIN expected_community_hashtag_memberships e ON (e.community_id, e.hashtag) = (m.community_id, f.hashtag)
        WHERE m.video_id = %(video)s
        ORDER BY m.community_id, f.hashtag
        """,
    ),
    (
        "video_metric_snapshots",
        """
        SELECT CASE WHEN count(s.observed_at) = 0 THEN 'missing'
                    WHEN v.metrics_observed_at IS NOT NULL
                         AND NOT bool_or(s.observed_at = v.metrics_observed_at) THEN 'missing'
                    WHEN bool_or(s.observed_at = v.metrics_observed_at
                                 AND (s.views_count, s.likes_count) IS DISTINCT FROM (v.views_count, v.likes_count))
                    THEN 'drift' ELSE 'ok' END,
               format('%%s snapshots from %%s to %%s; current metrics observed %%s', count(s.observed_at),
                      min(s.observed_at), max(s.observed_at), v.metrics_observed_at)
        FROM videos_hot v LEFT JOIN video_metric_snapshots s USING (video_id)
        WHERE v.video_id = %(video)s
        GROUP BY v.video_id, v.metrics_observed_at, v.views_count, v.likes_count
        """,
    ),
    (
        "ingestions",
        """
        SELECT 'info', CASE WHEN count(*) = 0 THEN 'written by no ingestion (view tracking only?)'
                            ELSE 'written by ingestions ' || string_agg(DISTINCT i.ingestion_id::text || ' (' ||
                                 coalesce(i.source, '?') || ', ' || i.status || ')', ', ') END
        FROM video_metric_snapshots s JOIN ingestions i ON i.ingestion_id = s.ingestion_id
        WHERE s.video_id = %(video)s
        """,
    ),
    (
        "rejected_videos",
        """
        SELECT 'info', CASE WHEN count(*) = 0 THEN 'never rejected'
                            ELSE format('%%s rejections, last: %%s', count(*),
                                        (array_agg(reason ORDER BY rejection_id DESC))[1]) END
        FROM rejected_videos WHERE video_id = %(video)s
        """,
    ),
)


def audit_video(conn: psycopg.Connection[Any], video_id: str) -> list[AuditLine] | None:
    """Audit one video. Returns None when videos_hot has no such video (the caller may still show rejections)."""
    params = {"video": video_id}
    video = conn.execute(_VIDEO, params).fetchone()
    if video is None:
        return None
    (_, platform, creator, views, likes, comments, shares, saves, impact, version, observed, source, expected,
     active) = video  # fmt: skip
    # a score computed with superseded weights is stale (the backfill's work), not wrong
    status = "drift" if impact != expected else "stale" if version != active else "ok"
    lines = [
        AuditLine(
            "videos_hot",
            status,
            f"{platform}, creator {creator}, views {views}, likes {likes}, comments {comments}, shares {shares}, "
            f"saves {saves}; impact {impact} (recomputed {expected}, weights v{version}, active v{active}); "
            f"observed {observed} from {source}",
        )
    ]
    for table, query in _CHECKS:
        rows = conn.execute(query, params).fetchall()
        if not rows:
            lines.append(AuditLine(table, "n/a", "no rows concern this video"))
        lines.extend(AuditLine(table, str(s), str(d)) for s, d in rows)
    return lines


def rejections_of(conn: psycopg.Connection[Any], video_id: str) -> list[tuple[int, str]]:
    """``(ingestion_id, reason)`` of every rejected record that carried this video id, newest first."""
    rows = conn.execute(
        "SELECT ingestion_id, reason FROM rejected_videos WHERE video_id = %s ORDER BY rejection_id DESC", (video_id,)
    ).fetchall()
    return [(int(i), str(r)) for i, r in rows]
