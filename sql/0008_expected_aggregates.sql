-- Full recomputations of every aggregate from the base tables (videos_hot and the fact tables).
-- The invariant: each aggregate table equals its expected_* view after any sequence of ingestions, retries and
-- concurrent runs. Tests compare them; reconcile repairs drift by comparing them too. Entities with no videos left
-- are expected at zero (creators, sounds, hashtags are kept as rows) or absent (memberships, pair counts).

CREATE OR REPLACE VIEW expected_creator_totals AS
SELECT c.creator_id,
       count(v.video_id)::bigint                 AS videos_count,
       coalesce(sum(v.likes_count), 0)::numeric  AS likes_total,
       coalesce(sum(v.views_count), 0)::numeric  AS total_play_count,
       coalesce(sum(v.impact_score), 0)::numeric AS total_impact_score
FROM creators_hot c
LEFT JOIN videos_hot v ON v.creator_id = c.creator_id
GROUP BY c.creator_id;

CREATE OR REPLACE VIEW expected_sound_totals AS
SELECT s.sound_id,
       count(v.video_id)::bigint                 AS videos_count,
       coalesce(sum(v.views_count), 0)::numeric  AS views_total,
       coalesce(sum(v.likes_count), 0)::numeric  AS likes_total,
       coalesce(sum(v.impact_score), 0)::numeric AS total_impact_score,
       max(v.created_at)                         AS last_used_at
FROM sounds_hot s
LEFT JOIN video_sound_facts f ON f.sound_id = s.sound_id
LEFT JOIN videos_hot v ON v.video_id = f.video_id
GROUP BY s.sound_id;

CREATE OR REPLACE VIEW expected_hashtag_totals AS
SELECT h.hashtag,
       count(v.video_id)::bigint                 AS videos_count,
       count(DISTINCT v.creator_id)::bigint      AS creators_count,
       coalesce(sum(v.views_count), 0)::numeric  AS views_total,
       coalesce(sum(v.likes_count), 0)::numeric  AS likes_total,
       coalesce(sum(v.impact_score), 0)::numeric AS total_impact_score
FROM hashtags_hot h
LEFT JOIN video_hashtag_facts f ON f.hashtag = h.hashtag
LEFT JOIN videos_hot v ON v.video_id = f.video_id
GROUP BY h.hashtag;

CREATE OR REPLACE VIEW expected_hashtag_platform_totals AS
SELECT f.hashtag, v.platform,
       count(*)::bigint                 AS videos_count,
       count(DISTINCT v.creator_id)::bigint AS creators_count,
       sum(v.views_count)::numeric      AS views_total,
       sum(v.likes_count)::numeric      AS likes_total,
       sum(v.impact_score)::numeric     AS total_impact_score
FROM video_hashtag_facts f
JOIN videos_hot v ON v.video_id = f.video_id
GROUP BY f.hashtag, v.platform;

CREATE OR REPLACE VIEW expected_hashtag_creator_counts AS
SELECT f.hashtag, v.creator_id, count(*)::bigint AS video_count
FROM video_hashtag_facts f
JOIN videos_hot v ON v.video_id = f.video_id
WHERE v.creator_id IS NOT NULL
GROUP BY f.hashtag, v.creator_id;

-- A video belongs to every community whose linked_hashtags it carries.
CREATE OR REPLACE VIEW expected_community_video_memberships AS
SELECT DISTINCT c.id AS community_id, f.video_id
FROM communities c
JOIN video_hashtag_facts f ON f.hashtag = ANY (c.linked_hashtags);

CREATE OR REPLACE VIEW expected_community_creator_memberships AS
SELECT m.community_id, v.creator_id,
       count(*)::bigint             AS video_count,
       sum(v.views_count)::numeric  AS total_views,
       sum(v.likes_count)::numeric  AS total_likes,
       sum(v.impact_score)::numeric AS total_impact_score
FROM community_video_memberships m
JOIN videos_hot v ON v.video_id = m.video_id
WHERE v.creator_id IS NOT NULL
GROUP BY m.community_id, v.creator_id;

CREATE OR REPLACE VIEW expected_community_hashtag_memberships AS
SELECT m.community_id, f.hashtag,
       count(*)::bigint             AS video_count,
       sum(v.views_count)::numeric  AS total_views,
       sum(v.impact_score)::numeric AS total_impact_score
FROM community_video_memberships m
JOIN video_hashtag_facts f ON f.video_id = m.video_id
JOIN videos_hot v ON v.video_id = m.video_id
GROUP BY m.community_id, f.hashtag;

CREATE OR REPLACE VIEW expected_community_totals AS
SELECT c.id AS community_id,
       count(v.video_id)::bigint                 AS total_videos,
       coalesce(sum(v.views_count), 0)::numeric  AS total_views,
       coalesce(sum(v.likes_count), 0)::numeric  AS total_likes,
       count(DISTINCT v.creator_id)::bigint      AS total_creators,
       coalesce(sum(v.impact_score), 0)::numeric AS total_impact_score
FROM communities c
LEFT JOIN community_video_memberships m ON m.community_id = c.id
LEFT JOIN videos_hot v ON v.video_id = m.video_id
GROUP BY c.id;

CREATE OR REPLACE VIEW expected_community_platform_totals AS
SELECT m.community_id, v.platform,
       count(*)::bigint                     AS total_videos,
       sum(v.views_count)::numeric          AS total_views,
       sum(v.likes_count)::numeric          AS total_likes,
       count(DISTINCT v.creator_id)::bigint AS total_creators,
       sum(v.impact_score)::numeric         AS total_impact_score
FROM community_video_memberships m
JOIN videos_hot v ON v.video_id = m.video_id
GROUP BY m.community_id, v.platform;

-- Fact rows whose copied sort keys differ from their video's (they must never).
CREATE OR REPLACE VIEW drifted_fact_sort_keys AS
SELECT 'video_hashtag_facts' AS fact_table, f.video_id
FROM video_hashtag_facts f JOIN videos_hot v USING (video_id)
WHERE (f.platform, f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
      IS DISTINCT FROM (v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at)
UNION ALL
SELECT 'video_sound_facts', f.video_id
FROM video_sound_facts f JOIN videos_hot v USING (video_id)
WHERE (f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
      IS DISTINCT FROM (v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at)
UNION ALL
SELECT 'community_video_memberships', f.video_id
FROM community_video_memberships f JOIN videos_hot v USING (video_id)
WHERE (f.platform, f.creator_id, f.views_count, f.likes_count, f.impact_score, f.created_at)
      IS DISTINCT FROM (v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score, v.created_at);

-- One row per aggregate row that differs from its recomputation (empty when the invariant holds).
CREATE OR REPLACE VIEW aggregate_drift AS
SELECT 'creators_hot' AS aggregate, e.creator_id AS entity
FROM expected_creator_totals e JOIN creators_hot a USING (creator_id)
WHERE (a.videos_count, a.likes_total, a.total_play_count, a.total_impact_score)
      IS DISTINCT FROM (e.videos_count, e.likes_total, e.total_play_count, e.total_impact_score)
UNION ALL
SELECT 'sounds_hot', e.sound_id
FROM expected_sound_totals e JOIN sounds_hot a USING (sound_id)
WHERE (a.videos_count, a.views_total, a.likes_total, a.total_impact_score, a.last_used_at)
      IS DISTINCT FROM (e.videos_count, e.views_total, e.likes_total, e.total_impact_score, e.last_used_at)
UNION ALL
SELECT 'hashtags_hot', e.hashtag
FROM expected_hashtag_totals e JOIN hashtags_hot a USING (hashtag)
WHERE (a.videos_count, a.creators_count, a.views_total, a.likes_total, a.total_impact_score)
      IS DISTINCT FROM (e.videos_count, e.creators_count, e.views_total, e.likes_total, e.total_impact_score)
UNION ALL
SELECT 'hashtag_platform_totals', coalesce(e.hashtag, a.hashtag) || '/' || coalesce(e.platform, a.platform)
FROM expected_hashtag_platform_totals e
FULL JOIN (SELECT * FROM hashtag_platform_totals WHERE videos_count > 0) a USING (hashtag, platform)
WHERE (a.videos_count, a.creators_count, a.views_total, a.likes_total, a.total_impact_score)
      IS DISTINCT FROM (e.videos_count, e.creators_count, e.views_total, e.likes_total, e.total_impact_score)
UNION ALL
SELECT 'hashtag_creator_counts', coalesce(e.hashtag, a.hashtag) || '/' || coalesce(e.creator_id, a.creator_id)
FROM expected_hashtag_creator_counts e FULL JOIN hashtag_creator_counts a USING (hashtag, creator_id)
WHERE a.video_count IS DISTINCT FROM e.video_count
UNION ALL
SELECT 'community_video_memberships', coalesce(e.community_id, a.community_id)::text || '/' || coalesce(e.video_id, a.video_id)
FROM expected_community_video_memberships e FULL JOIN community_video_memberships a USING (community_id, video_id)
WHERE e.video_id IS NULL OR a.video_id IS NULL
UNION ALL
SELECT 'community_creator_memberships', coalesce(e.community_id, a.community_id)::text || '/' || coalesce(e.creator_id, a.creator_id)
FROM expected_community_creator_memberships e FULL JOIN community_creator_memberships a USING (community_id, creator_id)
WHERE (a.video_count, a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
UNION ALL
SELECT 'community_hashtag_memberships', coalesce(e.community_id, a.community_id)::text || '/' || coalesce(e.hashtag, a.hashtag)
FROM expected_community_hashtag_memberships e FULL JOIN community_hashtag_memberships a USING (community_id, hashtag)
WHERE (a.video_count, a.total_views, a.total_impact_score)
      IS DISTINCT FROM (e.video_count, e.total_views, e.total_impact_score)
UNION ALL
SELECT 'communities', e.community_id::text
FROM expected_community_totals e JOIN communities a ON a.id = e.community_id
WHERE (a.total_videos, a.total_views, a.total_likes, a.total_creators, a.total_impact_score)
      IS DISTINCT FROM (e.total_videos, e.total_views, e.total_likes, e.total_creators, e.total_impact_score)
UNION ALL
SELECT 'community_platform_totals', coalesce(e.community_id, a.community_id)::text || '/' || coalesce(e.platform, a.platform)
FROM expected_community_platform_totals e
FULL JOIN (SELECT * FROM community_platform_totals WHERE total_videos > 0) a USING (community_id, platform)
WHERE (a.total_videos, a.total_views, a.total_likes, a.total_creators, a.total_impact_score)
      IS DISTINCT FROM (e.total_videos, e.total_views, e.total_likes, e.total_creators, e.total_impact_score)
UNION ALL
SELECT 'fact_sort_keys:' || fact_table, video_id FROM drifted_fact_sort_keys;
