"""``/creators``: the creator rankings and one creator."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from reelrank.api.params import (
    DETAIL_RESPONSES,
    LIST_RESPONSES,
    CreatorId,
    Cursor,
    ImpactMax,
    ImpactMin,
    Limit,
    Platform,
    Search,
    clean,
    list_query,
)
from reelrank.db.connection import get_connection
from reelrank.models.api import CreatorDetail, CreatorItem, Page
from reelrank.services import rankings
from reelrank.settings import get_api_settings

router = Router()

CreatorSort = Annotated[
    Literal["views", "impact", "likes", "followers", "videos", "alphabetical"],
    Query(description="views (default): total views of their videos; impact; likes; followers; videos; alphabetical."),
]


@router.get(
    "/",
    summary="List creators",
    description="Creators ranked by their videos' total views (default), total Impact, likes, followers or videos.",
    responses=LIST_RESPONSES,
    tags=["creators"],
)
def list_creators(
    sort: CreatorSort = "views",
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
        return rankings.list_creators(get_connection(), query)


@router.get(
    "/<creator_id>",
    summary="Get a creator",
    description="One creator with their totals (TikTok: the handle, any case; YouTube: the channel id).",
    responses=DETAIL_RESPONSES,
    tags=["creators"],
)
def get_creator(creator_id: CreatorId) -> CreatorDetail:
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.get_creator(get_connection(), clean(creator_id))
