-- One time series of observed metrics per video, fed by ingestion and by view tracking (DESIGN §3).
-- Partitioned by month on observed_at so retention drops whole partitions instead of deleting rows.

CREATE TABLE IF NOT EXISTS video_metric_snapshots (
    video_id        text NOT NULL REFERENCES videos_hot (video_id) ON DELETE CASCADE,
    observed_at     timestamptz NOT NULL,
    -- NULL = the source did not report this count (e.g. hidden YouTube likes): a gap, not a zero
    views_count     bigint CHECK (views_count >= 0),
    likes_count     bigint CHECK (likes_count >= 0),
    comments_count  bigint CHECK (comments_count >= 0),
    shares_count    bigint CHECK (shares_count >= 0),
    collect_count   bigint CHECK (collect_count >= 0),
    source          text NOT NULL,         -- brightdata | apify | youtube | tiktok_research | view_tracking
    ingestion_id    bigint,                -- the ingestion that wrote it (NULL for view tracking)
    tracking_job_id bigint,                -- the tracking run that wrote it (NULL for ingestion)
    PRIMARY KEY (video_id, observed_at)    -- GET /videos/{id}/history: one video's series in time order
) PARTITION BY RANGE (observed_at);

-- Creates the monthly partitions covering [from_ts, to_ts]; returns how many it created. Idempotent.
CREATE OR REPLACE FUNCTION ensure_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month_start date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    last_month  date := date_trunc('month', to_ts AT TIME ZONE 'UTC')::date;
    part_name   text;
    created     integer := 0;
BEGIN
    IF from_ts IS NULL OR to_ts IS NULL OR to_ts < from_ts THEN
        RAISE EXCEPTION 'ensure_snapshot_partitions: bad range % .. %', from_ts, to_ts;
    END IF;
    WHILE month_start <= last_month LOOP
        part_name := format('video_metric_snapshots_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF video_metric_snapshots FOR VALUES FROM (%L) TO (%L)',
                part_name,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        month_start := (month_start + interval '1 month')::date;
    END LOOP;
    RETURN created;
END $$;

-- Drops the monthly partitions that end at or before cutoff (retention); returns the dropped partitions' names.
CREATE OR REPLACE FUNCTION drop_snapshot_partitions_before(cutoff timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'video_metric_snapshots'::regclass
        ORDER BY c.relname
    LOOP
        -- bound reads: FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2025-02-01 00:00:00+00')
        IF substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz <= cutoff THEN
            EXECUTE format('DROP TABLE %I', part.relname);
            RETURN NEXT part.relname;
        END IF;
    END LOOP;
END $$;

-- The year behind us (scrapers deliver late observations) and three months ahead.
SELECT ensure_snapshot_partitions(now() - interval '12 months', now() + interval '3 months');
