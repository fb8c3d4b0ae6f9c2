-- Impact Score (DESIGN §2): versioned weights, exactly one active, and the SQL twin of reelrank.scoring.

CREATE TABLE IF NOT EXISTS impact_weights (
    version      integer PRIMARY KEY CHECK (version > 0),
    w_views      numeric(20, 10) NOT NULL CHECK (w_views >= 0),
    w_likes      numeric(20, 10) NOT NULL CHECK (w_likes >= 0),
    w_comments   numeric(20, 10) NOT NULL CHECK (w_comments >= 0),
    w_shares     numeric(20, 10) NOT NULL CHECK (w_shares >= 0),
    w_saves      numeric(20, 10) NOT NULL CHECK (w_saves >= 0),
    active       boolean NOT NULL DEFAULT false,
    note         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz
);

-- At most one active version: a partial unique index on the constant `true`.
CREATE UNIQUE INDEX IF NOT EXISTS impact_weights_one_active ON impact_weights (active) WHERE active;

-- At least one active version, checked at commit so that switching versions inside one transaction works.
CREATE OR REPLACE FUNCTION impact_weights_require_active() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM impact_weights WHERE active) THEN
        RAISE EXCEPTION 'impact_weights must have exactly one active version (none is active)'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS impact_weights_require_active ON impact_weights;
CREATE CONSTRAINT TRIGGER impact_weights_require_active
    AFTER INSERT OR UPDATE OR DELETE ON impact_weights
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION impact_weights_require_active();

INSERT INTO impact_weights (version, w_views, w_likes, w_comments, w_shares, w_saves, active, note, activated_at)
VALUES (1, 0.00001, 0.001, 100, 0.1, 0.1, true, 'launch weights: 100·comments + 0.1·shares + 0.001·likes + views/100000 + 0.1·saves', now())
ON CONFLICT (version) DO NOTHING;

-- The formula with explicit weights. NULL counts count as 0; numeric round() rounds half away from zero, which is
-- half-up for the non-negative values here. Exact numeric arithmetic: counts above 2^31 (and 2^53) stay exact.
CREATE OR REPLACE FUNCTION impact_formula(
    views bigint, likes bigint, comments bigint, shares bigint, saves bigint,
    w_views numeric, w_likes numeric, w_comments numeric, w_shares numeric, w_saves numeric
) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(
          w_comments * coalesce(comments, 0)::numeric
        + w_shares   * coalesce(shares, 0)::numeric
        + w_likes    * coalesce(likes, 0)::numeric
        + w_views    * coalesce(views, 0)::numeric
        + w_saves    * coalesce(saves, 0)::numeric, 2)
$$;

-- compute_impact(views, likes, comments, shares, saves) with the active weights version.
CREATE OR REPLACE FUNCTION compute_impact(views bigint, likes bigint, comments bigint, shares bigint, saves bigint)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT impact_formula(views, likes, comments, shares, saves, w.w_views, w.w_likes, w.w_comments, w.w_shares, w.w_saves)
    FROM impact_weights w WHERE w.active
$$;

-- compute_impact with a given weights version (backfill and reconcile use the active one explicitly).
CREATE OR REPLACE FUNCTION compute_impact_version(
    weights_version integer, views bigint, likes bigint, comments bigint, shares bigint, saves bigint
) RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT impact_formula(views, likes, comments, shares, saves, w.w_views, w.w_likes, w.w_comments, w.w_shares, w.w_saves)
    FROM impact_weights w WHERE w.version = weights_version
$$;

CREATE OR REPLACE FUNCTION active_impact_version() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT version FROM impact_weights WHERE active
$$;
