"""``/communities``: the community rankings, one community (by id or slug), its videos, creators and hashtags."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from reelrank.api.params import (
    DETAIL_RESPONSES,
    LIST_RESPONSES,
    NESTED_RESPONSES,
    CommunityIdent,
    Cursor,
    ImpactMax,
    ImpactMin,
    Limit,
    Platform,
    Search,
    TimeRange,
    clean,
    list_query,
)
from reelrank.db.connection import get_connection
from reelrank.models.api import CommunityDetail, CommunityHashtagItem, CommunityItem, CreatorItem, Page, VideoItem
from reelrank.services import rankings
from reelrank.settings import get_api_settings

router = Router()

CommunitySort = Annotated[
    Literal["views", "impact", "likes", "videos", "creators", "alphabetical"],
    Query(description="views (default); impact; likes; videos; creators; alphabetical (by name)."),
]
NestedVideoSort = Annotated[
    Literal["views", "impact", "recent"],
    Query(description="views (default); impact; recent: newest posted first."),
]
NestedSort = Annotated[
    Literal["views", "impact", "videos"],
    Query(description="Figures within the community: views (default), impact, videos."),
]
NestedCreatorSort = Annotated[
    Literal["views", "impact", "followers", "videos"],
    Query(
        description="Figures within the community: views (default), impact, videos; followers: the creator's own "
        "follower count (unknown last)."
    ),
]


@router.get(
    "/",
    summary="List communities",
    description="Communities ranked by total views (default), Impact, likes, videos, creators or name. With "
    "`platform` every figure is that platform's own.",
    responses=LIST_RESPONSES,
    tags=["communities"],
)
def list_communities(
    sort: CommunitySort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
) -> Page[CommunityItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search
    )
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_communities(get_connection(), query)


@router.get(
    "/<community>",
    summary="Get a community",
    description="One community by id or slug, with its blended totals and each platform's own.",
    responses=DETAIL_RESPONSES,
    tags=["communities"],
)
def get_community(community: CommunityIdent) -> CommunityDetail:
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.get_community(get_connection(), clean(community))


@router.get(
    "/<community>/videos",
    summary="A community's videos",
    description="The community's videos by views (default), Impact or posting time.",
    responses=NESTED_RESPONSES,
    tags=["communities"],
)
def list_community_videos(
    community: CommunityIdent,
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
        return rankings.list_community_videos(get_connection(), clean(community), query)


@router.get(
    "/<community>/creators",
    summary="A community's creators",
    description="The community's creators with their videos, views, likes and Impact within it.",
    responses=NESTED_RESPONSES,
    tags=["communities"],
)
def list_community_creators(
    community: CommunityIdent,
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
        return rankings.list_community_creators(get_connection(), clean(community), query)


@router.get(
    "/<community>/hashtags",
    summary="A community's hashtags",
    description="The hashtags of the community's videos with their videos, views and Impact within it.",
    responses=NESTED_RESPONSES,
    tags=["communities"],
)
def list_community_hashtags(
    community: CommunityIdent,
    sort: NestedSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
) -> Page[CommunityHashtagItem]:
    query = list_query(sort, limit, cursor, impact_min=impact_min, impact_max=impact_max, search=search)
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_community_hashtags(get_connection(), clean(community), query)
