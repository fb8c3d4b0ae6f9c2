"""Every event file of the repository: valid against its function's event model, and invoked by logical id through
the local runtime (``reelrank invoke``, or in process under moto where the event names an S3 object)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel, SqsModel

from reelrank.models.backfill import BackfillContinuationRecord, BackfillRequest
from reelrank.models.ingest import DirectRecordsEvent, ObjectEvent, S3NotificationEvent
from reelrank.models.reconcile import ReconcileRequest
from reelrank.models.view_tracking import ViewTrackingEvent
from reelrank_dev.fake_youtube import DEFAULT_API_KEY, start_fake_youtube
from reelrank_dev.sam_template import function_ids, load_template
from tests.integration.test_ingest import SNAPSHOTS
from tests.integration.test_ingest_s3 import invoke_ingest  # noqa: F401  (fixture)

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"
FUNCTION_OF_FOLDER = {
    "ingest": "IngestFunction",
    "backfill": "ImpactBackfillFunction",
    "reconcile": "ReconcileFunction",
    "view_tracking": "ViewTrackingFunction",
    "ranking_api": "RankingApiFunction",
}
EVENT_FILES = sorted(p.relative_to(EVENTS).as_posix() for p in EVENTS.glob("*/*.json"))
S3_EVENTS = {"ingest/direct_object.json", "ingest/s3_object_created.json"}


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def validate(name: str) -> None:
    """Parse the event with the model its function parses it with (the handler's own dispatch)."""
    folder = name.split("/", 1)[0]
    event = load(name)
    if folder == "ingest":
        model = S3NotificationEvent if "Records" in event else DirectRecordsEvent if "records" in event else ObjectEvent
        model.model_validate(event)
    elif folder == "backfill":
        if "Records" in event:
            for record in SqsModel.model_validate(event).Records:
                BackfillContinuationRecord.model_validate(record.model_dump())
        else:
            BackfillRequest.model_validate(event)
    elif folder == "reconcile":
        ReconcileRequest.model_validate(event)
    elif folder == "view_tracking":
        ViewTrackingEvent.model_validate(event)
    elif folder == "ranking_api":
        APIGatewayProxyEventModel.model_validate(event)
    else:
        raise AssertionError(f"events/{folder}/ belongs to no function")


def test_every_event_folder_belongs_to_a_function_and_every_function_has_events() -> None:
    folders = {p.name for p in EVENTS.iterdir() if p.is_dir()}
    assert folders == set(FUNCTION_OF_FOLDER)
    assert set(FUNCTION_OF_FOLDER.values()) == set(function_ids(load_template(REPO_ROOT / "template.yaml")))


@pytest.mark.parametrize("name", EVENT_FILES)
def test_event_file_is_valid_for_its_function(name: str) -> None:
    validate(name)


def test_validation_fails_on_a_malformed_event(tmp_path: Path) -> None:
    # the check above can fail: a schedule event with an unknown field is refused by the view tracking model
    with pytest.raises(ValueError, match="extra"):
        ViewTrackingEvent.model_validate({"trigger": "schedule", "limt": 5})


def invoke(logical_id: str, name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelrank_dev.cli", "invoke", logical_id, "--event", str(EVENTS / name)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        check=False,
    )


def seed(db_url: str, tmp_path: Path) -> None:
    """The sample records (TikTok from the event file, YouTube from the sample videos.list answer), through
    IngestFunction, so every other event has something to work on."""
    youtube = tmp_path / "youtube.json"
    records = json.loads((SNAPSHOTS / "youtube_videos_list.json").read_text(encoding="utf-8"))
    youtube.write_text(json.dumps({"snapshot_id": "e2e-youtube", "records": [records]}), encoding="utf-8")
    for event in (EVENTS / "ingest" / "direct_records.json", youtube):
        done = invoke("IngestFunction", str(event), {"DATABASE_URL": db_url})
        assert done.returncode == 0, done.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM videos_hot").fetchone()
        assert row is not None
        assert row[0] > 0


def check_result(name: str, result: dict[str, Any], db_url: str) -> None:
    """What each event must have done, in the response and in the database."""
    folder = name.split("/", 1)[0]
    with psycopg.connect(db_url, autocommit=True) as conn:
        drift = conn.execute("SELECT count(*) FROM aggregate_drift").fetchone()
        assert drift == (0,), f"{name} left aggregate drift"
        if folder == "ingest":
            assert result["status"] == "duplicate"  # the seed ingested these same records
        elif folder == "backfill":
            if "Records" in load(name):
                assert result == {"batchItemFailures": []}
            else:
                assert result["status"] == "completed"
                job = conn.execute("SELECT status FROM backfill_jobs WHERE job_id = %s", (result["job_id"],)).fetchone()
                assert job == ("completed",)
        elif folder == "reconcile":
            assert result["videos_repaired"] == 0
            assert "video_performance_trends" in result["views_refreshed"]
        elif folder == "view_tracking":
            assert result["status"] == "completed"
            assert result["videos_tracked"] >= 1
        elif folder == "ranking_api":
            body = json.loads(result["body"])
            assert result["statusCode"] in (200, 202), body
            if load(name)["path"] == "/videos":
                assert body["data"], body
                assert all(item["platform"] == "tiktok" for item in body["data"])


@pytest.mark.parametrize("name", [n for n in EVENT_FILES if n not in S3_EVENTS])
def test_every_event_file_runs_through_reelrank_invoke(name: str, db_url: str, tmp_path: Path) -> None:
    # Given a database holding the sample records (and, for a job continuation, the job the event names)
    seed(db_url, tmp_path)
    env = {"DATABASE_URL": db_url}
    event = load(name)
    if name.startswith("backfill/") and (event.get("job_id") or "Records" in event):
        first = invoke("ImpactBackfillFunction", "backfill/all.json", env)
        assert json.loads(first.stdout)["job_id"] == 1, first.stderr
    fake = None
    if name.startswith("view_tracking/"):
        fake = start_fake_youtube(database_url=db_url)
        env |= {"YOUTUBE_API_BASE_URL": fake.base_url, "YOUTUBE_API_KEY": DEFAULT_API_KEY}
    try:
        # When the event file is invoked through the local runtime by its function's logical id
        done = invoke(FUNCTION_OF_FOLDER[name.split("/", 1)[0]], name, env)
    finally:
        if fake is not None:
            fake.stop()
    # Then the handler returned, and did what the event asks
    assert done.returncode == 0, done.stdout + done.stderr
    check_result(name, json.loads(done.stdout), db_url)


@pytest.mark.parametrize("name", sorted(S3_EVENTS))
def test_s3_event_files_ingest_the_object_they_name(name: str, invoke_ingest: Any, db_url: str) -> None:  # noqa: F811
    # Given the object the event names, in moto S3 with the template's function environment
    run, s3 = invoke_ingest
    event = load(name)
    if "Records" in event:
        bucket, key = event["Records"][0]["s3"]["bucket"]["name"], event["Records"][0]["s3"]["object"]["key"]
    else:
        bucket, key = event["bucket"], event["key"]
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    from urllib.parse import unquote_plus

    # (the sample snapshot of the source the key names: the event may declare that source)
    sample = "brightdata_tiktok.json" if key.startswith("brightdata/") else "youtube_videos_list.json"
    s3.put_object(Bucket=bucket, Key=unquote_plus(key), Body=(SNAPSHOTS / sample).read_bytes())
    # When IngestFunction is invoked with the event file through the local runtime
    result = run(event)
    # Then it ingested the object
    assert result.ok, result.error
    assert result.payload["status"] == "completed", result.payload
    assert result.payload["accepted"] == 3
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM videos_hot").fetchone() == (3,)
