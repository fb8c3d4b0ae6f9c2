"""``reelrank invoke``: functions of template.yaml run by logical id, as a developer runs them (a real subprocess).

The first tests drive the ingest function with the event files under events/ingest/ against a fresh migrated
database; the last ones check the runtime stand-in itself on a throwaway template of their own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events" / "ingest"

# FORMATS §8: the three Apify items and their Impact Scores
APIFY_IMPACT = {
    "7506612233445566778": Decimal("29527962.50"),
    "7535448000111222333": Decimal("11111.23"),
    "7543690011223344556": Decimal("4803.06"),
}


def invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelrank_dev.cli", "invoke", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        check=False,
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """The JSON objects the function wrote (Powertools log lines and EMF metric blobs)."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


# ---------------------------------------------------------------------------------------------------------------
# IngestFunction
# ---------------------------------------------------------------------------------------------------------------


def test_invoke_ingest_direct_records_stores_three_videos_then_reports_duplicate(db_url: str) -> None:
    # Given a fresh database and the direct-invoke event carrying the three Apify items
    env = {"DATABASE_URL": db_url}
    # When the ingest function is invoked by its logical id
    first = invoke("IngestFunction", "--event", str(EVENTS / "direct_records.json"), env=env)
    # Then it succeeds and stdout is nothing but the handler's JSON result
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "completed"
    assert (result["accepted"], result["rejected"]) == (3, 0)
    # And the videos are stored with their Impact Scores (FORMATS §8)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT video_id, impact_score FROM videos_hot ORDER BY video_id").fetchall()
    assert dict(rows) == APIFY_IMPACT

    # When the same event is delivered again
    second = invoke("IngestFunction", "--event", str(EVENTS / "direct_records.json"), env=env)
    # Then it is recognised as a duplicate and the videos are unchanged
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["status"] == "duplicate"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT video_id, impact_score FROM videos_hot ORDER BY video_id").fetchall()
    assert dict(rows) == APIFY_IMPACT


def test_invoke_ingest_logs_and_metrics_go_to_stderr(db_url: str) -> None:
    # When the ingest function ingests the direct records
    done = invoke("IngestFunction", "--event", str(EVENTS / "direct_records.json"), env={"DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    emitted = json_lines(done.stderr)
    # Then the structured log line carries the counts, the service name and the snapshot id as correlation id
    (log,) = [e for e in emitted if e.get("message") == "snapshot ingested"]
    assert (log["service"], log["accepted"], log["rejected"]) == ("ingest", 3, 0)
    assert log["correlation_id"] == "demo-apify-1"
    # And EMF metrics in the template's namespace count the accepted and rejected videos
    metric_blobs = [e for e in emitted if "_aws" in e and "AcceptedVideos" in e]
    assert len(metric_blobs) == 1
    assert metric_blobs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Reelrank"
    assert (metric_blobs[0]["AcceptedVideos"], metric_blobs[0]["RejectedVideos"]) == ([3.0], [0.0])


def test_invoke_ingest_rejects_an_unrecognised_event_with_a_lambda_error(db_url: str, tmp_path: Path) -> None:
    # Given an event of none of the accepted shapes
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({"unexpected": True}), encoding="utf-8")
    # When it is invoked
    failed = invoke("IngestFunction", "--event", str(event), env={"DATABASE_URL": db_url})
    # Then the exit status is 1 and stdout holds Lambda's error object
    assert failed.returncode == 1
    error = json.loads(failed.stdout)
    assert error["errorType"] == "IngestEventError"
    assert "unrecognised ingest event" in error["errorMessage"]
    assert error["stackTrace"]
    # And nothing was ingested
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ingestions").fetchone() == (0,)


def test_invoke_an_unknown_logical_id_exits_nonzero_naming_it() -> None:
    # When a logical id that is not in template.yaml is invoked
    failed = invoke("NoSuchFunction", "--event", str(EVENTS / "direct_records.json"))
    # Then the tool refuses, naming the id and the functions there are; nothing was run
    assert failed.returncode == 2
    assert "'NoSuchFunction'" in failed.stderr
    assert "IngestFunction" in failed.stderr
    assert failed.stdout == ""


def test_event_files_are_json_objects_of_the_shapes_ingest_accepts() -> None:
    s3 = json.loads((EVENTS / "s3_object_created.json").read_text(encoding="utf-8"))
    record = s3["Records"][0]
    assert (record["eventSource"], record["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert record["s3"]["bucket"]["name"] == "reelrank-snapshots-local"
    assert record["s3"]["object"]["key"] == "brightdata/2025-09-02/brightdata_tiktok.json"
    direct = json.loads((EVENTS / "direct_records.json").read_text(encoding="utf-8"))
    fixture = json.loads((REPO_ROOT / "tests/fixtures/snapshots/apify_tiktok.json").read_text(encoding="utf-8"))
    assert (direct["source"], direct["snapshot_id"], direct["records"]) == ("apify", "demo-apify-1", fixture)
    obj = json.loads((EVENTS / "direct_object.json").read_text(encoding="utf-8"))
    assert obj == {"bucket": "reelrank-snapshots-local", "key": "youtube/videos_list.json"}


# ---------------------------------------------------------------------------------------------------------------
# The runtime stand-in itself, on a throwaway template (no database)
# ---------------------------------------------------------------------------------------------------------------

THROWAWAY_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 5
    Environment:
      Variables:
        STAGE: !Ref Stage
Resources:
  FirstFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/first
      Handler: app.lambda_handler
      MemorySize: 256
      Environment:
        Variables:
          WHO: first
  SecondFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/second, Handler: app.lambda_handler}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/slow, Handler: app.lambda_handler, Timeout: 1}
"""

THROWAWAY_HANDLERS = {
    "first": """
        import os

        def lambda_handler(event, context):
            print("not part of the result")
            return {
                "module": __name__,
                "event": event,
                "env": {k: os.environ.get(k) for k in ("WHO", "STAGE", "POWERTOOLS_TRACE_DISABLED")},
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "remaining_ms": context.get_remaining_time_in_millis(),
            }
    """,
    "second": """
        def lambda_handler(event, context):
            raise ValueError("second always fails")
    """,
    "slow": """
        import time

        def lambda_handler(event, context):
            time.sleep(30)
            return {}
    """,
}


def throwaway_project(root: Path) -> Path:
    """Three functions, each an app.py of its own, under ``root``; returns the template's path."""
    for name, source in THROWAWAY_HANDLERS.items():
        folder = root / "functions" / name
        folder.mkdir(parents=True)
        (folder / "app.py").write_text(textwrap.dedent(source), encoding="utf-8")
    template = root / "template.yaml"
    template.write_text(THROWAWAY_TEMPLATE, encoding="utf-8")
    (root / "event.json").write_text('{"hello": "world"}', encoding="utf-8")
    return template


def test_invoke_runs_a_handler_with_the_template_environment_and_a_context(tmp_path: Path) -> None:
    # Given a template whose function prints and reads its environment, and a shell that sets STAGE
    template = throwaway_project(tmp_path)
    env = {"DATABASE_URL": "postgresql://unused", "STAGE": "prod"}
    # When it is invoked
    done = invoke("FirstFunction", "--template", str(template), "--event", str(tmp_path / "event.json"), env=env)
    # Then stdout is only the result: the template's variables (the shell's STAGE winning) and a Lambda-like context
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["event"] == {"hello": "world"}
    assert result["env"] == {"WHO": "first", "STAGE": "prod", "POWERTOOLS_TRACE_DISABLED": "true"}
    assert (result["function_name"], result["memory"]) == ("FirstFunction", 256)
    assert 0 < result["remaining_ms"] <= 5000
    # And the module was loaded under a name of its own, its print going to stderr
    assert result["module"] != "app"
    assert "not part of the result" in done.stderr


def test_invoke_reports_a_handler_exception_as_lambda_does(tmp_path: Path) -> None:
    template = throwaway_project(tmp_path)
    failed = invoke("SecondFunction", "--template", str(template), env={"DATABASE_URL": "postgresql://unused"})
    assert failed.returncode == 1
    error = json.loads(failed.stdout)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "second always fails")
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert "functions/second/app.py" in error["stackTrace"][-1]


def test_invoke_enforces_the_function_timeout(tmp_path: Path) -> None:
    template = throwaway_project(tmp_path)
    timed_out = invoke("SlowFunction", "--template", str(template), env={"DATABASE_URL": "postgresql://unused"})
    assert timed_out.returncode == 1
    error = json.loads(timed_out.stdout)
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].endswith("Task timed out after 1.00 seconds")
