"""Pure checks of the API's declarations: template.yaml's routes are the resolver's, cursors refuse tampering."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from reelrank.api.resolver import OPENAPI_PATH, SWAGGER_PATH, app
from reelrank.db.rankings import Keyset
from reelrank.errors import InvalidParameterError
from reelrank.services.cursors import decode_cursor, encode_cursor, scope_of
from reelrank.services.rankings import like_pattern
from reelrank_dev.sam_template import load_template
from reelrank_dev.serve import api_routes, check_admin

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_template_routes_are_the_resolvers_routes() -> None:
    # Given the resolver's operations (its OpenAPI document plus the two documentation routes)
    document = app.get_openapi_schema()
    resolver = {(m.upper(), p) for p, item in document.paths.items() for m in ("get", "post") if getattr(item, m, None)}
    resolver |= {("GET", OPENAPI_PATH), ("GET", SWAGGER_PATH)}
    # When template.yaml's Api events are read the way `reelrank serve` reads them
    template = {(r.method, r.path) for r in api_routes(load_template(TEMPLATE)) if r.logical_id == "RankingApiFunction"}
    # Then both are the same set, parameter names included
    assert template == resolver
    assert len(template) == 27


def test_admin_routes_and_only_they_need_aws_iam() -> None:
    routes = api_routes(load_template(TEMPLATE))
    assert {r.path for r in routes if r.iam_auth} == {r.path for r in routes if r.path.startswith("/admin/")}
    assert not any("{proxy+}" in r.path for r in routes)


def test_every_list_route_declares_400_and_every_nested_one_404() -> None:
    document = app.get_openapi_schema()
    for path, item in document.paths.items():
        if item.get is None or path.startswith("/admin"):
            continue
        codes = set(item.get.responses or {})
        assert {200, 400} <= {int(c) for c in codes}, path
        if "{" in path:
            assert 404 in {int(c) for c in codes}, path


@pytest.mark.parametrize(
    ("value", "kind"), [(12, "int"), (Decimal("5005.00"), "dec"), ("caredit", "text"), (None, "ts")]
)
def test_cursor_round_trip(value: object, kind: str) -> None:
    scope = scope_of("videos", "views", None)
    cursor = encode_cursor(scope, Keyset(value, "7506612233445566778"))
    assert decode_cursor(cursor, scope, kind, False, nullable=True) == Keyset(value, "7506612233445566778")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: "x" + c,  # payload changed
        lambda c: c.replace(".", ""),  # no signature
        lambda c: c + ".x",
        lambda c: "é" * 10,
        lambda c: "a" * 5000,
    ],
)
def test_edited_cursors_are_refused(mutate: object) -> None:
    scope = scope_of("videos", "views")
    cursor = encode_cursor(scope, Keyset(10, "7506612233445566778"))
    with pytest.raises(InvalidParameterError) as info:
        decode_cursor(mutate(cursor), scope, "int", False)  # type: ignore[operator]
    assert info.value.parameter == "cursor"


def test_a_cursor_of_another_list_or_key_is_refused() -> None:
    cursor = encode_cursor(scope_of("videos", "views"), Keyset(10, "a"))
    with pytest.raises(InvalidParameterError, match="another list"):
        decode_cursor(cursor, scope_of("videos", "impact"), "int", False)
    with pytest.raises(InvalidParameterError, match="tampered"):
        decode_cursor(cursor, scope_of("videos", "views"), "int", False, key=b"other key")
    with pytest.raises(InvalidParameterError, match="sort value"):
        decode_cursor(cursor, scope_of("videos", "views"), "ts", False)


@pytest.mark.parametrize(
    ("text", "pattern"), [("50%", "%50\\%%"), ("a_b", "%a\\_b%"), ("c:\\d", "%c:\\\\d%"), ("plain", "%plain%")]
)
def test_like_pattern_escapes_wildcards(text: str, pattern: str) -> None:
    assert like_pattern(text) == pattern


@pytest.mark.parametrize(
    ("header", "token", "expected"),
    [
        (None, "t0ken", 401),
        ("", "t0ken", 401),
        ("Bearer wrong", "t0ken", 403),
        ("Basic t0ken", "t0ken", 403),
        ("Bearer t0ken", None, 403),
        ("Bearer t0ken", "t0ken", None),
        ("bearer t0ken", "t0ken", None),
    ],
)
def test_local_admin_auth(header: str | None, token: str | None, expected: int | None) -> None:
    assert check_admin(header, token) == expected
