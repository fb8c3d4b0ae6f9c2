"""``/videos``: the video rankings, one video, and its metric history."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from reelrank.api.params import (
    DETAIL_RESPONSES,
    LIST_RESPONSES,
    Cursor,
    HistoryLimit,
    ImpactMax,
    ImpactMin,
    Limit,
    Platform,
    Search,
    TimeRange,
    VideoId,
    clean,
    list_query,
)
from reelrank.db.connection import get_connection
from reelrank.models.api import Page, VideoDetail, VideoHistory, VideoItem
from reelrank.services import rankings
from reelrank.settings import get_api_settings

router = Router()

VideoSort = Annotated[
    Literal["views", "impact", "likes", "recent"],
    Query(description="views (default): most viewed first; impact; likes; recent: newest posted first."),
]


@router.get(
    "/",
    summary="List videos",
    description="Videos ranked by views (default), Impact, likes or posting time, filtered and keyset-paginated.",
    responses=LIST_RESPONSES,
    tags=["videos"],
)
def list_videos(
    sort: VideoSort = "views",
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
        return rankings.list_videos(get_connection(), query)


@router.get(
    "/<video_id>",
    summary="Get a video",
    description="One video with its creator, hashtags, sound, communities and Impact beside its counts.",
    responses=DETAIL_RESPONSES,
    tags=["videos"],
)
def get_video(video_id: VideoId) -> VideoDetail:
    with rankings.read_only(get_connection(), get_api_settings().api_read_role):
        return rankings.get_video(get_connection(), clean(video_id))


@router.get(
    "/<video_id>/history",
    summary="A video's metric history",
    description="The video's observed counts over time, oldest first (for growth charts); keyset-paginated.",
    responses=DETAIL_RESPONSES,
    tags=["videos"],
)
def get_video_history(video_id: VideoId, limit: HistoryLimit = 100, cursor: Cursor = None) -> VideoHistory:
    conn = get_connection()
    settings = get_api_settings()
    with rankings.read_only(conn, settings.api_read_role):
        return rankings.get_video_history(conn, clean(video_id), limit, cursor, settings.cursor_key)
