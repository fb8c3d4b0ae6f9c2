-- The catalogue (DESIGN §3): creators, sounds, hashtags, videos, their facts and raw "cold" copies.
-- Counts are BIGINT (views exceed 2^31); aggregate totals are NUMERIC so that no sum can overflow.
-- Platform ids are TEXT (TikTok ids exceed 2^53 and float-based tooling mangles them).
-- Each index says which query of the read API (DESIGN §5) it serves; list sorts are keyset-paginated on
-- (sort value, id), so every sort index ends with the key.

-- ---------------------------------------------------------------------------------------------- creators
CREATE TABLE IF NOT EXISTS creators_hot (
    creator_id          text PRIMARY KEY,           -- TikTok: lower-case handle; YouTube: channel id (UC…)
    platform            text NOT NULL CHECK (platform IN ('tiktok', 'youtube')),
    username            text,                       -- the handle; NULL for YouTube
    display_name        text,
    platform_user_id    text,                       -- TikTok numeric user id (stable across handle changes)
    avatar_url          text,
    verified            boolean NOT NULL DEFAULT false,
    followers_count     bigint CHECK (followers_count >= 0),  -- NULL = unknown (hidden or never seen)
    bio                 text,
    videos_count        bigint  NOT NULL DEFAULT 0 CHECK (videos_count >= 0),
    likes_total         numeric NOT NULL DEFAULT 0 CHECK (likes_total >= 0),
    total_play_count    numeric NOT NULL DEFAULT 0 CHECK (total_play_count >= 0),
    total_impact_score  numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0),
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- A lower-case TikTok handle can never equal a YouTube channel id (which starts with upper-case "UC"),
    -- so one text key serves both platforms without collisions.
    CONSTRAINT creators_tiktok_handle_lower CHECK (platform <> 'tiktok' OR creator_id = lower(creator_id)),
    CONSTRAINT creators_youtube_channel_id CHECK (platform <> 'youtube' OR creator_id ~ '^UC[A-Za-z0-9_-]+$')
);
-- GET /creators?sort=views (default): total views desc
CREATE INDEX IF NOT EXISTS creators_views_idx ON creators_hot (total_play_count DESC, creator_id DESC);
-- GET /creators?sort=impact
CREATE INDEX IF NOT EXISTS creators_impact_idx ON creators_hot (total_impact_score DESC, creator_id DESC);
-- GET /creators?sort=likes
CREATE INDEX IF NOT EXISTS creators_likes_idx ON creators_hot (likes_total DESC, creator_id DESC);
-- GET /creators?sort=followers (unknown followers last)
CREATE INDEX IF NOT EXISTS creators_followers_idx ON creators_hot (followers_count DESC NULLS LAST, creator_id DESC);
-- GET /creators?sort=videos
CREATE INDEX IF NOT EXISTS creators_videos_idx ON creators_hot (videos_count DESC, creator_id DESC);
-- GET /creators?sort=alphabetical
CREATE INDEX IF NOT EXISTS creators_alpha_idx ON creators_hot (lower(coalesce(username, display_name, creator_id)), creator_id);
-- GET /creators?platform=…&sort=views|impact: a platform's own figures, index-ordered
CREATE INDEX IF NOT EXISTS creators_platform_views_idx ON creators_hot (platform, total_play_count DESC, creator_id DESC);
CREATE INDEX IF NOT EXISTS creators_platform_impact_idx ON creators_hot (platform, total_impact_score DESC, creator_id DESC);
-- GET /creators?search=…: trigram match on handle and display name
CREATE INDEX IF NOT EXISTS creators_search_trgm ON creators_hot
    USING gin ((coalesce(username, '') || ' ' || coalesce(display_name, '')) gin_trgm_ops);

CREATE TABLE IF NOT EXISTS creators_cold (
    creator_id  text PRIMARY KEY REFERENCES creators_hot (creator_id) ON DELETE CASCADE,
    raw         jsonb NOT NULL,               -- the last full creator object a source gave
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------------------------------------------------ sounds
CREATE TABLE IF NOT EXISTS sounds_hot (
    sound_id            text PRIMARY KEY CHECK (sound_id <> '' AND sound_id <> '0'),  -- "0"/"" mean "no sound"
    sound_title         text,
    sound_author        text,
    original            boolean,
    cover_url           text,
    play_url            text,
    videos_count        bigint  NOT NULL DEFAULT 0 CHECK (videos_count >= 0),
    views_total         numeric NOT NULL DEFAULT 0 CHECK (views_total >= 0),
    likes_total         numeric NOT NULL DEFAULT 0 CHECK (likes_total >= 0),
    total_impact_score  numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0),
    last_used_at        timestamptz,          -- newest posting time among its videos
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- GET /sounds?sort=views (default)
CREATE INDEX IF NOT EXISTS sounds_views_idx ON sounds_hot (views_total DESC, sound_id DESC);
-- GET /sounds?sort=impact
CREATE INDEX IF NOT EXISTS sounds_impact_idx ON sounds_hot (total_impact_score DESC, sound_id DESC);
-- GET /sounds?sort=likes
CREATE INDEX IF NOT EXISTS sounds_likes_idx ON sounds_hot (likes_total DESC, sound_id DESC);
-- GET /sounds?sort=videos
CREATE INDEX IF NOT EXISTS sounds_videos_idx ON sounds_hot (videos_count DESC, sound_id DESC);
-- GET /sounds?sort=recent
CREATE INDEX IF NOT EXISTS sounds_recent_idx ON sounds_hot (last_used_at DESC NULLS LAST, sound_id DESC);
-- GET /sounds?sort=alphabetical
CREATE INDEX IF NOT EXISTS sounds_alpha_idx ON sounds_hot (lower(coalesce(sound_title, '')), sound_id);
-- GET /sounds?search=…: trigram match on title and author
CREATE INDEX IF NOT EXISTS sounds_search_trgm ON sounds_hot
    USING gin ((coalesce(sound_title, '') || ' ' || coalesce(sound_author, '')) gin_trgm_ops);

CREATE TABLE IF NOT EXISTS sounds_cold (
    sound_id    text PRIMARY KEY REFERENCES sounds_hot (sound_id) ON DELETE CASCADE,
    raw         jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------- hashtags
CREATE TABLE IF NOT EXISTS hashtags_hot (
    -- normalised form: NFKC, casefolded, no leading '#'. `café` and `cafe` are distinct hashtags.
    hashtag             text PRIMARY KEY CHECK (hashtag <> '' AND left(hashtag, 1) <> '#' AND hashtag = lower(hashtag)),
    display_name        text NOT NULL,        -- the first display form seen (e.g. CarEdit)
    videos_count        bigint  NOT NULL DEFAULT 0 CHECK (videos_count >= 0),
    creators_count      bigint  NOT NULL DEFAULT 0 CHECK (creators_count >= 0),
    views_total         numeric NOT NULL DEFAULT 0 CHECK (views_total >= 0),
    likes_total         numeric NOT NULL DEFAULT 0 CHECK (likes_total >= 0),
    total_impact_score  numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0),
    trend_score         numeric NOT NULL DEFAULT 0,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- GET /hashtags?sort=views (default)
CREATE INDEX IF NOT EXISTS hashtags_views_idx ON hashtags_hot (views_total DESC, hashtag DESC);
-- GET /hashtags?sort=impact
CREATE INDEX IF NOT EXISTS hashtags_impact_idx ON hashtags_hot (total_impact_score DESC, hashtag DESC);
-- GET /hashtags?sort=likes
CREATE INDEX IF NOT EXISTS hashtags_likes_idx ON hashtags_hot (likes_total DESC, hashtag DESC);
-- GET /hashtags?sort=videos
CREATE INDEX IF NOT EXISTS hashtags_videos_idx ON hashtags_hot (videos_count DESC, hashtag DESC);
-- GET /hashtags?sort=creators
CREATE INDEX IF NOT EXISTS hashtags_creators_idx ON hashtags_hot (creators_count DESC, hashtag DESC);
-- GET /hashtags?sort=trending
CREATE INDEX IF NOT EXISTS hashtags_trending_idx ON hashtags_hot (trend_score DESC, hashtag DESC);
-- GET /hashtags?sort=recent
CREATE INDEX IF NOT EXISTS hashtags_recent_idx ON hashtags_hot (last_seen_at DESC, hashtag DESC);
-- GET /hashtags?search=… (sort=alphabetical is served by the primary key)
CREATE INDEX IF NOT EXISTS hashtags_search_trgm ON hashtags_hot USING gin (hashtag gin_trgm_ops);

-- Each platform's own totals of a hashtag: YouTube's terms forbid blending its figures with other platforms',
-- so GET /hashtags?platform=… reads these rows, never the blended ones.
CREATE TABLE IF NOT EXISTS hashtag_platform_totals (
    hashtag             text NOT NULL REFERENCES hashtags_hot (hashtag) ON DELETE CASCADE,
    platform            text NOT NULL CHECK (platform IN ('tiktok', 'youtube')),
    videos_count        bigint  NOT NULL DEFAULT 0 CHECK (videos_count >= 0),
    creators_count      bigint  NOT NULL DEFAULT 0 CHECK (creators_count >= 0),
    views_total         numeric NOT NULL DEFAULT 0 CHECK (views_total >= 0),
    likes_total         numeric NOT NULL DEFAULT 0 CHECK (likes_total >= 0),
    total_impact_score  numeric NOT NULL DEFAULT 0 CHECK (total_impact_score >= 0),
    PRIMARY KEY (hashtag, platform)
);
-- GET /hashtags?platform=…&sort=views|impact
CREATE INDEX IF NOT EXISTS hashtag_platform_views_idx ON hashtag_platform_totals (platform, views_total DESC, hashtag DESC);
CREATE INDEX IF NOT EXISTS hashtag_platform_impact_idx ON hashtag_platform_totals (platform, total_impact_score DESC, hashtag DESC);

-- (hashtag, creator) -> number of the creator's videos carrying it: makes creators_count incremental (it changes
-- only when a pair's count crosses zero) and its reconciliation a cheap grouped count (PERF_NOTES "Aggregates").
CREATE TABLE IF NOT EXISTS hashtag_creator_counts (
    hashtag     text NOT NULL REFERENCES hashtags_hot (hashtag) ON DELETE CASCADE,
    creator_id  text NOT NULL REFERENCES creators_hot (creator_id) ON DELETE CASCADE,
    video_count bigint NOT NULL CHECK (video_count > 0),
    PRIMARY KEY (hashtag, creator_id)
);
-- GET /hashtags/{tag}/creators is served by the primary key; this one serves "hashtags of a creator" and cleanup
CREATE INDEX IF NOT EXISTS hashtag_creator_counts_creator_idx ON hashtag_creator_counts (creator_id);

CREATE TABLE IF NOT EXISTS hashtags_cold (
    hashtag        text PRIMARY KEY REFERENCES hashtags_hot (hashtag) ON DELETE CASCADE,
    display_forms  text[] NOT NULL DEFAULT '{}',  -- every spelling seen (#CarEdit, #caredit, …)
    raw            jsonb,                          -- source hashtag objects (Apify search mode: id, title, cover)
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------------------------------------------------ videos
CREATE TABLE IF NOT EXISTS videos_hot (
    video_id            text PRIMARY KEY,
    platform            text NOT NULL CHECK (platform IN ('tiktok', 'youtube')),
    url                 text,
    caption             text,
    thumbnail_url       text,          -- TikTok CDN URLs are signed and expire: a "last seen" value, never identity
    duration_seconds    integer CHECK (duration_seconds >= 0),
    created_at          timestamptz,   -- when the video was posted
    creator_id          text REFERENCES creators_hot (creator_id),
    views_count         bigint NOT NULL DEFAULT 0 CHECK (views_count >= 0),
    likes_count         bigint NOT NULL DEFAULT 0 CHECK (likes_count >= 0),
    comments_count      bigint NOT NULL DEFAULT 0 CHECK (comments_count >= 0),
    shares_count        bigint NOT NULL DEFAULT 0 CHECK (shares_count >= 0),
    collect_count       bigint NOT NULL DEFAULT 0 CHECK (collect_count >= 0),   -- saves
    -- set by the videos_hot_score_impact trigger on insert and on every change of a count
    impact_score        numeric(24, 2) NOT NULL DEFAULT 0,   -- never negative: counts and weights are not
    impact_version      integer NOT NULL REFERENCES impact_weights (version),
    impact_updated_at   timestamptz NOT NULL DEFAULT now(),
    metrics_observed_at timestamptz,   -- observation time of the current counts: older snapshots never overwrite them
    source              text,          -- the snapshot source that last wrote the counts
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- TikTok ids are all digits and YouTube ids are 11 characters of [A-Za-z0-9_-] (TikTok ids have 19 digits), so
    -- the two id spaces cannot collide and video_id alone is the key; the checks keep it that way.
    CONSTRAINT videos_tiktok_id CHECK (platform <> 'tiktok' OR video_id ~ '^[0-9]{12,}$'),
    CONSTRAINT videos_youtube_id CHECK (platform <> 'youtube' OR video_id ~ '^[A-Za-z0-9_-]{11}$')
);
-- GET /videos?sort=views (default everywhere)
CREATE INDEX IF NOT EXISTS videos_views_idx ON videos_hot (views_count DESC, video_id DESC);
-- GET /videos?sort=impact
CREATE INDEX IF NOT EXISTS videos_impact_idx ON videos_hot (impact_score DESC, video_id DESC);
-- GET /videos?sort=likes
CREATE INDEX IF NOT EXISTS videos_likes_idx ON videos_hot (likes_count DESC, video_id DESC);
-- GET /videos?sort=recent, and time_range filters (created_at >= now() - interval)
CREATE INDEX IF NOT EXISTS videos_recent_idx ON videos_hot (created_at DESC NULLS LAST, video_id DESC);
-- GET /videos?platform=…&sort=views|impact (a platform filter with an index-ordered scan)
CREATE INDEX IF NOT EXISTS videos_platform_views_idx ON videos_hot (platform, views_count DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS videos_platform_impact_idx ON videos_hot (platform, impact_score DESC, video_id DESC);
-- GET /creators/{id} (its videos) sorted by views, impact, recent; also the creator aggregate recomputation
CREATE INDEX IF NOT EXISTS videos_creator_views_idx ON videos_hot (creator_id, views_count DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS videos_creator_impact_idx ON videos_hot (creator_id, impact_score DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS videos_creator_recent_idx ON videos_hot (creator_id, created_at DESC NULLS LAST, video_id DESC);
-- GET /videos?search=…: trigram match on the caption (ILIKE with %/_ escaped)
CREATE INDEX IF NOT EXISTS videos_caption_trgm ON videos_hot USING gin (caption gin_trgm_ops);
-- reconcile/backfill: how many rows are still on an old weights version
CREATE INDEX IF NOT EXISTS videos_impact_version_idx ON videos_hot (impact_version);

CREATE TABLE IF NOT EXISTS videos_cold (
    video_id    text PRIMARY KEY REFERENCES videos_hot (video_id) ON DELETE CASCADE,
    source      text NOT NULL,
    raw         jsonb NOT NULL,            -- the full raw record as the source delivered it
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Impact is kept current by the database itself: on insert, and whenever a count changes, the row is scored with
-- the active weights version and records that version (reelrank.scoring is the Python twin).
CREATE OR REPLACE FUNCTION videos_hot_score_impact() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    w impact_weights%ROWTYPE;
BEGIN
    SELECT * INTO STRICT w FROM impact_weights WHERE active;
    NEW.impact_score := impact_formula(NEW.views_count, NEW.likes_count, NEW.comments_count, NEW.shares_count,
                                       NEW.collect_count, w.w_views, w.w_likes, w.w_comments, w.w_shares, w.w_saves);
    NEW.impact_version := w.version;
    NEW.impact_updated_at := now();
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS videos_hot_score_on_insert ON videos_hot;
CREATE TRIGGER videos_hot_score_on_insert
    BEFORE INSERT ON videos_hot
    FOR EACH ROW EXECUTE FUNCTION videos_hot_score_impact();

DROP TRIGGER IF EXISTS videos_hot_score_on_update ON videos_hot;
CREATE TRIGGER videos_hot_score_on_update
    BEFORE UPDATE OF views_count, likes_count, comments_count, shares_count, collect_count ON videos_hot
    FOR EACH ROW
    WHEN (OLD.views_count IS DISTINCT FROM NEW.views_count
       OR OLD.likes_count IS DISTINCT FROM NEW.likes_count
       OR OLD.comments_count IS DISTINCT FROM NEW.comments_count
       OR OLD.shares_count IS DISTINCT FROM NEW.shares_count
       OR OLD.collect_count IS DISTINCT FROM NEW.collect_count)
    EXECUTE FUNCTION videos_hot_score_impact();

-- ------------------------------------------------------------------------------------------------- facts
-- The facts carry copies of their video's sort keys (views, likes, impact, posted time, platform, creator) so that
-- the nested lists (a hashtag's / sound's videos by views or impact) are index-ordered scans, not a join and a sort
-- over a quarter-million rows for the largest hashtag. The ingest write path keeps them equal to videos_hot, and
-- reconcile repairs any drift.
CREATE TABLE IF NOT EXISTS video_hashtag_facts (
    hashtag         text NOT NULL REFERENCES hashtags_hot (hashtag) ON DELETE CASCADE,
    video_id        text NOT NULL REFERENCES videos_hot (video_id) ON DELETE CASCADE,
    platform        text NOT NULL CHECK (platform IN ('tiktok', 'youtube')),
    creator_id      text,
    views_count     bigint NOT NULL DEFAULT 0,
    likes_count     bigint NOT NULL DEFAULT 0,
    impact_score    numeric(24, 2) NOT NULL DEFAULT 0,
    created_at      timestamptz,
    PRIMARY KEY (hashtag, video_id)
);
-- a video's hashtags (detail route, re-ingest diffs)
CREATE INDEX IF NOT EXISTS video_hashtag_facts_video_idx ON video_hashtag_facts (video_id);
-- GET /hashtags/{tag}/videos?sort=views|impact|recent
CREATE INDEX IF NOT EXISTS video_hashtag_facts_views_idx ON video_hashtag_facts (hashtag, views_count DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS video_hashtag_facts_impact_idx ON video_hashtag_facts (hashtag, impact_score DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS video_hashtag_facts_recent_idx ON video_hashtag_facts (hashtag, created_at DESC NULLS LAST, video_id DESC);

CREATE TABLE IF NOT EXISTS video_sound_facts (
    video_id        text PRIMARY KEY REFERENCES videos_hot (video_id) ON DELETE CASCADE,  -- one sound per video
    sound_id        text NOT NULL REFERENCES sounds_hot (sound_id) ON DELETE CASCADE,
    creator_id      text,
    views_count     bigint NOT NULL DEFAULT 0,
    likes_count     bigint NOT NULL DEFAULT 0,
    impact_score    numeric(24, 2) NOT NULL DEFAULT 0,
    created_at      timestamptz
);
-- GET /sounds/{id}/videos?sort=views|impact|recent, /sounds/{id}/creators, and sound aggregates
CREATE INDEX IF NOT EXISTS video_sound_facts_views_idx ON video_sound_facts (sound_id, views_count DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS video_sound_facts_impact_idx ON video_sound_facts (sound_id, impact_score DESC, video_id DESC);
CREATE INDEX IF NOT EXISTS video_sound_facts_recent_idx ON video_sound_facts (sound_id, created_at DESC NULLS LAST, video_id DESC);

CREATE TABLE IF NOT EXISTS video_creator_mentions (
    video_id    text NOT NULL REFERENCES videos_hot (video_id) ON DELETE CASCADE,
    handle      text NOT NULL CHECK (handle <> '' AND handle = lower(handle)),  -- mentioned handle, no '@'
    PRIMARY KEY (video_id, handle)
);
-- "videos mentioning @handle"
CREATE INDEX IF NOT EXISTS video_creator_mentions_handle_idx ON video_creator_mentions (handle);
