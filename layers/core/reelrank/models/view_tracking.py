"""View tracking's event, run result and stats (DESIGN §4, issue 6), shared by the function and the admin API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TrackingTrigger = Literal["schedule", "api", "invoke", "cli"]
TrackingStatus = Literal["queued", "running", "completed", "stopped", "failed"]


class ViewTrackingEvent(BaseModel):
    """What ViewTrackingFunction is invoked with: the schedule's ``Input``, a direct invoke, or the admin API's
    asynchronous invoke of a queued job (``job_id``)."""

    model_config = ConfigDict(extra="forbid")

    trigger: TrackingTrigger = "invoke"
    # at most this many videos this run (default: as many as the day's remaining quota allows)
    limit: int | None = Field(default=None, ge=1, le=10_000_000)
    job_id: int | None = Field(default=None, ge=1)


class ViewTrackingRunRequest(BaseModel):
    """Body of ``POST /admin/view-tracking/run``."""

    model_config = ConfigDict(extra="forbid")

    limit: int | None = Field(default=None, ge=1, le=10_000_000)


class TrackingJobOut(BaseModel):
    """One tracking run (a ``tracking_jobs`` row)."""

    job_id: int
    status: TrackingStatus
    trigger: str
    requested_limit: int | None
    started_at: datetime
    finished_at: datetime | None
    api_calls: int
    videos_due: int
    videos_tracked: int
    videos_missing: int
    videos_unavailable: int
    quota_units_used: int
    # quota_exceeded (the API said so; the ledger is set to spent), budget_spent (the day's budget is used up),
    # invalid_api_key, time_limit, already_running; None when the run did everything that was due
    stopped_reason: str | None
    errors: list[str]


class TierCount(BaseModel):
    """Active videos of one tier, and how many of them are due now and by the end of the quota day."""

    tier: int
    videos: int
    due_now: int
    due_today: int


class QuotaOut(BaseModel):
    """Today's quota (the America/Los_Angeles day)."""

    quota_day: date
    budget: int
    spent: int
    left: int
    exhausted: bool


class FastGrowerOut(BaseModel):
    """A video by views/hour between its last two observations."""

    video_id: str
    views: int
    views_per_hour: float
    tier: int
    last_tracked_at: datetime | None


class ViewTrackingStats(BaseModel):
    """``GET /admin/view-tracking/stats``."""

    tiers: list[TierCount]
    active_videos: int
    unavailable_videos: int
    due_now: int
    due_today: int
    quota: QuotaOut
    last_runs: list[TrackingJobOut]
    fastest_growing: list[FastGrowerOut]
