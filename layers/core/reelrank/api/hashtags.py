"""``/hashtags``: the hashtag rankings, one hashtag, its videos and its creators."""

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
    Tag,
    TimeRange,
    clean,
    list_query,
)
from reelrank.db.connection import get_connection
from reelrank.models.api import HashtagCreatorItem, HashtagDetail, HashtagItem, Page, VideoItem
from reelrank.services import rankings
from reelrank.settings import get_api_settings

router = Router()

HashtagSort = Annotated[
    Literal["views", "impact", "likes", "videos", "creators", "trending", "recent", "alphabetical"],
    Query(
        description="views (default); impact; likes; videos; creators; trending: most views gained in the last 7 days "
        "first (`trendScore`: each video's latest views minus its views when the 7 days began, by its metric "
        "snapshots; a video posted inside them counts all its views; with `platform`, that platform's videos only); "
        "recent; alphabetical."
    ),
]
NestedVideoSort = Annotated[
    Literal["views", "impact", "recent"],
    Query(description="views (default); impact; recent: newest posted first."),
]
NestedCreatorSort = Annotated[
    Literal["views", "impact", "likes", "followers", "videos"],
    Query(description="views (default), impact, likes, videos: the creators' figures within the hashtag (their videos "
          "carrying it); followers: the creator's own follower count (unknown last)."),
]  # fmt: skip


@router.get(
    "/",
    summary="List hashtags",
    description="Hashtags ranked by total views (default), Impact, likes, videos, creators, trend, recency or name. "
    "With `platform` every figure is that platform's own.",
    responses=LIST_RESPONSES,
    tags=["hashtags"],
)
def list_hashtags(
    sort: HashtagSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
    time_range: TimeRange = None,
) -> Page[HashtagItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search,
        time_range=time_range,
    )  # fmt: skip
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_hashtags(get_connection(), query)


@router.get(
    "/<tag>",
    summary="Get a hashtag",
    description="One hashtag with its blended totals and each platform's own.",
    responses=DETAIL_RESPONSES,
    tags=["hashtags"],
)
def get_hashtag(tag: Tag) -> HashtagDetail:
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.get_hashtag(get_connection(), clean(tag))


@router.get(
    "/<tag>/videos",
    summary="A hashtag's videos",
    description="The videos carrying the hashtag, by views (default), Impact or posting time.",
    responses=NESTED_RESPONSES,
    tags=["hashtags"],
)
def list_hashtag_videos(
    tag: Tag,
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
        return rankings.list_hashtag_videos(get_connection(), clean(tag), query)


@router.get(
    "/<tag>/creators",
    summary="A hashtag's creators",
    description="The creators with a video carrying the hashtag.",
    responses=NESTED_RESPONSES,
    tags=["hashtags"],
)
def list_hashtag_creators(
    tag: Tag,
    sort: NestedCreatorSort = "views",
    limit: Limit = 50,
    cursor: Cursor = None,
    platform: Platform = None,
    impact_min: ImpactMin = None,
    impact_max: ImpactMax = None,
    search: Search = None,
) -> Page[HashtagCreatorItem]:
    query = list_query(
        sort, limit, cursor, platform=platform, impact_min=impact_min, impact_max=impact_max, search=search
    )
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.list_hashtag_creators(get_connection(), clean(tag), query)
