-- View tracking (DESIGN §4): priorities per YouTube video, runs, and the quota ledger.

CREATE TABLE IF NOT EXISTS view_tracking_priority (
    video_id            text PRIMARY KEY REFERENCES videos_hot (video_id) ON DELETE CASCADE,
    tier                smallint NOT NULL CHECK (tier BETWEEN 1 AND 3),  -- 1 daily, 2 every 3 days, 3 weekly
    priority_score      numeric NOT NULL DEFAULT 0,   -- orders videos within what is due (higher first)
    next_due_at         timestamptz NOT NULL DEFAULT now(),
    last_tracked_at     timestamptz,
    consecutive_misses  integer NOT NULL DEFAULT 0 CHECK (consecutive_misses >= 0),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unavailable')),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- view_tracking: "active videos due now, most important first"
CREATE INDEX IF NOT EXISTS view_tracking_due_idx ON view_tracking_priority (next_due_at, priority_score DESC)
    WHERE status = 'active';
-- `reelrank tracking tiers` and the stats route: videos per tier
CREATE INDEX IF NOT EXISTS view_tracking_tier_idx ON view_tracking_priority (tier) WHERE status = 'active';

CREATE TABLE IF NOT EXISTS tracking_jobs (
    job_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    status              text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'stopped', 'failed')),
    requested_limit     integer CHECK (requested_limit > 0),
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    api_calls           integer NOT NULL DEFAULT 0 CHECK (api_calls >= 0),
    videos_tracked      integer NOT NULL DEFAULT 0 CHECK (videos_tracked >= 0),
    videos_missing      integer NOT NULL DEFAULT 0 CHECK (videos_missing >= 0),
    quota_units_used    integer NOT NULL DEFAULT 0 CHECK (quota_units_used >= 0),
    stopped_reason      text,
    errors              jsonb NOT NULL DEFAULT '[]'::jsonb
);
-- GET /admin/view-tracking/stats: the last runs
CREATE INDEX IF NOT EXISTS tracking_jobs_started_idx ON tracking_jobs (started_at DESC);

-- Units spent per YouTube quota day: the America/Los_Angeles calendar day (the quota resets at Pacific midnight,
-- daylight saving included).
CREATE TABLE IF NOT EXISTS api_quota_ledger (
    quota_day       date PRIMARY KEY,
    units_spent     integer NOT NULL DEFAULT 0 CHECK (units_spent >= 0),
    exhausted_at    timestamptz,           -- set when the API answered quotaExceeded: nothing more that day
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION youtube_quota_day(at_ts timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (at_ts AT TIME ZONE 'America/Los_Angeles')::date
$$;
