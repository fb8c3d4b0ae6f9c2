"""The canonical video record every snapshot source is validated into (FORMATS.md §0 and §6).

A source model (``reelrank.models.sources``) maps its own field names and quirks onto these models; everything
downstream (the ingest write path, view tracking) sees only these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Platform = Literal["tiktok", "youtube"]
SourceName = Literal["brightdata", "apify", "youtube", "tiktok_research"]

BIGINT_MAX = 9_223_372_036_854_775_807

# A stored count: a non-negative integer that fits PostgreSQL BIGINT. None means "the source did not give it".
Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CanonicalCreator(_Frozen):
    """A creator as one record describes it.

    ``creator_id`` is the platform's stable key: the lower-cased TikTok handle, or the YouTube channel id.
    """

    creator_id: Annotated[str, Field(min_length=1, max_length=200)]
    platform: Platform
    username: str | None = None  # the handle (TikTok) or None (YouTube has only a channel title)
    display_name: str | None = None
    platform_user_id: str | None = None  # TikTok numeric user id / YouTube channel id
    avatar_url: str | None = None
    verified: bool | None = None
    followers_count: Count | None = None
    bio: str | None = None


class CanonicalSound(_Frozen):
    """A sound (TikTok music). Records without a sound id have no sound: a title alone never makes a key."""

    sound_id: Annotated[str, Field(min_length=1, max_length=64)]
    title: str | None = None
    author: str | None = None
    original: bool | None = None
    cover_url: str | None = None
    play_url: str | None = None


class CanonicalHashtag(_Frozen):
    """A hashtag: ``tag`` is the normalised key (NFKC, casefolded, no ``#``), ``display`` the first form seen."""

    tag: Annotated[str, Field(min_length=1, max_length=200)]
    display: str


class CanonicalVideo(_Frozen):
    """One validated video record from any source."""

    platform: Platform
    source: SourceName
    video_id: Annotated[str, Field(min_length=1, max_length=64)]
    url: str | None = None
    caption: str | None = None
    thumbnail_url: str | None = None
    duration_seconds: Annotated[int, Field(ge=0)] | None = None
    posted_at: datetime | None = None  # timezone-aware UTC
    observed_at: datetime | None = None  # when the source collected the record, if it says
    views: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    saves: Count | None = None
    creator: CanonicalCreator | None = None
    sound: CanonicalSound | None = None
    hashtags: tuple[CanonicalHashtag, ...] = ()
    mentions: tuple[str, ...] = ()  # mentioned handles, lower-case, no '@', de-duplicated
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class RejectedRecord(_Frozen):
    """A record that failed validation: kept in ``rejected_videos`` with a reason that names the field."""

    index: int
    video_id: str | None = None
    reason: str
    raw: Any = None
