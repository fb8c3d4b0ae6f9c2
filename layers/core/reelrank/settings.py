"""Typed configuration, parsed from the environment once, lazily (never at import time).

Settings are pydantic models composed by inheritance (STYLE habit 4); each function's entry point asks for the one it
needs through a cached getter. ``services/`` and ``db/`` never read ``os.environ``: they are handed settings.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class ObservabilitySettings(BaseModel):
    """Powertools configuration (read by Powertools itself; modelled here so a typo fails loudly)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    service_name: str = Field(default="reelrank", alias="POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = Field(default="Reelrank", alias="POWERTOOLS_METRICS_NAMESPACE")
    log_level: str = Field(default="INFO", alias="POWERTOOLS_LOG_LEVEL")


class DatabaseSettings(ObservabilitySettings):
    """Where the database is: ``DATABASE_URL`` locally, a Secrets Manager secret in AWS."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    db_secret_arn: str | None = Field(default=None, alias="DB_SECRET_ARN")
    # connect here instead of the secret's host (the RDS Proxy endpoint in AWS); empty or unset: the secret's host
    db_host: str | None = Field(default=None, alias="DB_HOST")
    # how long a fetched secret is cached by Powertools Parameters (rotation picks up within this window)
    db_secret_max_age_seconds: int = Field(default=300, ge=0, alias="DB_SECRET_MAX_AGE_SECONDS")
    # statement_timeout for every session; a stuck query fails instead of eating the Lambda's whole timeout
    db_statement_timeout_ms: int = Field(default=60_000, ge=0, alias="DB_STATEMENT_TIMEOUT_MS")
    db_application_name: str = Field(default="reelrank", alias="DB_APPLICATION_NAME")


@lru_cache(maxsize=1)
def get_database_settings() -> DatabaseSettings:
    """The database settings of this process, parsed from the environment on first use."""
    return DatabaseSettings.model_validate(dict(os.environ))


# Writer connections of a snapshot when a second can be opened: one per core of the database machine measured
DEFAULT_INGEST_WRITERS = 2


class IngestSettings(DatabaseSettings):
    """IngestFunction: how many connections write a snapshot at once (reelrank.services.ingest._write_streams)."""

    # one stream per core the database can give the snapshot; 1 writes every chunk on the function's one connection
    ingest_writers: int = Field(default=DEFAULT_INGEST_WRITERS, ge=1, le=8, alias="INGEST_WRITERS")


@lru_cache(maxsize=1)
def get_ingest_settings() -> IngestSettings:
    """IngestFunction's settings, parsed from the environment on first use."""
    return IngestSettings.model_validate(dict(os.environ))


class RepairStepSettings(DatabaseSettings):
    """The repair steps' settings (reelrank.db.aggregate_repair), shared by the backfill's aggregate refresh and
    reconcile."""

    # work_mem of each repair step's transaction (database memory, per hash)
    repair_work_mem_mb: int = Field(default=1024, ge=4, le=4096, alias="REPAIR_WORK_MEM_MB")
    # statement_timeout of each repair step's transaction, instead of the session's DB_STATEMENT_TIMEOUT_MS: after a
    # weights change at a million videos the hashtag step rewrites 1.6M rows in one statement (the step: 62.6 s)
    repair_statement_timeout_ms: int = Field(default=600_000, ge=0, le=900_000, alias="REPAIR_STATEMENT_TIMEOUT_MS")
    # a repair step that finds more rows than this writes them in transactions of this many, each holding ingest off
    # for itself only (after a weights change the hashtag step finds 1.6M at a million videos)
    repair_write_batch_rows: int = Field(default=10_000, ge=1, alias="REPAIR_WRITE_BATCH_ROWS")


class BackfillSettings(RepairStepSettings):
    """ImpactBackfillFunction: batch size, per-batch lock timeout, the stop margin, and its continuation queue."""

    # the most rows per keyset batch (one short transaction each); batches start at a fifth of it and are resized
    backfill_batch_size: int = Field(default=5000, ge=1, le=100_000, alias="BACKFILL_BATCH_SIZE")
    # each batch is resized to take about this long (at least 1/20 of the size above, and 100 rows): a batch also
    # rewrites its videos' ~5x fact-copy rows, and a busy server must not stretch it past a second (measured:
    # 5,000-row batches took 0.3 s on an idle 2-core server and 1.8-8 s on a loaded one). 0: fixed size.
    backfill_batch_target_ms: int = Field(default=250, ge=0, alias="BACKFILL_BATCH_TARGET_MS")
    # a batch waiting longer than this for a row lock (a concurrent ingest chunk) is retried, not queued behind it
    backfill_lock_timeout_ms: int = Field(default=2000, ge=1, alias="BACKFILL_LOCK_TIMEOUT_MS")
    # stop cleanly and continue in a fresh invocation when less than this much time is left
    backfill_time_margin_ms: int = Field(default=60_000, ge=0, alias="BACKFILL_TIME_MARGIN_MS")
    # the SQS queue a cut-off run sends {"job_id"} to (unset locally: the caller invokes again)
    backfill_continuation_queue_url: str | None = Field(default=None, alias="BACKFILL_CONTINUATION_QUEUE_URL")


class ReconcileSettings(RepairStepSettings):
    """ReconcileFunction: snapshot retention and how far ahead monthly partitions are created."""

    snapshot_retention_days: int = Field(default=365, ge=1, alias="METRIC_SNAPSHOT_RETENTION_DAYS")
    partition_months_ahead: int = Field(default=3, ge=0, le=24, alias="PARTITION_MONTHS_AHEAD")
    # each repair step waits at most this long for ingest's locks before retrying
    reconcile_lock_timeout_ms: int = Field(default=10_000, ge=1, alias="RECONCILE_LOCK_TIMEOUT_MS")


@lru_cache(maxsize=1)
def get_backfill_settings() -> BackfillSettings:
    """ImpactBackfillFunction's settings, parsed from the environment on first use."""
    return BackfillSettings.model_validate(dict(os.environ))


@lru_cache(maxsize=1)
def get_reconcile_settings() -> ReconcileSettings:
    """ReconcileFunction's settings, parsed from the environment on first use."""
    return ReconcileSettings.model_validate(dict(os.environ))


class YouTubeSettings(ObservabilitySettings):
    """The YouTube Data API: where it is, the key (``YOUTUBE_API_KEY`` locally, a Secrets Manager secret in AWS), and
    how the client calls it (timeouts, attempts, concurrency)."""

    youtube_api_base_url: str = Field(default="https://www.googleapis.com", alias="YOUTUBE_API_BASE_URL")
    youtube_api_key: str | None = Field(default=None, alias="YOUTUBE_API_KEY")
    # the secret holds the key as a plain string or as JSON {"api_key": "..."}
    youtube_api_key_secret_arn: str | None = Field(default=None, alias="YOUTUBE_API_KEY_SECRET_ARN")
    youtube_connect_timeout_s: float = Field(default=3.0, gt=0, alias="YOUTUBE_CONNECT_TIMEOUT_S")
    youtube_read_timeout_s: float = Field(default=10.0, gt=0, alias="YOUTUBE_READ_TIMEOUT_S")
    # attempts per call (first try included) on 5xx, timeouts, 429 and rateLimitExceeded
    youtube_max_attempts: int = Field(default=4, ge=1, le=10, alias="YOUTUBE_MAX_ATTEMPTS")
    youtube_backoff_base_s: float = Field(default=0.5, ge=0, alias="YOUTUBE_BACKOFF_BASE_S")
    youtube_backoff_max_s: float = Field(default=8.0, ge=0, alias="YOUTUBE_BACKOFF_MAX_S")
    youtube_max_concurrency: int = Field(default=16, ge=1, le=64, alias="YOUTUBE_MAX_CONCURRENCY")


class ViewTrackingSettings(DatabaseSettings, YouTubeSettings):
    """ViewTrackingFunction: the daily quota budget, the top-performer cut, and how progress is committed."""

    # videos.list calls per Pacific quota day (1 unit each; 2,000 calls = 100,000 videos)
    tracking_daily_quota_units: int = Field(default=2000, ge=0, alias="TRACKING_DAILY_QUOTA_UNITS")
    # the fastest-growing videos (by views/hour) that are tier 1 whatever their age
    tracking_top_performers: int = Field(default=1000, ge=0, alias="TRACKING_TOP_PERFORMERS")
    # calls whose results are written and committed together (progress survives a run that dies)
    tracking_calls_per_commit: int = Field(default=40, ge=1, alias="TRACKING_CALLS_PER_COMMIT")
    # misses in a row after which a video leaves tracking as unavailable
    tracking_unavailable_after_misses: int = Field(default=3, ge=1, alias="TRACKING_UNAVAILABLE_AFTER_MISSES")


@lru_cache(maxsize=1)
def get_view_tracking_settings() -> ViewTrackingSettings:
    """ViewTrackingFunction's settings, parsed from the environment on first use."""
    return ViewTrackingSettings.model_validate(dict(os.environ))


class ApiSettings(DatabaseSettings):
    """RankingApiFunction: the read-only role of read routes, cursor signing, caching, and the functions the admin
    routes start (unset locally: the admin routes run the work in process)."""

    # the role read routes SET LOCAL ROLE to (sql/0012); empty keeps the login role
    api_read_role: str = Field(default="reelrank_reader", alias="API_READ_ROLE")
    # HMAC key of the keyset cursors (integrity only: a cursor can do no more than position a scan)
    cursor_signing_key: str = Field(default="reelrank-cursor-v1", min_length=1, alias="CURSOR_SIGNING_KEY")
    # Cache-Control of successful read responses: browsers (max-age) and a CDN in front (s-maxage)
    api_cache_max_age_s: int = Field(default=60, ge=0, alias="API_CACHE_MAX_AGE_S")
    api_cdn_max_age_s: int = Field(default=300, ge=0, alias="API_CDN_MAX_AGE_S")
    backfill_function_name: str | None = Field(default=None, alias="BACKFILL_FUNCTION_NAME")
    view_tracking_function_name: str | None = Field(default=None, alias="VIEW_TRACKING_FUNCTION_NAME")

    @property
    def cursor_key(self) -> bytes:
        return self.cursor_signing_key.encode()


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """RankingApiFunction's settings, parsed from the environment on first use."""
    return ApiSettings.model_validate(dict(os.environ))
