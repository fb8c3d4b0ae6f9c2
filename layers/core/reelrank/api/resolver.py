"""The ranking API's resolver: routers mounted, errors mapped to HTTP in one place, OpenAPI and Swagger UI served.

Every error body is :class:`~reelrank.models.api.ErrorOutput`. Invalid query or path parameters are a 400 whose
message names the parameter (and the allowed values of an enumeration); an invalid admin body is a 422 naming the
field; unknown or repeated query parameters are a 400 listing the route's parameters; an unknown entity is a 404.
Anything unexpected is logged with its stack and answered with a generic 500 that reveals nothing.

Successful read responses carry ``Cache-Control: public, max-age=…, s-maxage=…`` for a CDN in front; errors and the
admin routes carry ``no-store``.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import Server, Tag

from reelrank.api import admin, communities, creators, hashtags, sounds, videos
from reelrank.errors import InvalidParameterError, InvalidWeightsError, NotFoundError
from reelrank.models.api import ErrorOutput
from reelrank.observability import logger
from reelrank.services.ingest import IngestEventError
from reelrank.settings import get_api_settings

TITLE = "reelrank ranking API"
VERSION = "1.0.0"
SWAGGER_PATH = "/swagger"
OPENAPI_PATH = "/openapi.json"
DESCRIPTION = (
    "Rankings of short videos, creators, sounds, hashtags and communities by views (the default) or by the "
    "comment-weighted Impact Score. Lists are keyset-paginated: pass `next_cursor` back as `cursor`. "
    "Admin routes need AWS_IAM credentials (a bearer token on the local API)."
)
TAGS: list[Tag | str] = [
    Tag(name="videos"),
    Tag(name="creators"),
    Tag(name="sounds"),
    Tag(name="hashtags"),
    Tag(name="communities"),
    Tag(name="admin", description="Operator routes: AWS_IAM in AWS."),
]


def _error(status: HTTPStatus, error: str, message: str, **extra: Any) -> Response[Any]:
    body = ErrorOutput(error=error, message=message, **extra).model_dump(exclude_none=True)
    return Response(status, content_type="application/json", body=body, headers={"Cache-Control": "no-store"})


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, str, list[str] | None, bool]:
    """(parameter, message, allowed values, is a body error) of the first validation error."""
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    in_body = bool(loc) and loc[0] == "body"
    parameter = ".".join(loc[1:]) if len(loc) > 1 else (loc[0] if loc else "request")
    expected = (first.get("ctx") or {}).get("expected")
    allowed = None
    if isinstance(expected, str) and "'" in expected:
        allowed = [part.strip().strip("'") for part in expected.replace(" or ", ", ").split(",") if part.strip()]
    message = f"{parameter}: {first.get('msg', 'invalid')}"
    if allowed:
        message = f"{parameter}: must be one of {', '.join(allowed)}"
    return parameter or "body", message, allowed, in_body


def _route_parameters(app: APIGatewayRestResolver) -> set[str] | None:
    route = app.context.get("_route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    return {str(getattr(p, "alias", None) or p.name) for p in dependant.query_params}


def reject_unknown_parameters(
    app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]
) -> Response[Any]:
    """A query parameter the route does not declare, or one given twice, is a 400 naming it (never ignored)."""
    allowed = _route_parameters(app)
    if allowed is not None and app.current_event.path != SWAGGER_PATH:
        multi = app.current_event.multi_value_query_string_parameters or {}
        single = app.current_event.query_string_parameters or {}
        for name in sorted(set(multi) | set(single)):
            if name not in allowed:
                listed = ", ".join(sorted(allowed)) or "none"
                raise InvalidParameterError(
                    name, f"{name}: unknown parameter; this route takes {listed}", sorted(allowed)
                )
            if len(multi.get(name) or ()) > 1:
                raise InvalidParameterError(name, f"{name}: given more than once; give it once")
    return next_middleware(app)


def cache_control(app: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """Successful public GETs may be cached by browsers and a CDN; everything else is ``no-store``."""
    response = next_middleware(app)
    path = app.current_event.path
    if app.current_event.http_method == "GET" and response.status_code == 200 and not path.startswith("/admin"):
        settings = get_api_settings()
        value = f"public, max-age={settings.api_cache_max_age_s}, s-maxage={settings.api_cdn_max_age_s}"
    else:
        value = "no-store"
    response.headers.setdefault("Cache-Control", value)
    return response


def build_resolver() -> APIGatewayRestResolver:
    """The API: every router mounted, error handlers, middlewares, ``/openapi.json`` and ``/swagger``."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.use(middlewares=[cache_control, reject_unknown_parameters])
    app.include_router(videos.router, prefix="/videos")
    app.include_router(creators.router, prefix="/creators")
    app.include_router(sounds.router, prefix="/sounds")
    app.include_router(hashtags.router, prefix="/hashtags")
    app.include_router(communities.router, prefix="/communities")
    app.include_router(admin.router, prefix="/admin")
    app.configure_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, tags=TAGS)
    app.enable_swagger(path=SWAGGER_PATH, title=TITLE, version=VERSION, description=DESCRIPTION, tags=TAGS)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi_document() -> Response[str]:
        base = app.current_event.request_context.stage
        servers = [Server(url=f"/{base}")] if base and base != "$default" and _behind_stage(app) else None
        document = app.get_openapi_json_schema(
            title=TITLE, version=VERSION, description=DESCRIPTION, tags=TAGS, servers=servers
        )
        return Response(HTTPStatus.OK, content_type="application/json", body=document)

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response[Any]:
        parameter, message, allowed, in_body = _describe_validation(list(exc.errors()))
        logger.info("invalid request", parameter=parameter, detail=message)
        status = HTTPStatus.UNPROCESSABLE_ENTITY if in_body else HTTPStatus.BAD_REQUEST
        return _error(
            status, "invalid_body" if in_body else "invalid_parameter", message, parameter=parameter, allowed=allowed
        )

    @app.exception_handler(InvalidParameterError)
    def invalid_parameter(exc: InvalidParameterError) -> Response[Any]:
        logger.info("invalid parameter", parameter=exc.parameter, detail=str(exc))
        return _error(
            HTTPStatus.BAD_REQUEST, "invalid_parameter", str(exc), parameter=exc.parameter, allowed=exc.allowed
        )

    @app.exception_handler([IngestEventError, InvalidWeightsError])
    def invalid_body(exc: Exception) -> Response[Any]:
        logger.info("invalid body", detail=str(exc))
        return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_body", str(exc))

    @app.exception_handler(NotFoundError)
    def not_found_entity(exc: NotFoundError) -> Response[Any]:
        return _error(HTTPStatus.NOT_FOUND, "not_found", str(exc))

    @app.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return _error(
            HTTPStatus.NOT_FOUND, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "internal error; it has been logged")

    return app


def _behind_stage(app: APIGatewayRestResolver) -> bool:
    """Whether the request came through a deployed stage (its path then starts with the stage name)."""
    request_path = app.current_event.request_context.path or ""
    return request_path.startswith(f"/{app.current_event.request_context.stage}/")


app = build_resolver()
