"""The API over real HTTP through ``reelrank serve``, and schemathesis against the OpenAPI document it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import create_test_database, drop_test_database
from tests.integration.api_helpers import seed_catalogue

TOKEN = "e2e-admin-token"
EXAMPLES_PER_OPERATION = 60  # 20 read/doc operations x 60 > 1,000 generated requests


@pytest.fixture(scope="module")
def base_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    url = create_test_database(pg_admin_url, template_db)
    seed_catalogue(url, 200)
    env = {**os.environ, "DATABASE_URL": url, "REELRANK_ADMIN_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "reelrank_dev.cli", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # "serving N routes of template.yaml on http://127.0.0.1:PORT"
        assert "serving 27 routes" in first, first
        yield first.strip().rsplit(" ", 1)[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        drop_test_database(pg_admin_url, url)


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, head, raw = error.code, dict(error.headers), error.read()
    try:
        return status, head, json.loads(raw)
    except ValueError:
        return status, head, raw.decode(errors="replace")


def test_read_routes_over_http(base_url: str) -> None:
    status, headers, body = _request(f"{base_url}/videos?sort=impact&limit=3")
    assert status == 200
    assert len(body["data"]) == 3
    assert headers["Cache-Control"].startswith("public")
    impacts = [v["impact"] for v in body["data"]]
    assert impacts == sorted(impacts, reverse=True)
    status, _, page2 = _request(f"{base_url}/videos?sort=impact&limit=3&cursor={body['next_cursor']}")
    assert status == 200
    assert not {v["id"] for v in page2["data"]} & {v["id"] for v in body["data"]}
    status, _, tag = _request(f"{base_url}/hashtags/Caf%C3%A9")  # percent-encoded UTF-8, any case
    assert (status, tag["id"]) == (200, "café")
    assert _request(f"{base_url}/hashtags/never-used-tag")[0] == 404
    assert _request(f"{base_url}/videos?sort=nope")[0] == 400


def test_admin_routes_need_the_bearer_token(base_url: str) -> None:
    url = f"{base_url}/admin/view-tracking/stats"
    assert _request(url)[0] == 401
    assert _request(url, headers={"Authorization": "Bearer wrong"})[0] == 403
    status, headers, body = _request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert body["active_videos"] == 3  # the YouTube fixture's videos


def test_unknown_route_is_api_gateways_403(base_url: str) -> None:
    assert _request(f"{base_url}/nothing/here") == (
        403,
        _request(f"{base_url}/nothing/here")[1],
        {"message": "Missing Authentication Token"},
    )


def test_docs_are_served(base_url: str) -> None:
    status, _, document = _request(f"{base_url}/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert "/videos/{video_id}/history" in document["paths"]
    status, _, html = _request(f"{base_url}/swagger")
    assert status == 200
    assert "swagger-ui" in html.lower()


def test_schemathesis_finds_no_server_error(base_url: str) -> None:
    # Given the OpenAPI document the API serves, and a count of every generated request by status
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            response = case.call(base_url=base_url)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}")

        run()
    # Then at least 1,000 requests were made and none was answered with a 5xx
    print(f"schemathesis: {sum(statuses.values())} requests, by status {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= 1000, statuses
    assert not failures, failures[:20]
    assert statuses[200] > 0
    assert statuses[401] > 0  # the admin routes, called without the token
