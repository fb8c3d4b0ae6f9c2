"""Query and path parameters the API's routes share, declared once with their constraints and documentation."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from reelrank.errors import InvalidParameterError, NotFoundError
from reelrank.models.api import ErrorOutput
from reelrank.services.rankings import ListQuery
from reelrank.settings import get_api_settings

Limit = Annotated[int, Query(ge=1, le=100, description="Rows per page, 1-100.")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=1024,
        description="The `next_cursor` of the previous page of this same list (same sort and filters).",
    ),
]
Platform = Annotated[
    Literal["tiktok", "youtube"] | None,
    Query(description="Only this platform's rows; totals become that platform's own (never blended)."),
]
ImpactMin = Annotated[
    float | None,
    Query(ge=0, le=1e22, description="Only rows whose Impact (total Impact for entities) is at least this."),
]
ImpactMax = Annotated[
    float | None,
    Query(ge=0, le=1e22, description="Only rows whose Impact (total Impact for entities) is at most this."),
]
Search = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Case-insensitive substring; `%`, `_` and `\\` match themselves."),
]
TimeRange = Annotated[
    Literal["24h", "7d", "30d", "1y", "all"] | None,
    Query(description="Only videos posted within this window (entities: active within it)."),
]
HistoryLimit = Annotated[int, Query(ge=1, le=100, description="Observations per page, 1-100.")]

VideoId = Annotated[str, Path(min_length=1, max_length=64, description="The platform's video id.")]
CreatorId = Annotated[str, Path(min_length=1, max_length=128, description="TikTok handle or YouTube channel id.")]
SoundId = Annotated[str, Path(min_length=1, max_length=64, description="The platform's sound id.")]
Tag = Annotated[str, Path(min_length=1, max_length=200, description="The hashtag, with or without `#`, any case.")]
CommunityIdent = Annotated[str, Path(min_length=1, max_length=100, description="The community's id or slug.")]


def error_response(description: str) -> OpenAPIResponse:
    """An OpenAPI response whose body is an :class:`ErrorOutput`."""
    return {"description": description, "content": {"application/json": {"model": ErrorOutput}}}


_BAD_PARAMETER = error_response(
    "A parameter is unknown, repeated or invalid; the message names it (and the allowed values)."
)
LIST_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "One page; `next_cursor` is null on the last page."},
    400: _BAD_PARAMETER,
}
NESTED_RESPONSES: dict[int, OpenAPIResponse] = {**LIST_RESPONSES, 404: error_response("No such parent entity.")}
DETAIL_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {"description": "The entity."},
    400: _BAD_PARAMETER,
    404: error_response("No such entity."),
}


def clean(value: str) -> str:
    """A path value safe to bind: text PostgreSQL can store (no NUL, valid UTF-8), else the entity cannot exist."""
    if "\x00" in value:
        raise NotFoundError("not found")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NotFoundError("not found") from exc
    return value


def list_query(
    sort: str,
    limit: int,
    cursor: str | None,
    *,
    platform: str | None = None,
    impact_min: float | None = None,
    impact_max: float | None = None,
    search: str | None = None,
    time_range: str | None = None,
) -> ListQuery:
    """The service's query from a route's validated parameters."""
    if search is not None:
        if "\x00" in search:
            raise InvalidParameterError("search", "search: must not contain NUL characters")
        try:
            search.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidParameterError("search", "search: must be valid UTF-8 text") from exc
    return ListQuery(
        sort=sort,
        limit=limit,
        cursor=cursor,
        platform=platform,
        impact_min=Decimal(repr(impact_min)) if impact_min is not None else None,
        impact_max=Decimal(repr(impact_max)) if impact_max is not None else None,
        search=search,
        time_range=time_range,
        cursor_key=get_api_settings().cursor_key,
    )
