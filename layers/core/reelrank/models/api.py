"""The read API's response models (DESIGN §5): camelCase like the site's frontend types, ``impact`` beside ``views``.

Counts are integers; aggregate totals are ``NUMERIC`` in the database (no sum can overflow there) and are served as
JSON integers; Impact is served as a JSON number with two decimals. Lists answer ``{"data", "next_cursor", "limit"}``
(the envelope keeps the snake_case the issue specifies; items are camelCase).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

Platform = Literal["tiktok", "youtube"]

# Impact is exact in the database (numeric(24, 2)); JSON clients read numbers, so it leaves as a float of 2 decimals.
Impact = Annotated[Decimal, PlainSerializer(lambda v: float(v), return_type=float, when_used="json")]


class ApiModel(BaseModel):
    """Base of every response model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class CreatorRef(ApiModel):
    """The creator as a video item shows it."""

    id: str
    username: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    verified: bool = False


class VideoItem(ApiModel):
    """One video in a list."""

    id: str
    post_id: str
    platform: Platform
    title: str | None = None
    url: str | None = None
    thumbnail: str | None = None
    duration: int | None = None
    views: int
    likes: int
    comments: int
    shares: int
    saves: int
    impact: Impact
    created_at: datetime | None = None
    creator: CreatorRef | None = None
    hashtags: list[str] = Field(default_factory=list)


class SoundRef(ApiModel):
    """The sound a video uses."""

    id: str
    title: str | None = None
    author: str | None = None


class CommunityRef(ApiModel):
    """A community a video belongs to."""

    id: int
    slug: str
    name: str


class VideoDetail(VideoItem):
    """``GET /videos/{id}``: the item plus its sound, communities and bookkeeping times."""

    sound: SoundRef | None = None
    communities: list[CommunityRef] = Field(default_factory=list)
    impact_version: int
    first_seen_at: datetime
    last_seen_at: datetime


class HistoryPoint(ApiModel):
    """One observation of a video's counts (``None``: the source did not report that count)."""

    observed_at: datetime
    views: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    source: str


class CreatorItem(ApiModel):
    """One creator in a list. Under a community, ``videos``/``views``/``likes``/``impact`` are the community's."""

    id: str
    platform: Platform
    username: str | None = None
    display_name: str | None = None
    avatar: str | None = None
    verified: bool = False
    followers: int | None = None
    videos: int
    views: int
    likes: int
    impact: Impact


class HashtagCreatorItem(CreatorItem):
    """A creator under a hashtag: the creator's own figures, and how many of their videos carry the hashtag."""

    hashtag_videos: int


class CreatorDetail(CreatorItem):
    """``GET /creators/{id}``."""

    bio: str | None = None
    first_seen_at: datetime
    last_seen_at: datetime


class SoundItem(ApiModel):
    """One sound in a list."""

    id: str
    title: str | None = None
    author: str | None = None
    original: bool | None = None
    cover: str | None = None
    videos: int
    views: int
    likes: int
    impact: Impact
    last_used_at: datetime | None = None


class SoundDetail(SoundItem):
    """``GET /sounds/{id}``."""

    play_url: str | None = None
    first_seen_at: datetime


TREND_SCORE = (
    "Views the hashtag's videos gained in the last 7 days by their metric snapshots: each video's latest views in the "
    "window minus its views at the window's start (its last snapshot before it; 0 for a video posted inside the "
    "window; its first snapshot inside the window for an older video not observed before), never below 0. With a "
    "platform filter, that platform's videos only. Recomputed by the daily reconcile."
)


class HashtagItem(ApiModel):
    """One hashtag in a list; with a platform filter the figures are that platform's alone."""

    id: str
    tag: str
    display_name: str
    videos: int
    creators: int
    views: int
    likes: int
    impact: Impact
    trend_score: Annotated[int, Field(description=TREND_SCORE)]
    platform: Platform | None = None
    first_seen_at: datetime
    last_seen_at: datetime


class PlatformTotals(ApiModel):
    """One platform's own figures of a hashtag or community (YouTube's are never blended into another's)."""

    platform: Platform
    videos: int
    creators: int
    views: int
    likes: int
    impact: Impact
    trend_score: Annotated[
        int | None, Field(description="A hashtag's trend score on this platform (communities: null).")
    ] = None


class HashtagDetail(HashtagItem):
    """``GET /hashtags/{tag}``: the blended figures plus each platform's own."""

    platforms: list[PlatformTotals] = Field(default_factory=list)


class CommunityItem(ApiModel):
    """One community in a list; with a platform filter the figures are that platform's alone."""

    id: int
    slug: str
    name: str
    description: str | None = None
    linked_hashtags: list[str] = Field(default_factory=list)
    videos: int
    creators: int
    views: int
    likes: int
    impact: Impact
    platform: Platform | None = None


class CommunityDetail(CommunityItem):
    """``GET /communities/{id}``."""

    platforms: list[PlatformTotals] = Field(default_factory=list)


class CommunityHashtagItem(ApiModel):
    """A hashtag inside a community: its figures within the community."""

    id: str
    tag: str
    display_name: str
    videos: int
    views: int
    impact: Impact


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """A list response: one page of items and the opaque cursor of the next page (``null`` on the last page)."""

    model_config = ConfigDict(frozen=True)

    data: list[ItemT]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null on the last page")
    limit: int


class VideoHistory(BaseModel):
    """``GET /videos/{id}/history``: the video's observations in time order (oldest first), paginated."""

    model_config = ConfigDict(frozen=True)

    video_id: str = Field(serialization_alias="videoId")
    data: list[HistoryPoint]
    next_cursor: str | None
    limit: int


class ErrorOutput(BaseModel):
    """Every 4xx/5xx body: a machine-readable code, a message naming what was wrong, and the parameter if any."""

    error: str
    message: str
    parameter: str | None = None
    allowed: list[str] | None = None


class IngestionDetail(BaseModel):
    """``GET /admin/ingestions/{id}``: one ingestion and its first rejections."""

    ingestion_id: int
    source: str | None
    snapshot_id: str | None
    trigger: str | None
    object_bucket: str | None
    object_key: str | None
    status: str
    received: int
    accepted: int
    rejected: int
    new_videos: int
    updated_videos: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    rejections: list[dict[str, Any]] = Field(default_factory=list)


class BackfillStartRequest(BaseModel):
    """Body of ``POST /admin/backfill``: rescore the stale videos (default) or all of them."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["stale", "all"] = "stale"
