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
    # how long a fetched secret is cached by Powertools Parameters (rotation picks up within this window)
    db_secret_max_age_seconds: int = Field(default=300, ge=0, alias="DB_SECRET_MAX_AGE_SECONDS")
    # statement_timeout for every session; a stuck query fails instead of eating the Lambda's whole timeout
    db_statement_timeout_ms: int = Field(default=60_000, ge=0, alias="DB_STATEMENT_TIMEOUT_MS")
    db_application_name: str = Field(default="reelrank", alias="DB_APPLICATION_NAME")


@lru_cache(maxsize=1)
def get_database_settings() -> DatabaseSettings:
    """The database settings of this process, parsed from the environment on first use."""
    return DatabaseSettings.model_validate(dict(os.environ))
