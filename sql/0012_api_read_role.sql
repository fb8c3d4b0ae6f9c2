-- The read-only role of the ranking API's read routes (issue 5). Every read route runs in a READ ONLY transaction
-- that does SET LOCAL ROLE reelrank_reader, so a read route can see only the catalogue and can write nothing, even
-- through a bug; the admin routes on the same function keep the login role.
--
-- Locally the login role is the embedded server's superuser, which may SET ROLE to any role. In AWS the API's
-- database user (the RDS Proxy / Secrets Manager user of RankingApiFunction) must be a member:
--     GRANT reelrank_reader TO <api user>;
-- (the migrating user creates the role and, on PostgreSQL 16+, holds ADMIN OPTION on it, so it can grant it).
-- Roles are cluster-wide, so creating one is guarded against another database (or a concurrent migrator) having
-- created it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelrank_reader') THEN
        CREATE ROLE reelrank_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- a concurrent migrator of another database created it first
END $$;

-- a migrating user that is not a superuser needs membership to SET ROLE (a superuser may already)
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT reelrank_reader TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE WARNING 'could not grant reelrank_reader to %: grant it as an administrator', current_user;
END $$;

GRANT USAGE ON SCHEMA public TO reelrank_reader;
-- The catalogue the read routes list and show; not the raw *_cold copies, ingestions, jobs or the quota ledger.
GRANT SELECT ON
    videos_hot, creators_hot, sounds_hot, hashtags_hot, hashtag_platform_totals, hashtag_creator_counts,
    video_hashtag_facts, video_sound_facts, video_creator_mentions, communities, community_platform_totals,
    community_video_memberships, community_creator_memberships, community_hashtag_memberships,
    video_metric_snapshots
TO reelrank_reader;
