-- Fact and membership tables: one index fewer to maintain on every ingest write.
-- Their primary keys led with the entity ((hashtag, video_id), (community_id, video_id)) and a second index on
-- video_id served the write path's per-video lookups. Leading the key with video_id serves those lookups itself,
-- and the entity-first reads (GET /hashtags/{tag}/videos, /communities/{id}/videos, the expected_* views) are served
-- by the (entity, sort key, video_id) indexes, which all lead with the entity. ON CONFLICT (hashtag, video_id)
-- infers the unique index whatever the column order. Measured by `make bench --only ingest` (README).

ALTER TABLE video_hashtag_facts DROP CONSTRAINT video_hashtag_facts_pkey;
ALTER TABLE video_hashtag_facts ADD CONSTRAINT video_hashtag_facts_pkey PRIMARY KEY (video_id, hashtag);
DROP INDEX IF EXISTS video_hashtag_facts_video_idx;

ALTER TABLE community_video_memberships DROP CONSTRAINT community_video_memberships_pkey;
ALTER TABLE community_video_memberships ADD CONSTRAINT community_video_memberships_pkey PRIMARY KEY (video_id, community_id);
DROP INDEX IF EXISTS community_video_memberships_video_idx;
