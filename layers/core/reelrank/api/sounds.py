"""``/sounds``: the sound rankings, one sound, its videos and its creators."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from reelrank.api.params import (
    DETAIL_RESPONSES,
    LIST_RESPONSES,
    NESTED_RESPONSES,
    Cursor,
    ImpactMax,
    ImpactMin,
    Limit,
    Platform,
    Search,
    SoundId,
    TimeRange,
    clean,
    list_query,
)
from reelrank.db.connection import get_connection
from reelrank.models.api import CreatorItem, Page, SoundDetail, SoundItem, VideoItem
from reelrank.services import rankings
from reelrank.settings import get_api_settings

router = Router()

SoundSort = Annotated[
    Literal["views", "impact", "likes", "videos", "recent", "alphabetical"],
    Query(description="views (default); impact; likes; videos; recent: most recently used first; alphabetical."),
]
NestedVideoSort = Annotated[
    Literal["views", "impact", "recent"],
    Query(description="views (default); impact; recent: newest posted first."),
]
NestedCreatorSort = Annotated[
    Literal["views", "impact", "likes", "followers", "videos"],
    Query(
        description="The creators' figures within this sound: views (default), impact, likes, videos; followers: the "
        "creator's own follower count (unknown last)."
    ),
]


@router.get(
    "/",
    summary="List sounds",
    description="Sounds ranked by their videos' total views (default), total Impact, likes, videos, recency or name. "
    "Sounds are TikTok's: `platform=youtube` lists none.",
    responses=LIST_RESPONSES,
    tags=["sounds"],
)
def list_sounds(
    sort: SoundSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
    time_range: TimeRange = None,
) -> Page[SoundItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search,
        time_range=time_range,
    )  # fmt: skip
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_sounds(get_connection(), query)


@router.get(
    "/<sound_id>",
    summary="Get a sound",
    description="One sound with its totals.",
    responses=DETAIL_RESPONSES,
    tags=["sounds"],
)
def get_sound(sound_id: SoundId) -> SoundDetail:
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.get_sound(get_connection(), clean(sound_id))


@router.get(
    "/<sound_id>/videos",
    summary="A sound's videos",
    description="The videos using the sound, by views (default), Impact or posting time.",
    responses=NESTED_RESPONSES,
    tags=["sounds"],
)
def list_sound_videos(
    sound_id: SoundId,
    sort: NestedVideoSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
    time_range: TimeRange = None,
) -> Page[VideoItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search,
        time_range=time_range,
    )  # fmt: skip
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_sound_videos(get_connection(), clean(sound_id), query)


@router.get(
    "/<sound_id>/creators",
    summary="A sound's creators",
    description="The creators who used the sound, with their videos, views, likes and Impact within it.",
    responses=NESTED_RESPONSES,
    tags=["sounds"],
)
def list_sound_creators(
    sound_id: SoundId,
    sort: NestedCreatorSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
) -> Page[CreatorItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search
    )
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_sound_creators(get_connection(), clean(sound_id), query)
