"""The canonical video record every snapshot source is validated into (FORMATS.md §0 and §6).

A source model (``reelrank.models.sources``) maps its own field names and quirks onto these models; everything
downstream (the ingest write path, view tracking) sees only these.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Platform = Literal["tiktok", "youtube"]
SourceName = Literal["brightdata", "apify", "youtube", "tiktok_research"]

BIGINT_MAX = 9_223_372_036_854_775_807

# The id shapes the database checks (sql/0003: videos_tiktok_id, videos_youtube_id, creators_youtube_channel_id).
# A record that breaks them is rejected here, with a reason, instead of failing its whole chunk at write time.
_VIDEO_ID_SHAPES = {
    "tiktok": (re.compile(r"[0-9]{12,}"), "a TikTok video id is 12 or more digits"),
    "youtube": (re.compile(r"[A-Za-z0-9_-]{11}"), "a YouTube video id is 11 characters of A-Z a-z 0-9 _ -"),
}
_YOUTUBE_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]+")

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

    @model_validator(mode="after")
    def _key_shape(self) -> CanonicalCreator:
        if self.platform == "youtube" and not _YOUTUBE_CHANNEL_ID.fullmatch(self.creator_id):
            raise ValueError(f"channel id: a YouTube channel id starts with UC, got {self.creator_id!r}")
        if self.platform == "tiktok" and self.creator_id != self.creator_id.lower():
            raise ValueError(f"creator handle: must be lower-cased, got {self.creator_id!r}")
        return self


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

    @model_validator(mode="after")
    def _id_shape(self) -> CanonicalVideo:
        shape, rule = _VIDEO_ID_SHAPES[self.platform]
        if not shape.fullmatch(self.video_id):
            raise ValueError(f"video id: {rule}, got {self.video_id!r}")
        if self.creator is not None and self.creator.platform != self.platform:
            raise ValueError(f"creator: a {self.platform} video cannot have a {self.creator.platform} creator")
        return self


class RejectedRecord(_Frozen):
    """A record that failed validation: kept in ``rejected_videos`` with a reason that names the field."""

    index: int
    video_id: str | None = None
    reason: str
    raw: Any = None
