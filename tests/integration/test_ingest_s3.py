"""The S3 path of IngestFunction, through the real handler as Lambda runs it, with S3 from moto.

The handler is loaded from template.yaml by the local runtime (`reelrank invoke`'s machinery), the bucket and the
object live in moto, and the database is a real PostgreSQL clone: the S3 notification in events/ingest/, a direct
{"bucket", "key"} invoke of a gzipped NDJSON delivery, re-delivery, and a file that cannot be read at all.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from reelrank.db.connection import reset_connection
from reelrank_dev import local_lambda
from reelrank_dev.generate import Catalogue, Generator
from reelrank_dev.sam_template import function_spec, load_template
from tests.conftest import REPO_ROOT
from tests.integration.test_ingest import SNAPSHOTS

EVENT = json.loads((REPO_ROOT / "events" / "ingest" / "s3_object_created.json").read_text(encoding="utf-8"))
BUCKET = EVENT["Records"][0]["s3"]["bucket"]["name"]
KEY = EVENT["Records"][0]["s3"]["object"]["key"]


@pytest.fixture
def invoke_ingest(db_url: str) -> Iterator[Any]:
    """Invoke IngestFunction in-process against moto S3 and the test database; yields (invoke, s3 client)."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    reset_connection()
    try:
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            spec = function_spec(
                load_template(REPO_ROOT / "template.yaml"), "IngestFunction", environ=os.environ, template_dir=REPO_ROOT
            )
            local_lambda.prepare_environment(spec)

            def invoke(event: dict[str, Any]) -> local_lambda.InvocationResult:
                return local_lambda.invoke(spec, event)

            yield invoke, s3
    finally:
        reset_connection()
        os.environ.clear()
        os.environ.update(saved)


def _emf_metrics(output: str) -> dict[str, float]:
    """Metric values from the Embedded Metric Format lines Powertools prints."""
    values: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                values[metric["Name"]] = float(sum(value) if isinstance(value, list) else value)
    return values


def test_the_s3_notification_ingests_the_object_once(
    invoke_ingest: Any, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    invoke, s3 = invoke_ingest
    # Given the Bright Data sample delivered where the event file says
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=(SNAPSHOTS / "brightdata_tiktok.json").read_bytes())

    # When the notification arrives
    result = invoke(EVENT)

    # Then the handler returns the ingestion: every record received, the sample's one error row rejected
    assert result.ok, result.error
    body = result.payload
    records = len(json.loads((SNAPSHOTS / "brightdata_tiktok.json").read_text(encoding="utf-8")))
    assert (body["status"], body["source"], body["received"], body["rejected"]) == (
        "completed",
        "brightdata",
        records,
        1,
    )
    assert body["accepted"] == body["new_videos"] == records - 1
    assert "error" in body["rejections"][0]["reason"].lower() or body["rejections"][0]["reason"]
    row = db.execute(
        "SELECT trigger, object_bucket, object_key, object_etag, status FROM ingestions WHERE ingestion_id = %s",
        (body["ingestion_id"],),
    ).fetchone()
    assert row is not None
    assert row[:3] == ("s3", BUCKET, KEY)
    assert row[3] == s3.head_object(Bucket=BUCKET, Key=KEY)["ETag"].strip('"')
    assert _emf_metrics(capsys.readouterr().out)["FailedSnapshots"] == 0

    # And when S3 delivers the same notification again, nothing is written twice
    again = invoke(EVENT)
    assert again.ok
    assert again.payload["status"] == "duplicate"
    assert db.execute("SELECT count(*) FROM videos_hot").fetchone() == (records - 1,)


def test_a_gzipped_ndjson_delivery_streams_in_by_direct_invoke(invoke_ingest: Any, db: psycopg.Connection[Any]) -> None:
    invoke, s3 = invoke_ingest
    # Given a 1,200-record gzipped NDJSON snapshot in the bucket, under its source's folder
    gen = Generator(Catalogue(1_200))
    lines = "".join(json.dumps(r) + "\n" for r in gen.records(range(1_200)))
    s3.put_object(Bucket=BUCKET, Key="brightdata/2026-11-21/part-0001.ndjson.gz", Body=gzip.compress(lines.encode()))

    # When it is ingested by a direct {"bucket", "key"} invoke
    result = invoke({"bucket": BUCKET, "key": "brightdata/2026-11-21/part-0001.ndjson.gz"})

    # Then every record is in, and every aggregate equals its recomputation
    assert result.ok, result.error
    assert (result.payload["status"], result.payload["accepted"], result.payload["rejected"]) == ("completed", 1200, 0)
    assert db.execute("SELECT count(*) FROM videos_hot").fetchone() == (1200,)
    assert db.execute("SELECT count(*) FROM aggregate_drift").fetchone() == (0,)

    # And the same content delivered plain (not gzipped) under another key is recognised as the same snapshot
    s3.put_object(Bucket=BUCKET, Key="brightdata/2026-11-21/copy.ndjson", Body=lines.encode())
    assert invoke({"bucket": BUCKET, "key": "brightdata/2026-11-21/copy.ndjson"}).payload["status"] == "duplicate"


def test_an_unreadable_object_fails_cleanly_and_is_counted(
    invoke_ingest: Any, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    invoke, s3 = invoke_ingest
    # Given an HTML error page delivered as a snapshot
    event = copy.deepcopy(EVENT)
    event["Records"][0]["s3"]["object"]["key"] = "brightdata/broken.json"
    s3.put_object(Bucket=BUCKET, Key="brightdata/broken.json", Body=b"<html><body>502 Bad Gateway</body></html>")

    # When it is ingested
    result = invoke(event)

    # Then the invocation succeeds (a retry could not help) with status failed and a reason,
    # the ingestions row records it, and the FailedSnapshots metric (what the alarm watches) is 1
    assert result.ok, result.error
    assert result.payload["status"] == "failed"
    assert result.payload["error"]
    row = db.execute("SELECT status, error FROM ingestions WHERE ingestion_id = %s", (result.payload["ingestion_id"],))
    status, error = row.fetchone() or (None, None)
    assert status == "failed"
    assert error == result.payload["error"]
    assert _emf_metrics(capsys.readouterr().out)["FailedSnapshots"] == 1
    assert db.execute("SELECT count(*) FROM videos_hot").fetchone() == (0,)


def test_a_missing_object_raises_so_lambda_retries(invoke_ingest: Any) -> None:
    invoke, _ = invoke_ingest
    # A notification for an object that is not (yet) readable is a transient failure: the invocation errors
    result = invoke({"bucket": BUCKET, "key": "brightdata/not-there.json"})
    assert not result.ok
    assert result.error is not None
    assert "NoSuchKey" in result.error["errorType"] + result.error["errorMessage"]


def test_event_file_points_at_a_fixture() -> None:
    # the event file's key names a real sample, so `sam local invoke` with a local bucket mirrors this test
    assert (SNAPSHOTS / Path(KEY).name).exists()
