-- Per-(sound, creator) aggregates for GET /sounds/{id}/creators (issue 5). The list used to GROUP BY the sound's
-- video_sound_facts on every request (~0.5 s at a million videos); ingest now moves these rows by each video's
-- difference of contribution (reelrank.db.ingest_writes), reconcile repairs them (reelrank.db.aggregate_repair), and
-- each sort of the list is a keyset range scan of one of the indexes below, as community_creator_memberships serves
-- GET /communities/{id}/creators. A row exists only while its video_count is positive.

CREATE TABLE IF NOT EXISTS sound_creator_counts (
    sound_id            text NOT NULL REFERENCES sounds_hot (sound_id) ON DELETE CASCADE,
    creator_id          text NOT NULL REFERENCES creators_hot (creator_id) ON DELETE CASCADE,
    video_count         bigint  NOT NULL CHECK (video_count > 0),
    total_views         numeric NOT NULL DEFAULT 0 CHECK (total_views >= 0),
    total_likes         numeric NOT NULL DEFAULT 0 CHECK (total_likes >= 0),
    total_impact_score  numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0),
    PRIMARY KEY (sound_id, creator_id)
);
-- GET /sounds/{id}/creators?sort=views|impact|likes|videos
CREATE INDEX IF NOT EXISTS sound_creators_views_idx ON sound_creator_counts (sound_id, total_views DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS sound_creators_impact_idx ON sound_creator_counts (sound_id, total_impact_score DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS sound_creators_likes_idx ON sound_creator_counts (sound_id, total_likes DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS sound_creators_videos_idx ON sound_creator_counts (sound_id, video_count DESC, creator_id DESC);
-- a creator's sounds, and the ON DELETE CASCADE from creators_hot
CREATE INDEX IF NOT EXISTS sound_creator_counts_creator_idx ON sound_creator_counts (creator_id);

INSERT INTO sound_creator_counts (sound_id, creator_id, video_count, total_views, total_likes, total_impact_score)
SELECT f.sound_id, v.creator_id, count(*)::bigint, sum(v.views_count)::numeric, sum(v.likes_count)::numeric,
       sum(v.impact_score)::numeric
FROM video_sound_facts f
JOIN videos_hot v ON v.video_id = f.video_id
WHERE v.creator_id IS NOT NULL
GROUP BY f.sound_id, v.creator_id
ORDER BY f.sound_id, v.creator_id
ON CONFLICT (sound_id, creator_id) DO NOTHING;

GRANT SELECT ON sound_creator_counts TO reelrank_reader;

CREATE OR REPLACE VIEW expected_sound_creator_counts AS
SELECT f.sound_id, v.creator_id,
       count(*)::bigint             AS video_count,
       sum(v.views_count)::numeric  AS total_views,
       sum(v.likes_count)::numeric  AS total_likes,
       sum(v.impact_score)::numeric AS total_impact_score
FROM video_sound_facts f
JOIN videos_hot v ON v.video_id = f.video_id
WHERE v.creator_id IS NOT NULL
GROUP BY f.sound_id, v.creator_id;

-- aggregate_drift as sql/0008 defines it (no later migration redefines it), with one more branch: sound_creator_counts
-- after hashtag_creator_counts; same columns, so CREATE OR REPLACE keeps every dependant.
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
