-- Impact backfill jobs (issue 4, DESIGN §4 impact_backfill): one row per backfill run, checkpointed after every batch
-- so that a run cut off by the Lambda timeout continues, and a run killed outright resumes, where it stopped.

CREATE TABLE IF NOT EXISTS backfill_jobs (
    job_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mode                text NOT NULL CHECK (mode IN ('stale', 'all')),
    -- pending: created, not started; running: an invocation holds it (or was killed holding it);
    -- continuing: stopped cleanly before its time ran out, a continuation is queued; completed / failed: finished
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'running', 'continuing', 'completed', 'failed')),
    -- the weights version the scan scores with; when the active version changes mid-run the scan restarts
    weights_version     integer REFERENCES impact_weights (version),
    phase               text NOT NULL DEFAULT 'videos' CHECK (phase IN ('videos', 'aggregates', 'done')),
    -- checkpoint of the videos phase: the last video_id of the last committed batch (NULL: start of the key space)
    last_video_id       text,
    -- checkpoint of the aggregates phase: how many refresh steps are done
    aggregate_steps_done integer NOT NULL DEFAULT 0 CHECK (aggregate_steps_done >= 0),
    videos_scanned      bigint  NOT NULL DEFAULT 0 CHECK (videos_scanned >= 0),
    videos_updated      bigint  NOT NULL DEFAULT 0 CHECK (videos_updated >= 0),
    batches             integer NOT NULL DEFAULT 0 CHECK (batches >= 0),
    aggregates_updated  bigint  NOT NULL DEFAULT 0 CHECK (aggregates_updated >= 0),
    invocations         integer NOT NULL DEFAULT 0 CHECK (invocations >= 0),
    duration_ms         bigint  NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),  -- working time over all invocations
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);

-- At most one unfinished job: a second POST /admin/backfill while one runs gets the running job back.
CREATE UNIQUE INDEX IF NOT EXISTS backfill_jobs_one_unfinished ON backfill_jobs ((true))
    WHERE status IN ('pending', 'running', 'continuing');
-- GET /admin/jobs (the latest runs first)
CREATE INDEX IF NOT EXISTS backfill_jobs_created_idx ON backfill_jobs (created_at DESC);
