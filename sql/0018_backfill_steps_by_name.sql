-- Backfill jobs checkpoint their aggregate refresh by step name (issue 4). sql/0009 kept a count of steps done, an
-- index into the code's step list: a deploy that adds, removes, merges or reorders steps while a job is between two
-- steps would skip a step it never ran, or run the wrong one. The names of the steps a job has completed are
-- recorded instead; a resumed job runs every step of the current list not named here (every step is idempotent and
-- writes only rows that differ, so running one again is safe, skipping one is not).

ALTER TABLE backfill_jobs
    ADD COLUMN IF NOT EXISTS aggregate_steps_completed text[] NOT NULL DEFAULT '{}';

COMMENT ON COLUMN backfill_jobs.aggregate_steps_done IS
    'how many aggregate refresh steps are done (progress display); resumption uses aggregate_steps_completed';
COMMENT ON COLUMN backfill_jobs.aggregate_steps_completed IS
    'names of the aggregate refresh steps this job has completed (reelrank.db.aggregate_repair.TOTALS_STEPS)';
