"""`reelrank serve` turns HTTP requests into API Gateway REST proxy events: they must be events API Gateway could send."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from reelrank_dev.sam_template import load_template
from reelrank_dev.serve import ApiRoute, api_routes, build_event
from tests.conftest import REPO_ROOT

ROUTES = api_routes(load_template(REPO_ROOT / "template.yaml"))


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_builds_an_event_the_api_gateway_model_accepts(route: ApiRoute) -> None:
    # Given a request for the route, with its path parameters filled in
    segments = tuple("x1" if s.startswith("{") else s for s in route.segments)
    params = route.match(segments) or {}
    body = b'{"mode": "stale"}' if route.method == "POST" else b""

    # When the local API builds the proxy event
    event = build_event(route, route.method, segments, params, "limit=5&limit=6", [("Accept", "*/*")], body)

    # Then Powertools' own model of an API Gateway REST event accepts it, with the fields handlers read
    model = APIGatewayProxyEventModel.model_validate(event)
    assert model.requestContext.requestTimeEpoch is not None
    assert event["multiValueQueryStringParameters"] == {"limit": ["5", "6"]}
    assert event["queryStringParameters"] == {"limit": "6"}
    assert event["pathParameters"] == (params or None)
