"""Helpers of the API tests: a catalogue ingested through the real ingest path, and API Gateway events through the
RankingApiFunction handler in process (the same loader ``reelrank invoke`` and ``reelrank serve`` use)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest

from reelrank.services.ingest import handle_ingest_event
from reelrank_dev import local_lambda
from reelrank_dev.generate import Catalogue, Generator
from reelrank_dev.sam_template import function_spec, load_template
from reelrank_dev.serve import ApiRoute, api_routes, build_event

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
SNAPSHOTS = REPO / "tests" / "fixtures" / "snapshots"
FIXTURE_FILES = ("brightdata_tiktok.json", "apify_tiktok.json", "youtube_videos_list.json", "tiktok_research_api.json")
COMMUNITIES = [("phonk-edits", "Phonk Edits", ["phonk", "tag0"]), ("car-culture", "Car Culture", ["tag1", "edit"])]


def seed_catalogue(url: str, generated: int = 300) -> None:
    """Communities first (memberships are kept by ingest), then the fixture snapshots and ``generated`` synthetic
    Bright Data videos, all through ``handle_ingest_event``."""
    with psycopg.connect(url, autocommit=True) as conn:
        for slug, name, tags in COMMUNITIES:
            conn.execute(
                "INSERT INTO communities (slug, name, linked_hashtags) VALUES (%s, %s, %s)", (slug, name, tags)
            )
        for name in FIXTURE_FILES:
            payload = json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))
            records = payload if isinstance(payload, list) else [payload]
            assert handle_ingest_event({"snapshot_id": f"api-{name}", "records": records}, conn).status == "completed"
        if generated:
            records = list(Generator(Catalogue(videos=generated)).records(range(generated)))
            result = handle_ingest_event({"snapshot_id": "api-generated", "records": records}, conn)
            assert result.accepted == generated, result


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any


def function_environment() -> dict[str, str]:
    """RankingApiFunction's template environment plus the Lambda runtime's variables (what ``reelrank invoke`` sets)."""
    template = load_template(TEMPLATE)
    spec = function_spec(template, "RankingApiFunction", environ={}, template_dir=REPO)
    return local_lambda.local_environment(spec, {})


@contextmanager
def api_environment(database_url: str) -> Iterator[None]:
    """The function's environment pointed at ``database_url``, with fresh settings and connection caches.

    The Metrics object was created at import time, before the template's namespace was in the environment (in
    Lambda the environment comes first), so its namespace is set here too.
    """
    from reelrank.db.connection import reset_connection
    from reelrank.observability import metrics
    from reelrank.settings import get_api_settings, get_database_settings

    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**function_environment(), "DATABASE_URL": database_url}.items():
            mp.setenv(key, value)
        mp.setattr(metrics, "namespace", os.environ["POWERTOOLS_METRICS_NAMESPACE"])
        get_database_settings.cache_clear()
        get_api_settings.cache_clear()
        reset_connection()
        try:
            yield
        finally:
            reset_connection()
            get_database_settings.cache_clear()
            get_api_settings.cache_clear()


class ApiClient:
    """Calls RankingApiFunction's handler with REST proxy events built like ``reelrank serve`` builds them."""

    def __init__(self) -> None:
        template = load_template(TEMPLATE)
        self.spec = function_spec(template, "RankingApiFunction", environ={}, template_dir=REPO)
        self.routes = [r for r in api_routes(template) if r.logical_id == "RankingApiFunction"]
        self.handler = local_lambda.load_handler(self.spec)

    def call(
        self, method: str, path: str, query: dict[str, Any] | list[tuple[str, Any]] | None = None, body: Any = None
    ) -> ApiResponse:
        segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        route = next((r for r in self.routes if r.method == method and r.match(segments) is not None), None)
        if route is None:  # no template route: the resolver still answers (API Gateway would not reach it)
            route = ApiRoute(method, path, "RankingApiFunction", False)
        raw = json.dumps(body).encode() if body is not None else b""
        qs = urlencode(query or {}, doseq=False)
        event = build_event(route, method, segments, route.match(segments) or {}, qs, [], raw)
        result = self.handler(event, local_lambda.build_context(self.spec))
        headers: dict[str, str] = dict(result.get("headers") or {})
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers.setdefault(key, values[-1])
        text = result.get("body") or ""
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return ApiResponse(result["statusCode"], headers, parsed)

    def get(self, path: str, **query: Any) -> ApiResponse:
        return self.call("GET", path, {k: v for k, v in query.items() if v is not None})

    def walk(self, path: str, **query: Any) -> list[dict[str, Any]]:
        """Every item of a list, following next_cursor page by page."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            page = self.get(path, cursor=cursor, **query)
            assert page.status == 200, page.body
            items.extend(page.body["data"])
            cursor = page.body["next_cursor"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")
