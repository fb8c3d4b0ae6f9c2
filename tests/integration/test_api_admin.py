"""The admin routes through RankingApiFunction's handler: they start or read the other functions' work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from reelrank.services import admin
from reelrank.settings import ApiSettings
from tests.integration.api_helpers import SNAPSHOTS, ApiClient, api_environment


@pytest.fixture
def api(db_url: str) -> Iterator[ApiClient]:
    with api_environment(db_url):
        yield ApiClient()


def _records(name: str) -> list[Any]:
    payload = json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))
    return payload if isinstance(payload, list) else [payload]


def test_ingest_then_read_the_ingestion(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    # Given inline records, one of them broken
    records = [*_records("apify_tiktok.json"), {"text": "a record without an id"}]
    # When they are posted
    response = api.call("POST", "/admin/ingest", body={"source": "apify", "snapshot_id": "adm-1", "records": records})
    # Then they are ingested, and the ingestion can be read back with its rejection
    assert response.status == 200, response.body
    assert (response.body["status"], response.body["rejected"]) == ("completed", 1)
    assert response.headers["Cache-Control"] == "no-store"
    ingestion = api.get(f"/admin/ingestions/{response.body['ingestion_id']}")
    assert ingestion.status == 200
    assert (ingestion.body["accepted"], len(ingestion.body["rejections"])) == (response.body["accepted"], 1)
    assert db.execute("SELECT count(*) FROM videos_hot").fetchone() == (response.body["accepted"],)
    # and re-posting the same content writes nothing
    again = api.call("POST", "/admin/ingest", body={"source": "apify", "snapshot_id": "adm-1", "records": records})
    assert again.body["status"] == "duplicate"


@pytest.mark.parametrize("body", [{}, {"records": []}, {"records": [1], "extra": True}, {"bucket": "b"}])
def test_invalid_ingest_bodies_are_422(api: ApiClient, db: psycopg.Connection[Any], body: dict[str, Any]) -> None:
    response = api.call("POST", "/admin/ingest", body=body)
    assert response.status == 422, response.body
    assert response.body["error"] == "invalid_body"
    assert db.execute("SELECT count(*) FROM ingestions").fetchone() == (0,)


def test_weights_then_backfill_then_job(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    api.call("POST", "/admin/ingest", body={"records": _records("apify_tiktok.json")})
    weights = api.call(
        "POST", "/admin/impact-weights", body={"views": 0, "likes": 0, "comments": 1, "shares": 0, "saves": 0}
    )
    assert weights.status == 201, weights.body
    version = weights.body["version"]
    backfill = api.call("POST", "/admin/backfill", body={"mode": "stale"})
    assert backfill.status == 202, backfill.body
    job = api.get(f"/admin/jobs/{backfill.body['job_id']}")
    assert job.body["status"] == "completed"
    assert db.execute("SELECT count(*) FROM videos_hot WHERE impact_version <> %s", (version,)).fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM videos_hot WHERE impact_score <> comments_count").fetchone() == (0,)


def test_invalid_weights_are_422_naming_the_field(api: ApiClient, db: psycopg.Connection[Any]) -> None:
    response = api.call(
        "POST", "/admin/impact-weights", body={"views": -1, "likes": 0, "comments": 1, "shares": 0, "saves": 0}
    )
    assert response.status == 422
    assert response.body["parameter"] == "views"
    assert db.execute("SELECT count(*) FROM impact_weights").fetchone() == (1,)


@pytest.mark.parametrize(("path", "query"), [("/admin/jobs/999", {}), ("/admin/jobs/999", {"kind": "view-tracking"}),
                                             ("/admin/ingestions/999", {})])  # fmt: skip
def test_unknown_jobs_and_ingestions_are_404(api: ApiClient, path: str, query: dict[str, str]) -> None:
    assert api.get(path, **query).status == 404


def test_view_tracking_stats(api: ApiClient) -> None:
    api.call("POST", "/admin/ingest", body={"records": _records("youtube_videos_list.json")})
    stats = api.get("/admin/view-tracking/stats")
    assert stats.status == 200
    assert stats.body["active_videos"] == 3


def test_in_aws_jobs_start_by_asynchronous_invoke(db: psycopg.Connection[Any]) -> None:
    # Given the API configured with the functions' names, and a Lambda client that expects the two invokes
    settings = ApiSettings(BACKFILL_FUNCTION_NAME="backfill-fn", VIEW_TRACKING_FUNCTION_NAME="tracking-fn")
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": "backfill-fn", "InvocationType": "Event", "Payload": b'{"job_id": 1}'},
        )
        job = admin.start_backfill(db, "all", settings, client)
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": "tracking-fn",
                "InvocationType": "Event",
                "Payload": b'{"trigger": "api", "limit": 5, "job_id": 1}',
            },
        )
        run = admin.start_view_tracking(db, 5, settings, client)
        stub.assert_no_pending_responses()
    # Then the jobs are recorded and left to the functions
    assert (job.job_id, job.status, run.status) == (1, "pending", "queued")
