-- Indexes for the ranking API's lists that sql/0003 does not cover (issue 5). Each list sort must be an index scan
-- in its own order so that keyset pagination costs the same at any depth (tests/integration/test_api_plans.py).

-- GET /hashtags/{tag}/creators?sort=videos: the creators with the most videos carrying the tag
CREATE INDEX IF NOT EXISTS hashtag_creator_counts_videos_idx
    ON hashtag_creator_counts (hashtag, video_count DESC, creator_id DESC);

-- GET /hashtags?platform=…&sort=likes|videos|creators: a platform's own totals (views and impact are in sql/0003)
CREATE INDEX IF NOT EXISTS hashtag_platform_likes_idx
    ON hashtag_platform_totals (platform, likes_total DESC, hashtag DESC);
CREATE INDEX IF NOT EXISTS hashtag_platform_videos_idx
    ON hashtag_platform_totals (platform, videos_count DESC, hashtag DESC);
CREATE INDEX IF NOT EXISTS hashtag_platform_creators_idx
    ON hashtag_platform_totals (platform, creators_count DESC, hashtag DESC);
