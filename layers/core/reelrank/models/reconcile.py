"""ReconcileFunction's input (the schedule's explicit Input, or a direct invoke) and its report."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReconcileRequest(BaseModel):
    """What one reconcile run does beyond repairing drift; unset fields take the function's settings."""

    model_config = ConfigDict(extra="forbid")

    # snapshot partitions that end this many days ago or earlier are dropped
    retention_days: int | None = Field(default=None, ge=1)
    # monthly snapshot partitions are created this many months ahead
    months_ahead: int | None = Field(default=None, ge=0, le=24)


class AggregatesRepaired(BaseModel):
    """Rows rewritten per aggregate family (0 everywhere on a clean database).

    ``hashtags`` includes the per-platform totals and (hashtag, creator) counts; ``communities`` includes the video
    memberships and per-platform totals; ``video_facts`` counts fact rows whose copied sort keys were repaired.
    """

    model_config = ConfigDict(frozen=True)

    creators: int = 0
    sounds: int = 0
    hashtags: int = 0
    communities: int = 0
    community_creators: int = 0
    community_hashtags: int = 0
    video_facts: int = 0

    @property
    def total(self) -> int:
        return sum(self.model_dump().values())


class ReconcileResponse(BaseModel):
    """What a reconcile run found and fixed."""

    model_config = ConfigDict(frozen=True)

    videos_repaired: int
    aggregates_repaired: AggregatesRepaired
    views_refreshed: list[str] = Field(default_factory=list)
    # materialized views whose refresh raised (logged with the error; the run went on)
    views_failed: list[str] = Field(default_factory=list)
    partitions_dropped: int
    partitions_created: int
    # hashtags_hot and hashtag_platform_totals rows whose trend score changed (reelrank.db.trends)
    trend_scores_updated: int = 0
    duration_ms: int
