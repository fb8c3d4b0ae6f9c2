"""Use cases of the read API: list, sort, filter and page the catalogue; read one entity (DESIGN §5).

Each ``list_*`` takes a validated :class:`ListQuery`, turns its filters into bound conditions on the columns the list
declares (``reelrank.db.rankings``), continues after the cursor's keyset, and returns a :class:`Page` whose
``next_cursor`` is signed and bound to this list, sort, parent and filters. Reads run in a read-only transaction as
the read-only role (sql/0012), so no read route can write whatever a bug in it would do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

import psycopg
from psycopg import sql
from pydantic import BaseModel

from reelrank.db import rankings as q
from reelrank.errors import InvalidParameterError, NotFoundError
from reelrank.models.api import (
    CommunityDetail,
    CommunityHashtagItem,
    CommunityItem,
    CreatorDetail,
    CreatorItem,
    CreatorRef,
    HashtagCreatorItem,
    HashtagDetail,
    HashtagItem,
    HistoryPoint,
    Page,
    SoundDetail,
    SoundItem,
    VideoDetail,
    VideoHistory,
    VideoItem,
)
from reelrank.normalize import normalize_hashtag
from reelrank.services.cursors import DEFAULT_KEY, decode_cursor, encode_cursor, scope_of

TimeRange = Literal["24h", "7d", "30d", "1y", "all"]
TIME_RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
    "all": None,
}
_LIKE_SPECIALS = re.compile(r"([\\%_])")

ItemT = TypeVar("ItemT", bound=BaseModel)


@dataclass(frozen=True)
class ListQuery:
    """A list request after validation: sort, page size, cursor and filters (``None``: not given)."""

    sort: str = "views"
    limit: int = 50
    cursor: str | None = None
    platform: str | None = None
    impact_min: Decimal | None = None
    impact_max: Decimal | None = None
    search: str | None = None
    time_range: str | None = None
    cursor_key: bytes = DEFAULT_KEY


@contextmanager
def read_only(conn: psycopg.Connection[Any], role: str | None = "reelrank_reader") -> Iterator[None]:
    """A read-only transaction, run as ``role`` (the read-only role of sql/0012; None keeps the login role).

    ``SET LOCAL ROLE`` lasts until the transaction ends, so the admin routes on the same connection keep theirs.
    """
    with conn.transaction():
        if role:
            statement = sql.SQL("SET TRANSACTION READ ONLY; SET LOCAL ROLE {}").format(sql.Identifier(role))
            conn.execute(statement, prepare=False)  # two statements: never a prepared statement
        else:
            conn.execute("SET TRANSACTION READ ONLY")
        yield


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE with ``%``, ``_`` and ``\\`` in ``text`` taken literally."""
    return "%" + _LIKE_SPECIALS.sub(r"\\\1", text) + "%"


def _filters(spec: q.ListSpec, query: ListQuery, parent: Any) -> list[q.Filter]:
    out: list[q.Filter] = []
    if spec.parent is not None:
        out.append((spec.parent, (parent,)))
    columns = spec.filters
    if query.platform is not None:
        out.append((sql.SQL("{} = %s").format(columns["platform"]), (query.platform,)))
    if query.impact_min is not None:
        out.append((sql.SQL("{} >= %s").format(columns["impact"]), (query.impact_min,)))
    if query.impact_max is not None:
        out.append((sql.SQL("{} <= %s").format(columns["impact"]), (query.impact_max,)))
    span = TIME_RANGES.get(query.time_range or "all")
    if span is not None:
        out.append((sql.SQL("{} >= %s").format(columns["time"]), (datetime.now(UTC) - span,)))
    if query.search:
        out.append((sql.SQL("{} ILIKE %s").format(columns["search"]), (like_pattern(query.search),)))
    return out


def _check(spec: q.ListSpec, query: ListQuery) -> None:
    if query.sort not in spec.sorts:  # the route's Literal already refused it; kept so a wrong route cannot 500
        raise InvalidParameterError("sort", f"sort: must be one of {', '.join(spec.sorts)}", list(spec.sorts))
    if query.impact_min is not None and query.impact_max is not None and query.impact_min > query.impact_max:
        raise InvalidParameterError("impact_min", "impact_min: must not exceed impact_max")


def _page(
    conn: psycopg.Connection[Any],
    spec: q.ListSpec,
    query: ListQuery,
    build: Callable[[dict[str, Any]], ItemT],
    *,
    parent: Any = None,
    from_params: tuple[Any, ...] = (),
    parent_exists: Callable[[], bool] | None = None,
) -> Page[ItemT]:
    _check(spec, query)
    key = spec.sorts[query.sort]
    scope = scope_of(
        spec.name, query.sort, parent, *from_params, query.platform, query.impact_min, query.impact_max,
        query.search, query.time_range,
    )  # fmt: skip
    after = None
    if query.cursor is not None:
        after = decode_cursor(
            query.cursor, scope, key.kind, spec.id_kind == "int", nullable=key.nullable, key=query.cursor_key
        )
    rows = q.fetch_page(
        conn, spec, query.sort, _filters(spec, query, parent), after, query.limit, from_params=from_params
    )
    if not rows.rows and parent_exists is not None and not parent_exists():
        raise NotFoundError("not found")
    next_cursor = encode_cursor(scope, rows.next_keyset, query.cursor_key) if rows.next_keyset else None
    return Page[Any](data=[build(r) for r in rows.rows], next_cursor=next_cursor, limit=query.limit)


# ------------------------------------------------------------------------------------------------ row builders
def _video(row: dict[str, Any]) -> VideoItem:
    return VideoItem.model_validate({**row, "creator": _creator_ref(row)})


def _creator_ref(row: dict[str, Any]) -> CreatorRef | None:
    if row.get("creator_id") is None:
        return None
    return CreatorRef(
        id=row["creator_id"],
        username=row["creator_username"],
        display_name=row["creator_display_name"],
        avatar=row["creator_avatar"],
        verified=row["creator_verified"],
    )


def _creator(row: dict[str, Any]) -> CreatorItem:
    return CreatorItem.model_validate(row)


# ---------------------------------------------------------------------------------------------------- parents
def hashtag_key(tag: str) -> str:
    """The stored key of a hashtag as a path gives it (``#CarEdit`` → ``caredit``); 404 when nothing is left."""
    key = normalize_hashtag(tag) if len(tag) <= 200 else None
    if key is None:
        raise NotFoundError(f"no hashtag {tag!r}")
    return key


def community_id(conn: psycopg.Connection[Any], ident: str) -> int:
    """A community's id from its id or its slug; 404 when neither matches."""
    number = int(ident) if ident.isascii() and ident.isdigit() and len(ident) <= 18 else None
    row = conn.execute("SELECT id FROM communities WHERE id = %s OR slug = %s LIMIT 1", (number, ident)).fetchone()
    if row is None:
        raise NotFoundError(f"no community {ident!r}")
    return int(row[0])


# ------------------------------------------------------------------------------------------------------- lists
def list_videos(conn: psycopg.Connection[Any], query: ListQuery) -> Page[VideoItem]:
    """``GET /videos``."""
    return _page(conn, q.VIDEOS, query, _video)


def list_hashtag_videos(conn: psycopg.Connection[Any], tag: str, query: ListQuery) -> Page[VideoItem]:
    """``GET /hashtags/{tag}/videos``."""
    key = hashtag_key(tag)
    return _page(
        conn, q.HASHTAG_VIDEOS, query, _video, parent=key, parent_exists=lambda: q.exists(conn, "hashtags", key)
    )


def list_sound_videos(conn: psycopg.Connection[Any], sound_id: str, query: ListQuery) -> Page[VideoItem]:
    """``GET /sounds/{id}/videos``."""
    return _page(
        conn, q.SOUND_VIDEOS, query, _video, parent=sound_id, parent_exists=lambda: q.exists(conn, "sounds", sound_id)
    )


def list_community_videos(conn: psycopg.Connection[Any], ident: str, query: ListQuery) -> Page[VideoItem]:
    """``GET /communities/{id}/videos`` (id or slug)."""
    return _page(conn, q.COMMUNITY_VIDEOS, query, _video, parent=community_id(conn, ident))


def list_creators(conn: psycopg.Connection[Any], query: ListQuery) -> Page[CreatorItem]:
    """``GET /creators``."""
    return _page(conn, q.CREATORS, query, _creator)


def list_hashtag_creators(conn: psycopg.Connection[Any], tag: str, query: ListQuery) -> Page[HashtagCreatorItem]:
    """``GET /hashtags/{tag}/creators``: each creator's figures within the hashtag (their videos carrying it);
    ``hashtagVideos`` repeats the video count. ``sort=followers`` ranks by the creator's own follower count."""
    key = hashtag_key(tag)
    return _page(
        conn,
        q.HASHTAG_CREATORS,
        query,
        HashtagCreatorItem.model_validate,
        parent=key,
        parent_exists=lambda: q.exists(conn, "hashtags", key),
    )


def list_sound_creators(conn: psycopg.Connection[Any], sound_id: str, query: ListQuery) -> Page[CreatorItem]:
    """``GET /sounds/{id}/creators``: each creator's figures within the sound."""
    return _page(
        conn,
        q.SOUND_CREATORS,
        query,
        _creator,
        parent=sound_id,
        parent_exists=lambda: q.exists(conn, "sounds", sound_id),
    )


def list_community_creators(conn: psycopg.Connection[Any], ident: str, query: ListQuery) -> Page[CreatorItem]:
    """``GET /communities/{id}/creators``: each creator's figures within the community."""
    return _page(conn, q.COMMUNITY_CREATORS, query, _creator, parent=community_id(conn, ident))


def list_sounds(conn: psycopg.Connection[Any], query: ListQuery) -> Page[SoundItem]:
    """``GET /sounds``."""
    return _page(conn, q.SOUNDS, query, SoundItem.model_validate)


def list_hashtags(conn: psycopg.Connection[Any], query: ListQuery) -> Page[HashtagItem]:
    """``GET /hashtags``; with ``platform`` the figures (and the sorts on them) are that platform's own."""
    spec = q.PLATFORM_HASHTAGS if query.platform else q.HASHTAGS
    return _page(conn, spec, query, HashtagItem.model_validate)


def list_communities(conn: psycopg.Connection[Any], query: ListQuery) -> Page[CommunityItem]:
    """``GET /communities``; with ``platform`` the figures are that platform's own."""
    spec = q.PLATFORM_COMMUNITIES if query.platform else q.COMMUNITIES
    return _page(conn, spec, query, CommunityItem.model_validate)


def list_community_hashtags(conn: psycopg.Connection[Any], ident: str, query: ListQuery) -> Page[CommunityHashtagItem]:
    """``GET /communities/{id}/hashtags``: the hashtags' figures within the community."""
    return _page(
        conn, q.COMMUNITY_HASHTAGS, query, CommunityHashtagItem.model_validate, parent=community_id(conn, ident)
    )


# ----------------------------------------------------------------------------------------------------- details
def get_video(conn: psycopg.Connection[Any], video_id: str) -> VideoDetail:
    """``GET /videos/{id}``."""
    row = q.fetch_video(conn, video_id)
    if row is None:
        raise NotFoundError(f"no video {video_id!r}")
    sound = {"id": row["sound_id"], "title": row["sound_title"], "author": row["sound_author"]}
    return VideoDetail.model_validate(
        {**row, "creator": _creator_ref(row), "sound": sound if row["sound_id"] else None}
    )


def get_video_history(
    conn: psycopg.Connection[Any], video_id: str, limit: int, cursor: str | None, cursor_key: bytes = DEFAULT_KEY
) -> VideoHistory:
    """``GET /videos/{id}/history``: the video's metric snapshots, oldest first."""
    scope = scope_of("video_history", video_id)
    after = decode_cursor(cursor, scope, "ts", False, key=cursor_key).value if cursor is not None else None
    rows, last = q.fetch_history(conn, video_id, after, limit)
    if not rows and not conn.execute("SELECT 1 FROM videos_hot WHERE video_id = %s", (video_id,)).fetchone():
        raise NotFoundError(f"no video {video_id!r}")
    next_cursor = encode_cursor(scope, q.Keyset(last, ""), cursor_key) if last is not None else None
    return VideoHistory(
        video_id=video_id, data=[HistoryPoint.model_validate(r) for r in rows], next_cursor=next_cursor, limit=limit
    )


def get_creator(conn: psycopg.Connection[Any], creator_id: str) -> CreatorDetail:
    """``GET /creators/{id}`` (TikTok handles are stored lower-case: the path's case does not matter for them)."""
    row = q.fetch_creator(conn, creator_id) or q.fetch_creator(conn, creator_id.lower().lstrip("@"))
    if row is None:
        raise NotFoundError(f"no creator {creator_id!r}")
    return CreatorDetail.model_validate(row)


def get_sound(conn: psycopg.Connection[Any], sound_id: str) -> SoundDetail:
    """``GET /sounds/{id}``."""
    row = q.fetch_sound(conn, sound_id)
    if row is None:
        raise NotFoundError(f"no sound {sound_id!r}")
    return SoundDetail.model_validate(row)


def get_hashtag(conn: psycopg.Connection[Any], tag: str) -> HashtagDetail:
    """``GET /hashtags/{tag}`` (``#CarEdit``, ``CarEdit`` and ``caredit`` are one hashtag)."""
    row = q.fetch_hashtag(conn, hashtag_key(tag))
    if row is None:
        raise NotFoundError(f"no hashtag {tag!r}")
    return HashtagDetail.model_validate(row)


def get_community(conn: psycopg.Connection[Any], ident: str) -> CommunityDetail:
    """``GET /communities/{id}`` by id or slug."""
    number = int(ident) if ident.isascii() and ident.isdigit() and len(ident) <= 18 else None
    row = q.fetch_community(conn, community_id=number, slug=ident)
    if row is None:
        raise NotFoundError(f"no community {ident!r}")
    return CommunityDetail.model_validate(row)
