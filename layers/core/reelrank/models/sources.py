"""One pydantic model per snapshot source, each mapped onto :class:`CanonicalVideo` (FORMATS.md §0–§4, §6, §7).

The models are tolerant of fields they do not know (sources add fields all the time) and strict about the fields
they map: a count that is not a count rejects the record, with a reason that names the field as the source spells
it (``"play_count: must be a non-negative integer, got '-5'"``, ``"statistics.viewCount: ..."``).

Entry points: :func:`detect_source` (which source a file or record comes from), :func:`validate_record` (one raw
record → ``CanonicalVideo`` or ``RejectedRecord``, never raising for bad input) and ``SOURCES`` (source name →
model class, each with ``to_canonical``).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, model_validator

from reelrank.errors import SnapshotFormatError
from reelrank.models.canonical import (
    CanonicalCreator,
    CanonicalSound,
    CanonicalVideo,
    Platform,
    RejectedRecord,
    SourceName,
)
from reelrank.normalize import (
    dedupe_hashtags,
    hashtags_from_caption,
    normalize_handle,
    parse_count,
    parse_flag,
    parse_iso_duration,
    parse_platform_id,
    parse_text,
    parse_timestamp,
)

__all__ = [
    "SOURCES",
    "ApifyItem",
    "BrightDataRecord",
    "ResearchApiVideo",
    "SourceRecord",
    "YouTubeVideoItem",
    "detect_source",
    "format_validation_error",
    "guess_source",
    "reject_non_object",
    "unwrap_container",
    "validate_record",
]


def _parse_duration(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO-8601 duration such as 'PT1M2S', got {type(value).__name__} {value!r}")
    return parse_iso_duration(value)


def _parse_tag_names(value: object) -> list[str] | None:
    # Bright Data writes "#fyp" strings, Apify {name}/{id,name,title,cover} objects or (derivative actors) plain
    # strings, the Research API bare names (FORMATS §1.3, §2.2, §2.3, §4); one parser accepts all of them.
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"must be a list of hashtags, got {type(value).__name__}")
    names: list[str] = []
    for position, item in enumerate(value):
        name = item.get("name") if isinstance(item, dict) else item
        if name is None:
            continue
        if not isinstance(name, str):
            raise ValueError(f"item {position} must be a hashtag string or an object with a string name, got {item!r}")
        names.append(name)
    return names


def _parse_loose_text(value: object) -> str | None:
    # Bright Data error rows: whatever the error fields hold, they only end up in a rejection reason.
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


SourceCount = Annotated[int | None, PlainValidator(parse_count)]
SourceTime = Annotated[datetime | None, PlainValidator(parse_timestamp)]
SourceId = Annotated[str | None, PlainValidator(parse_platform_id)]
SourceFlag = Annotated[bool | None, PlainValidator(parse_flag)]
SourceText = Annotated[str | None, PlainValidator(parse_text)]
SourceDuration = Annotated[int | None, PlainValidator(_parse_duration)]
TagNames = Annotated[list[str] | None, PlainValidator(_parse_tag_names)]
LooseText = Annotated[str | None, PlainValidator(_parse_loose_text)]

_HANDLE_IN_URL: Final = re.compile(r"tiktok\.com/@([^/?#\s]+)")
_NO_SOUND_IDS: Final = frozenset({"0"})  # Apify slideshows say musicId "0" (FORMATS §2.2, §6.7)
_YOUTUBE_THUMBNAIL_SIZES: Final = ("maxres", "standard", "high", "medium", "default")


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


def _handle_from_url(url: str | None) -> str | None:
    match = _HANDLE_IN_URL.search(url or "")
    return normalize_handle(match.group(1)) if match else None


def _tiktok_url(handle: str | None, video_id: str) -> str | None:
    return f"https://www.tiktok.com/@{handle}/video/{video_id}" if handle else None


def _dedupe_handles(handles: Iterable[str | None]) -> tuple[str, ...]:
    normalised = (normalize_handle(handle) for handle in handles)
    return tuple(dict.fromkeys(handle for handle in normalised if handle))


def _sound(sound_id: str | None, **details: Any) -> CanonicalSound | None:
    # A title alone never makes a sound key (FORMATS §6.7): no id, no sound.
    if sound_id is None or sound_id in _NO_SOUND_IDS:
        return None
    return CanonicalSound(sound_id=sound_id, **details)


def _tiktok_creator(
    handle: str | None,
    *,
    display_name: str | None = None,
    platform_user_id: str | None = None,
    avatar_url: str | None = None,
    verified: bool | None = None,
    followers_count: int | None = None,
    bio: str | None = None,
) -> CanonicalCreator | None:
    if handle is None:
        return None
    return CanonicalCreator(
        creator_id=handle,
        platform="tiktok",
        username=handle,
        display_name=display_name,
        platform_user_id=platform_user_id,
        avatar_url=avatar_url,
        verified=verified,
        followers_count=followers_count,
        bio=bio,
    )


def _missing_id(field: str) -> ValueError:
    return ValueError(f"{field}: missing video id")


class _SourceModel(BaseModel):
    # extra="ignore": sources add fields all the time; the raw record is kept whole in CanonicalVideo.raw anyway.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class SourceRecord(_SourceModel):
    """A record of one source: validated field by field, then mapped by :meth:`to_canonical`."""

    source_name: ClassVar[SourceName]
    platform: ClassVar[Platform]
    # Where the video id may sit in a raw record, so a rejected record can still name its video.
    id_fields: ClassVar[tuple[str, ...]]

    @abstractmethod
    def to_canonical(self, raw: dict[str, Any]) -> CanonicalVideo:
        """Map this record onto the canonical model.

        Parameters
        ----------
        raw
            The record exactly as it was read; kept as ``CanonicalVideo.raw``.

        Returns
        -------
        CanonicalVideo
            The canonical video.

        Raises
        ------
        ValueError
            If the record cannot be a video (no video id, a Bright Data error row); the message is the rejection
            reason. ``pydantic.ValidationError`` (a ``ValueError``) if a canonical constraint fails.
        """


# --- Bright Data (FORMATS §1) -----------------------------------------------------------------------------------


class BrightDataMusic(_SourceModel):
    """Bright Data's ``music`` object (lower-case keys)."""

    id: SourceId = None
    title: SourceText = None
    authorname: SourceText = None
    original: SourceFlag = None
    covermedium: SourceText = None
    playurl: SourceText = None


class BrightDataTaggedUser(_SourceModel):
    """One entry of Bright Data's ``tagged_user``."""

    user_id: SourceId = None
    user_handle: SourceText = None
    user_name: SourceText = None
    user_url: SourceText = None


class BrightDataRecord(SourceRecord):
    """One entry of a Bright Data TikTok posts snapshot: a post, or an error row (``error_code``, no ``post_id``)."""

    source_name: ClassVar[SourceName] = "brightdata"
    platform: ClassVar[Platform] = "tiktok"
    id_fields: ClassVar[tuple[str, ...]] = ("post_id", "shortcode")

    post_id: SourceId = None
    shortcode: SourceId = None  # the same value as post_id
    url: SourceText = None
    description: SourceText = None
    create_time: SourceTime = None
    digg_count: SourceCount = None
    comment_count: SourceCount = None
    play_count: SourceCount = None
    num_share_count: SourceCount = None
    share_count: SourceCount = None  # a string in the catalog and in real captures
    collect_count: SourceCount = None
    video_duration: SourceCount = None
    hashtags: TagNames = None
    original_sound: SourceText = None
    music: BrightDataMusic | None = None
    profile_id: SourceId = None
    profile_username: SourceText = None  # the display name, not the handle (FORMATS §7.2)
    account_id: SourceText = None  # the handle
    profile_url: SourceText = None
    profile_avatar: SourceText = None
    profile_biography: SourceText = None
    profile_followers: SourceCount = None
    is_verified: SourceFlag = None
    preview_image: SourceText = None
    tagged_user: list[BrightDataTaggedUser] | None = None
    timestamp: SourceTime = None
    error: LooseText = None
    error_code: LooseText = None

    def to_canonical(self, raw: dict[str, Any]) -> CanonicalVideo:
        """Map a Bright Data post onto the canonical model; see :meth:`SourceRecord.to_canonical`."""
        video_id = self.post_id or self.shortcode
        if video_id is None:
            if self.error_code is not None:
                raise ValueError(f"{self.error_code}: {self.error}" if self.error else self.error_code)
            if self.error is not None:
                raise ValueError(f"error: {self.error}")
            raise _missing_id("post_id")
        handle = normalize_handle(self.account_id) or _handle_from_url(self.profile_url) or _handle_from_url(self.url)
        music = self.music
        return CanonicalVideo(
            platform=self.platform,
            source=self.source_name,
            video_id=video_id,
            url=self.url or _tiktok_url(handle, video_id),
            caption=self.description,
            thumbnail_url=self.preview_image,
            duration_seconds=self.video_duration,
            posted_at=self.create_time,
            observed_at=self.timestamp,
            views=self.play_count,
            likes=self.digg_count,
            comments=self.comment_count,
            shares=_first(self.num_share_count, self.share_count),
            saves=self.collect_count,
            creator=_tiktok_creator(
                handle,
                display_name=self.profile_username,
                platform_user_id=self.profile_id,
                avatar_url=self.profile_avatar,
                verified=self.is_verified,
                followers_count=self.profile_followers,
                bio=self.profile_biography,
            ),
            sound=None
            if music is None
            else _sound(
                music.id,
                title=music.title,
                author=music.authorname,
                original=music.original,
                cover_url=music.covermedium,
                play_url=music.playurl,
            ),
            hashtags=dedupe_hashtags(
                self.hashtags if self.hashtags is not None else hashtags_from_caption(self.description)
            ),
            mentions=_dedupe_handles(user.user_handle for user in self.tagged_user or ()),
            raw=raw,
        )


# --- Apify clockworks (FORMATS §2) ------------------------------------------------------------------------------


class _ApifyCounts(_SourceModel):
    digg_count: SourceCount = Field(default=None, alias="diggCount")
    share_count: SourceCount = Field(default=None, alias="shareCount")
    play_count: SourceCount = Field(default=None, alias="playCount")
    collect_count: SourceCount = Field(default=None, alias="collectCount")
    comment_count: SourceCount = Field(default=None, alias="commentCount")


class ApifyAuthorMeta(_SourceModel):
    """Apify's ``authorMeta``."""

    id: SourceId = None
    name: SourceText = None  # the handle
    nick_name: SourceText = Field(default=None, alias="nickName")
    profile_url: SourceText = Field(default=None, alias="profileUrl")
    avatar: SourceText = None
    original_avatar_url: SourceText = Field(default=None, alias="originalAvatarUrl")
    verified: SourceFlag = None
    fans: SourceCount = None
    signature: SourceText = None


class ApifyMusicMeta(_SourceModel):
    """Apify's ``musicMeta``; ``musicId`` ``"0"`` means no sound (slideshows)."""

    music_id: SourceId = Field(default=None, alias="musicId")
    music_name: SourceText = Field(default=None, alias="musicName")
    music_author: SourceText = Field(default=None, alias="musicAuthor")
    music_original: SourceFlag = Field(default=None, alias="musicOriginal")
    cover_medium_url: SourceText = Field(default=None, alias="coverMediumUrl")
    original_cover_medium_url: SourceText = Field(default=None, alias="originalCoverMediumUrl")
    play_url: SourceText = Field(default=None, alias="playUrl")


class ApifyVideoMeta(_SourceModel):
    """Apify's ``videoMeta`` (all zeros for slideshows)."""

    duration: SourceCount = None
    cover_url: SourceText = Field(default=None, alias="coverUrl")
    original_cover_url: SourceText = Field(default=None, alias="originalCoverUrl")


class ApifyMention(_SourceModel):
    """One entry of Apify's ``detailedMentions``."""

    id: SourceId = None
    name: SourceText = None


def _unflatten(data: object) -> object:
    """Turn Apify's flattened export keys (``"authorMeta.name"``, ``"hashtags.0.name"``) back into nesting.

    Nested values win over dotted twins; the input is not mutated (it is kept as the raw record).
    """
    if not isinstance(data, dict) or not any(isinstance(key, str) and "." in key for key in data):
        return data
    tree: dict[str, Any] = {}
    for key, value in data.items():
        if not (isinstance(key, str) and "." in key):
            continue
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node.setdefault(leaf, value)
    merged = {key: value for key, value in data.items() if not (isinstance(key, str) and "." in key)}
    _merge_missing(merged, _listify(tree))
    return merged


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    children = {key: _listify(value) for key, value in node.items()}
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


def _merge_missing(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if key not in target:
            target[key] = value
        elif isinstance(target[key], dict) and isinstance(value, dict):
            target[key] = dict(target[key])  # copy: the nested dict belongs to the raw record
            _merge_missing(target[key], value)


class ApifyItem(SourceRecord, _ApifyCounts):
    """One item of an Apify clockworks TikTok scraper dataset (also its flattened, dotted-key export)."""

    source_name: ClassVar[SourceName] = "apify"
    platform: ClassVar[Platform] = "tiktok"
    id_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: SourceId = None
    text: SourceText = None
    create_time: SourceTime = Field(default=None, alias="createTime")
    create_time_iso: SourceTime = Field(default=None, alias="createTimeISO")
    web_video_url: SourceText = Field(default=None, alias="webVideoUrl")
    author_meta: ApifyAuthorMeta | None = Field(default=None, alias="authorMeta")
    music_meta: ApifyMusicMeta | None = Field(default=None, alias="musicMeta")
    video_meta: ApifyVideoMeta | None = Field(default=None, alias="videoMeta")
    # TikTok's web JSON twins: numeric ``stats`` and string ``statsV2`` (FORMATS §2.3, §5); fallbacks only.
    stats: _ApifyCounts | None = None
    stats_v2: _ApifyCounts | None = Field(default=None, alias="statsV2")
    hashtags: TagNames = None
    mentions: list[SourceText] | None = None
    detailed_mentions: list[ApifyMention] | None = Field(default=None, alias="detailedMentions")

    @model_validator(mode="before")
    @classmethod
    def _accept_flattened_keys(cls, data: object) -> object:
        return _unflatten(data)

    def _count(self, name: str) -> int | None:
        fallbacks = (getattr(counts, name) for counts in (self.stats, self.stats_v2) if counts is not None)
        return _first(getattr(self, name), *fallbacks)

    def to_canonical(self, raw: dict[str, Any]) -> CanonicalVideo:
        """Map an Apify item onto the canonical model; see :meth:`SourceRecord.to_canonical`."""
        if self.id is None:
            raise _missing_id("id")
        author = self.author_meta or ApifyAuthorMeta()
        music = self.music_meta or ApifyMusicMeta()
        video = self.video_meta or ApifyVideoMeta()
        handle = (
            normalize_handle(author.name)
            or _handle_from_url(author.profile_url)
            or _handle_from_url(self.web_video_url)
        )
        return CanonicalVideo(
            platform=self.platform,
            source=self.source_name,
            video_id=self.id,
            url=self.web_video_url or _tiktok_url(handle, self.id),
            caption=self.text,
            thumbnail_url=video.cover_url or video.original_cover_url,
            duration_seconds=video.duration,
            posted_at=self.create_time or self.create_time_iso,
            views=self._count("play_count"),
            likes=self._count("digg_count"),
            comments=self._count("comment_count"),
            shares=self._count("share_count"),
            saves=self._count("collect_count"),
            creator=_tiktok_creator(
                handle,
                display_name=author.nick_name,
                platform_user_id=author.id,
                avatar_url=author.avatar or author.original_avatar_url,
                verified=author.verified,
                followers_count=author.fans,
                bio=author.signature,
            ),
            sound=_sound(
                music.music_id,
                title=music.music_name,
                author=music.music_author,
                original=music.music_original,
                cover_url=music.cover_medium_url or music.original_cover_medium_url,
                play_url=music.play_url,
            ),
            hashtags=dedupe_hashtags(self.hashtags if self.hashtags is not None else hashtags_from_caption(self.text)),
            mentions=_dedupe_handles(
                [*(self.mentions or ()), *(mention.name for mention in self.detailed_mentions or ())]
            ),
            raw=raw,
        )


# --- YouTube Data API v3 videos.list (FORMATS §3.1) -------------------------------------------------------------


class YouTubeThumbnail(_SourceModel):
    """One entry of ``snippet.thumbnails``."""

    url: SourceText = None


class YouTubeSnippet(_SourceModel):
    """``snippet`` of a ``youtube#video``; ``tags`` are uploader keywords, not hashtags, so they are not mapped."""

    published_at: SourceTime = Field(default=None, alias="publishedAt")
    channel_id: SourceId = Field(default=None, alias="channelId")
    channel_title: SourceText = Field(default=None, alias="channelTitle")
    title: SourceText = None
    description: SourceText = None
    thumbnails: dict[str, YouTubeThumbnail | None] | None = None


class YouTubeStatistics(_SourceModel):
    """``statistics``: strings; ``likeCount``/``commentCount`` absent when hidden/disabled; ``favoriteCount`` unused."""

    view_count: SourceCount = Field(default=None, alias="viewCount")
    like_count: SourceCount = Field(default=None, alias="likeCount")
    comment_count: SourceCount = Field(default=None, alias="commentCount")


class YouTubeContentDetails(_SourceModel):
    """``contentDetails``; only the ISO-8601 ``duration`` is mapped."""

    duration: SourceDuration = None


class YouTubeVideoItem(SourceRecord):
    """One ``youtube#video`` item of a ``videos.list`` response."""

    source_name: ClassVar[SourceName] = "youtube"
    platform: ClassVar[Platform] = "youtube"
    id_fields: ClassVar[tuple[str, ...]] = ("id",)

    kind: SourceText = None
    id: SourceId = None
    snippet: YouTubeSnippet | None = None
    statistics: YouTubeStatistics | None = None
    content_details: YouTubeContentDetails | None = Field(default=None, alias="contentDetails")

    def _thumbnail_url(self) -> str | None:
        thumbnails = (self.snippet.thumbnails if self.snippet else None) or {}
        for size in _YOUTUBE_THUMBNAIL_SIZES:
            thumbnail = thumbnails.get(size)
            if thumbnail is not None and thumbnail.url:
                return thumbnail.url
        return None

    def to_canonical(self, raw: dict[str, Any]) -> CanonicalVideo:
        """Map a ``videos.list`` item onto the canonical model; see :meth:`SourceRecord.to_canonical`."""
        if self.kind is not None and self.kind != "youtube#video":
            raise ValueError(f"kind: expected 'youtube#video', got {self.kind!r}")
        if self.id is None:
            raise _missing_id("id")
        snippet = self.snippet or YouTubeSnippet()
        statistics = self.statistics or YouTubeStatistics()
        channel_id = snippet.channel_id
        return CanonicalVideo(
            platform=self.platform,
            source=self.source_name,
            video_id=self.id,
            url=f"https://www.youtube.com/watch?v={self.id}",
            caption=snippet.title,
            thumbnail_url=self._thumbnail_url(),
            duration_seconds=self.content_details.duration if self.content_details else None,
            posted_at=snippet.published_at,
            views=statistics.view_count,
            likes=statistics.like_count,
            comments=statistics.comment_count,
            # YouTube has no shares or saves at all: NULL, never 0 (FORMATS §3.1, §7.6).
            shares=None,
            saves=None,
            creator=None
            if channel_id is None
            else CanonicalCreator(
                creator_id=channel_id,
                platform="youtube",
                display_name=snippet.channel_title,
                platform_user_id=channel_id,
            ),
            hashtags=dedupe_hashtags(
                [*hashtags_from_caption(snippet.title), *hashtags_from_caption(snippet.description)]
            ),
            raw=raw,
        )


# --- TikTok Research API video query (FORMATS §4) ---------------------------------------------------------------


class ResearchApiVideo(SourceRecord):
    """One video of a TikTok Research API ``/v2/research/video/query/`` response; ids are exact JSON integers."""

    source_name: ClassVar[SourceName] = "tiktok_research"
    platform: ClassVar[Platform] = "tiktok"
    id_fields: ClassVar[tuple[str, ...]] = ("id", "video_id")

    id: SourceId = None
    video_id: SourceId = None  # the spelling of the docs' own example
    create_time: SourceTime = None
    username: SourceText = None
    video_description: SourceText = None
    music_id: SourceId = None
    hashtag_names: TagNames = None
    view_count: SourceCount = None
    like_count: SourceCount = None
    comment_count: SourceCount = None
    share_count: SourceCount = None
    favorites_count: SourceCount = None
    favourites_count: SourceCount = None  # the English spec's field list spells it this way
    video_duration: SourceCount = None

    def to_canonical(self, raw: dict[str, Any]) -> CanonicalVideo:
        """Map a Research API video onto the canonical model; see :meth:`SourceRecord.to_canonical`."""
        video_id = self.id or self.video_id
        if video_id is None:
            raise _missing_id("id")
        handle = normalize_handle(self.username)
        return CanonicalVideo(
            platform=self.platform,
            source=self.source_name,
            video_id=video_id,
            url=_tiktok_url(handle, video_id),
            caption=self.video_description,
            duration_seconds=self.video_duration,
            posted_at=self.create_time,
            views=self.view_count,
            likes=self.like_count,
            comments=self.comment_count,
            shares=self.share_count,
            saves=_first(self.favorites_count, self.favourites_count),
            creator=_tiktok_creator(handle),
            sound=_sound(self.music_id),
            hashtags=dedupe_hashtags(
                self.hashtag_names if self.hashtag_names is not None else hashtags_from_caption(self.video_description)
            ),
            raw=raw,
        )


SOURCES: Final[Mapping[SourceName, type[SourceRecord]]] = {
    "brightdata": BrightDataRecord,
    "apify": ApifyItem,
    "youtube": YouTubeVideoItem,
    "tiktok_research": ResearchApiVideo,
}

# --- dispatch ---------------------------------------------------------------------------------------------------

_BRIGHTDATA_KEYS: Final = ("post_id", "error_code", "account_id", "play_count")
_APIFY_KEYS: Final = ("authorMeta", "webVideoUrl", "playCount")
_APIFY_FLAT_PREFIXES: Final = ("authorMeta.", "musicMeta.", "videoMeta.")


def guess_source(record: object) -> SourceName | None:
    """Recognise the source of one raw record by its keys, or return ``None``.

    Parameters
    ----------
    record
        A raw record (anything that is not a JSON object gives ``None``).

    Returns
    -------
    SourceName | None
        ``youtube`` for ``kind == "youtube#video"`` or a string ``id`` beside ``statistics``/``snippet``; ``apify``
        for ``authorMeta``/``webVideoUrl``/``playCount`` or flattened ``authorMeta.*`` keys; ``brightdata`` for
        ``post_id``/``error_code``/``account_id``/``play_count``; ``tiktok_research`` for ``view_count`` beside
        ``username`` or an integer ``id``.
    """
    if not isinstance(record, dict):
        return None
    record_id = record.get("id")
    if record.get("kind") == "youtube#video" or (
        isinstance(record_id, str) and ("statistics" in record or "snippet" in record)
    ):
        return "youtube"
    if any(key in record for key in _APIFY_KEYS):
        return "apify"
    if any(key in record for key in _BRIGHTDATA_KEYS):
        return "brightdata"
    if "view_count" in record and (
        "username" in record or (isinstance(record_id, int) and not isinstance(record_id, bool))
    ):
        return "tiktok_research"
    # Last, as it scans every key: Apify's flattened export.
    if any(isinstance(key, str) and key.startswith(_APIFY_FLAT_PREFIXES) for key in record):
        return "apify"
    return None


def unwrap_container(value: object) -> tuple[list[Any], SourceName | None] | None:
    """Recognise an API response that wraps records, and return its records.

    Parameters
    ----------
    value
        A top-level JSON value.

    Returns
    -------
    tuple[list[Any], SourceName | None] | None
        ``(records, source)`` for a YouTube ``videoListResponse`` (``items``, ``youtube``), a Research API response
        (``data.videos``, ``tiktok_research``; also when the error object says it failed, so the caller can report
        it) or another ``{"items": [...]}`` page (source unknown); ``None`` when ``value`` is not a container.
    """
    if not isinstance(value, dict):
        return None
    if value.get("kind") == "youtube#videoListResponse":
        items = value.get("items")
        return (items if isinstance(items, list) else []), "youtube"
    data = value.get("data")
    if isinstance(data, dict) and ("videos" in data or "error" in value):
        videos = data.get("videos")
        return (videos if isinstance(videos, list) else []), "tiktok_research"
    items = value.get("items")
    if isinstance(items, list) and guess_source(value) is None:
        return items, None
    return None


def detect_source(sample: object) -> SourceName:
    """Decide which source a snapshot comes from, from its container or its first record.

    Parameters
    ----------
    sample
        A container (see :func:`unwrap_container`), a JSON array of records, or one record.

    Returns
    -------
    SourceName
        The source.

    Raises
    ------
    SnapshotFormatError
        If neither the container nor the first record is recognisable.
    """
    container = unwrap_container(sample)
    records: list[Any] | None = None
    if container is not None:
        records, hint = container
        if hint is not None:
            return hint
    elif isinstance(sample, list):
        records = sample
    if records is not None:
        first = next((record for record in records if isinstance(record, dict)), None)
        if first is None:
            raise SnapshotFormatError("cannot detect the source: the snapshot holds no JSON object record")
        return detect_source(first)
    source = guess_source(sample)
    if source is None:
        keys = sorted(sample)[:12] if isinstance(sample, dict) else type(sample).__name__
        raise SnapshotFormatError(f"cannot detect the source of a record with keys {keys}")
    return source


def format_validation_error(exc: ValidationError) -> str:
    """Turn a pydantic ``ValidationError`` into a rejection reason that names each field as the source spells it.

    Parameters
    ----------
    exc
        The error raised while validating a source record (or building the canonical one).

    Returns
    -------
    str
        E.g. ``"play_count: must be a non-negative integer, got '-5'"``; several errors are joined with ``"; "``.
    """
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "record"
        message = error["msg"]
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        else:
            shown = repr(error.get("input"))
            message = f"{message}, got {shown if len(shown) <= 60 else shown[:57] + '...'}"
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, int | float | Decimal):
        return "number"
    return type(value).__name__


def _raw_video_id(model: type[SourceRecord], raw: dict[str, Any]) -> str | None:
    for field in model.id_fields:
        try:
            video_id = parse_platform_id(raw.get(field))
        except ValueError:
            continue
        if video_id is not None:
            return video_id
    return None


def reject_non_object(index: int, raw: object) -> RejectedRecord:
    """The rejection of a snapshot entry that is not a JSON object (``"record 3: expected a JSON object, got list"``)."""
    return RejectedRecord(index=index, reason=f"record {index}: expected a JSON object, got {_json_type(raw)}", raw=raw)


def validate_record(source: SourceName, index: int, raw: object) -> CanonicalVideo | RejectedRecord:
    """Validate one raw record of ``source`` into a canonical video, or explain why not.

    Parameters
    ----------
    source
        Which source the record comes from (see :func:`detect_source`).
    index
        The record's 0-based position in its snapshot, copied into a rejection.
    raw
        The record as read from the snapshot.

    Returns
    -------
    CanonicalVideo | RejectedRecord
        The video, or a rejection whose ``reason`` names the offending field, e.g.
        ``"play_count: must be a non-negative integer, got '-5'"``, ``"dead_page: There are no public posts in the
        profile."`` (a Bright Data error row) or ``"record 3: expected a JSON object, got list"``. Bad input never
        raises.
    """
    if not isinstance(raw, dict):
        return reject_non_object(index, raw)
    model = SOURCES[source]
    try:
        return model.model_validate(raw).to_canonical(raw)
    except ValidationError as exc:
        reason = format_validation_error(exc)
    except ValueError as exc:
        reason = str(exc)
    return RejectedRecord(index=index, video_id=_raw_video_id(model, raw), reason=reason, raw=raw)
