-- View tracking schedule (issue 6, DESIGN §4): tiers, priority scores and due times as SQL functions, so the
-- tracking run, the tier refresh and the priority rows of newly ingested videos all use one definition.
--
-- Tiers: 1 = posted < 30 days ago or a top performer by recent velocity (tracked daily), 2 = posted 30-180 days ago
-- (every 3 days), 3 = older (weekly). A video is due on the Pacific quota day its interval ends (due at that day's
-- midnight America/Los_Angeles), so the daily run at 00:15 Pacific picks up everything tracked one interval earlier
-- whatever the time of day it was tracked.

ALTER TABLE view_tracking_priority
    ADD COLUMN IF NOT EXISTS velocity        numeric,   -- views/hour between the video's last two observations
    ADD COLUMN IF NOT EXISTS likes_hidden    boolean NOT NULL DEFAULT false,   -- likeCount absent: last value kept
    ADD COLUMN IF NOT EXISTS comments_hidden boolean NOT NULL DEFAULT false;   -- commentCount absent: last value kept

-- GET /admin/view-tracking/stats (fastest-growing videos) and the top-performer threshold of the tier refresh
CREATE INDEX IF NOT EXISTS view_tracking_velocity_idx ON view_tracking_priority (velocity DESC NULLS LAST, video_id)
    WHERE status = 'active';

-- A run requested through POST /admin/view-tracking/run is 'queued' until the function picks it up; `trigger` says
-- who started it (schedule | api | invoke | cli).
ALTER TABLE tracking_jobs DROP CONSTRAINT IF EXISTS tracking_jobs_status_check;
ALTER TABLE tracking_jobs ADD CONSTRAINT tracking_jobs_status_check
    CHECK (status IN ('queued', 'running', 'completed', 'stopped', 'failed'));
ALTER TABLE tracking_jobs
    ADD COLUMN IF NOT EXISTS trigger             text NOT NULL DEFAULT 'invoke',
    ADD COLUMN IF NOT EXISTS videos_due          integer NOT NULL DEFAULT 0 CHECK (videos_due >= 0),
    ADD COLUMN IF NOT EXISTS videos_unavailable  integer NOT NULL DEFAULT 0 CHECK (videos_unavailable >= 0);

CREATE OR REPLACE FUNCTION tracking_tier(posted_at timestamptz, top_performer boolean, at_ts timestamptz)
RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE
        WHEN top_performer THEN 1
        WHEN posted_at IS NULL THEN 3        -- unknown age: the cheapest schedule until a source says
        WHEN posted_at > at_ts - interval '30 days' THEN 1
        WHEN posted_at > at_ts - interval '180 days' THEN 2
        ELSE 3
    END)::smallint
$$;

CREATE OR REPLACE FUNCTION tracking_interval_days(tier smallint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE tier WHEN 1 THEN 1 WHEN 2 THEN 3 ELSE 7 END
$$;

-- The Pacific midnight that starts the quota day `tier`'s interval after the one `tracked_at` falls on.
CREATE OR REPLACE FUNCTION tracking_next_due(tracked_at timestamptz, tier smallint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((youtube_quota_day(tracked_at) + tracking_interval_days(tier))::timestamp)
           AT TIME ZONE 'America/Los_Angeles'
$$;

-- Orders what is due (higher first): the tier first, then velocity on a log scale within the tier.
CREATE OR REPLACE FUNCTION tracking_priority_score(tier smallint, velocity numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (3 - tier) * 100000 + round(ln(1 + greatest(coalesce(velocity, 0), 0))::numeric * 1000, 3)
$$;

-- The Pacific midnight that started the quota day `at_ts` falls on.
CREATE OR REPLACE FUNCTION tracking_quota_day_start(at_ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (youtube_quota_day(at_ts)::timestamp) AT TIME ZONE 'America/Los_Angeles'
$$;

-- Every YouTube video gets a priority row when it is first stored (by any ingest), due on the current quota day: its
-- first tracked observation confirms the id and starts its time series. Set-based: one statement per INSERT.
CREATE OR REPLACE FUNCTION videos_hot_enrol_for_tracking() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO view_tracking_priority (video_id, tier, priority_score, next_due_at)
    SELECT n.video_id, tracking_tier(n.created_at, false, now()),
           tracking_priority_score(tracking_tier(n.created_at, false, now()), NULL), tracking_quota_day_start(now())
    FROM new_rows n
    WHERE n.platform = 'youtube'
    ORDER BY n.video_id
    ON CONFLICT (video_id) DO NOTHING;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS videos_hot_enrol_for_tracking ON videos_hot;
CREATE TRIGGER videos_hot_enrol_for_tracking
    AFTER INSERT ON videos_hot REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION videos_hot_enrol_for_tracking();

-- YouTube videos stored before this migration.
INSERT INTO view_tracking_priority (video_id, tier, priority_score, next_due_at)
SELECT v.video_id, tracking_tier(v.created_at, false, now()),
       tracking_priority_score(tracking_tier(v.created_at, false, now()), NULL), tracking_quota_day_start(now())
FROM videos_hot v
WHERE v.platform = 'youtube'
ON CONFLICT (video_id) DO NOTHING;
