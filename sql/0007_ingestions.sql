-- One row per snapshot ingestion, and the records it rejected (DESIGN §3, §4).

CREATE TABLE IF NOT EXISTS ingestions (
    ingestion_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text,                  -- brightdata | apify | youtube | tiktok_research
    snapshot_id     text,                  -- the provider's snapshot id when the event gives one
    content_hash    text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),  -- sha256 of the decompressed bytes
    trigger         text,                  -- s3 | api | invoke
    object_bucket   text,
    object_key      text,
    object_etag     text,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    received        integer NOT NULL DEFAULT 0 CHECK (received >= 0),
    accepted        integer NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    rejected        integer NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    new_videos      integer NOT NULL DEFAULT 0 CHECK (new_videos >= 0),
    updated_videos  integer NOT NULL DEFAULT 0 CHECK (updated_videos >= 0),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    duration_ms     integer CHECK (duration_ms >= 0),
    error           text
);
-- Re-delivering the same snapshot is a no-op: one live (running or completed) ingestion per content hash.
-- A failed one does not block a retry.
CREATE UNIQUE INDEX IF NOT EXISTS ingestions_content_hash_live ON ingestions (content_hash) WHERE status <> 'failed';
-- GET /admin/ingestions (newest first)
CREATE INDEX IF NOT EXISTS ingestions_started_idx ON ingestions (started_at DESC);

CREATE TABLE IF NOT EXISTS rejected_videos (
    rejection_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ingestion_id    bigint NOT NULL REFERENCES ingestions (ingestion_id) ON DELETE CASCADE,
    record_index    integer NOT NULL CHECK (record_index >= 0),  -- position in the snapshot file
    video_id        text,                   -- when the record had one
    reason          text NOT NULL CHECK (reason <> ''),  -- names the field that was wrong
    raw             jsonb,                  -- the record exactly as received
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- GET /admin/ingestions/{id}: its rejections
CREATE INDEX IF NOT EXISTS rejected_videos_ingestion_idx ON rejected_videos (ingestion_id, record_index);
-- `reelrank audit VIDEO_ID`: has this video ever been rejected
CREATE INDEX IF NOT EXISTS rejected_videos_video_idx ON rejected_videos (video_id) WHERE video_id IS NOT NULL;
