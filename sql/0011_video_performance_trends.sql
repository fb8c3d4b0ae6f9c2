-- Derived history (issue 6): views one day, one week and one month after posting, each from the snapshot nearest
-- that age, and the growth rates between them. A materialized view refreshed by the reconcile function (which
-- refreshes every view in pg_matviews CONCURRENTLY: hence the unique index).
--
-- "Nearest" is bounded: a snapshot counts for an age only if it was taken within half that age of it (day 1: 12-36
-- hours after posting; week 1: 3.5-10.5 days; month 1: 15-45 days), so a young video has no month-1 figure instead of
-- a misleading one. Each probe is two index scans on the snapshots' (video_id, observed_at) key.

CREATE OR REPLACE FUNCTION snapshot_nearest(p_video_id text, target timestamptz, tolerance interval,
                                            OUT observed_at timestamptz, OUT views_count bigint)
-- REFRESH MATERIALIZED VIEW runs with a restricted search_path (PostgreSQL 17+): keep the one it was created with
LANGUAGE sql STABLE PARALLEL SAFE SET search_path FROM CURRENT AS $$
    SELECT c.observed_at, c.views_count FROM (
        (SELECT s.observed_at, s.views_count FROM video_metric_snapshots s
         WHERE s.video_id = p_video_id AND s.observed_at <= target AND s.observed_at >= target - tolerance
               AND s.views_count IS NOT NULL
         ORDER BY s.observed_at DESC LIMIT 1)
        UNION ALL
        (SELECT s.observed_at, s.views_count FROM video_metric_snapshots s
         WHERE s.video_id = p_video_id AND s.observed_at > target AND s.observed_at <= target + tolerance
               AND s.views_count IS NOT NULL
         ORDER BY s.observed_at LIMIT 1)
    ) c
    ORDER BY abs(extract(epoch FROM c.observed_at - target)), c.observed_at
    LIMIT 1
$$;

DROP MATERIALIZED VIEW IF EXISTS video_performance_trends;
CREATE MATERIALIZED VIEW video_performance_trends AS
WITH probes AS (
    SELECT v.video_id, v.platform, v.created_at,
           d1.observed_at AS day_1_observed_at, d1.views_count AS views_day_1,
           w1.observed_at AS week_1_observed_at, w1.views_count AS views_week_1,
           m1.observed_at AS month_1_observed_at, m1.views_count AS views_month_1
    FROM videos_hot v
    CROSS JOIN LATERAL snapshot_nearest(v.video_id, v.created_at + interval '1 day', interval '12 hours') d1
    CROSS JOIN LATERAL snapshot_nearest(v.video_id, v.created_at + interval '7 days', interval '84 hours') w1
    CROSS JOIN LATERAL snapshot_nearest(v.video_id, v.created_at + interval '30 days', interval '15 days') m1
    WHERE v.created_at IS NOT NULL
      AND EXISTS (SELECT 1 FROM video_metric_snapshots s WHERE s.video_id = v.video_id)
)
SELECT p.*,
       -- views per day between the two observations (NULL when either is missing)
       round((p.views_week_1 - p.views_day_1)
             / nullif(extract(epoch FROM p.week_1_observed_at - p.day_1_observed_at) / 86400, 0), 2)
           AS growth_day_1_to_week_1,
       round((p.views_month_1 - p.views_week_1)
             / nullif(extract(epoch FROM p.month_1_observed_at - p.week_1_observed_at) / 86400, 0), 2)
           AS growth_week_1_to_month_1,
       -- how many times its day-1 views the video had after a week
       round(p.views_week_1::numeric / nullif(p.views_day_1, 0), 4) AS week_1_multiple,
       round(p.views_month_1::numeric / nullif(p.views_week_1, 0), 4) AS month_1_multiple
FROM probes p
WHERE p.views_day_1 IS NOT NULL OR p.views_week_1 IS NOT NULL OR p.views_month_1 IS NOT NULL;

-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index; also GET /videos/{id} trends by id
CREATE UNIQUE INDEX IF NOT EXISTS video_performance_trends_video_idx ON video_performance_trends (video_id);
