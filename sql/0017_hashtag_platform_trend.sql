-- Each platform's own trend score of a hashtag, beside hashtags_hot.trend_score (the sum over platforms), for
-- GET /hashtags?platform=…&sort=trending: YouTube's terms forbid blending its figures into another platform's, so a
-- platform's listing shows and sorts by that platform's own trend. Both are written by reconcile
-- (reelrank.db.trends.refresh_trend_scores: the views a hashtag's videos gained in the last 7 days by the metric
-- snapshots); ingest does not touch them.

ALTER TABLE hashtag_platform_totals
    ADD COLUMN IF NOT EXISTS trend_score numeric NOT NULL DEFAULT 0 CHECK (trend_score >= 0);

-- GET /hashtags?platform=…&sort=trending
CREATE INDEX IF NOT EXISTS hashtag_platform_trending_idx
    ON hashtag_platform_totals (platform, trend_score DESC, hashtag DESC);
