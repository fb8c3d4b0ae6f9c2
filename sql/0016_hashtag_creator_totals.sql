-- Each creator's figures within each hashtag, for GET /hashtags/{tag}/creators?sort=views|impact|likes. The list
-- used to sort a hashtag's creators by their overall totals (a join of every creator of the tag to creators_hot and a
-- sort of them all); it now ranks them by the views, likes and impact of their videos carrying the tag, as the
-- community and sound creators lists do, and each sort is a keyset range scan of one of the indexes below. Ingest moves
-- the sums with video_count (reelrank.db.ingest_writes), reconcile repairs them (reelrank.db.aggregate_repair).

ALTER TABLE hashtag_creator_counts
    ADD COLUMN IF NOT EXISTS total_views        numeric NOT NULL DEFAULT 0 CHECK (total_views >= 0),
    ADD COLUMN IF NOT EXISTS total_likes        numeric NOT NULL DEFAULT 0 CHECK (total_likes >= 0),
    ADD COLUMN IF NOT EXISTS total_impact_score numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0);

UPDATE hashtag_creator_counts a
SET total_views = s.total_views, total_likes = s.total_likes, total_impact_score = s.total_impact_score
FROM (
    SELECT f.hashtag, v.creator_id, sum(v.views_count)::numeric AS total_views,
           sum(v.likes_count)::numeric AS total_likes, sum(v.impact_score)::numeric AS total_impact_score
    FROM video_hashtag_facts f
    JOIN videos_hot v ON v.video_id = f.video_id
    WHERE v.creator_id IS NOT NULL
    GROUP BY f.hashtag, v.creator_id
) s
WHERE a.hashtag = s.hashtag AND a.creator_id = s.creator_id
  AND (a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (s.total_views, s.total_likes, s.total_impact_score);

-- GET /hashtags/{tag}/creators?sort=views|impact|likes (videos: hashtag_creator_counts_videos_idx, sql/0013)
CREATE INDEX IF NOT EXISTS hashtag_creator_counts_views_idx
    ON hashtag_creator_counts (hashtag, total_views DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS hashtag_creator_counts_impact_idx
    ON hashtag_creator_counts (hashtag, total_impact_score DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS hashtag_creator_counts_likes_idx
    ON hashtag_creator_counts (hashtag, total_likes DESC, creator_id DESC);

-- sql/0008's definition with the three sums appended (CREATE OR REPLACE VIEW can only add columns at the end).
CREATE OR REPLACE VIEW expected_hashtag_creator_counts AS
SELECT f.hashtag, v.creator_id, count(*)::bigint AS video_count,
       sum(v.views_count)::numeric  AS total_views,
       sum(v.likes_count)::numeric  AS total_likes,
       sum(v.impact_score)::numeric AS total_impact_score
FROM video_hashtag_facts f
JOIN videos_hot v ON v.video_id = f.video_id
WHERE v.creator_id IS NOT NULL
GROUP BY f.hashtag, v.creator_id;

-- aggregate_drift as sql/0015 defines it, its hashtag_creator_counts branch comparing the sums too; same columns, so
-- CREATE OR REPLACE keeps every dependant.
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
WHERE (a.video_count, a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
UNION ALL
SELECT 'sound_creator_counts', coalesce(e.sound_id, a.sound_id) || '/' || coalesce(e.creator_id, a.creator_id)
FROM expected_sound_creator_counts e FULL JOIN sound_creator_counts a USING (sound_id, creator_id)
WHERE (a.video_count, a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (e.video_count, e.total_views, e.total_likes, e.total_impact_score)
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
