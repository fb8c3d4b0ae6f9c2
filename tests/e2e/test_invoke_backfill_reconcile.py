"""ImpactBackfillFunction, ReconcileFunction and ``reelrank weights`` as an operator runs them: real subprocesses,
the event files under events/, a fresh migrated database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.backfill_helpers import build_catalogue, drift, stale_or_wrong_videos

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"


def reelrank(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelrank_dev.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": db_url},
        check=False,
    )


def invoke(logical_id: str, event: str, db_url: str) -> dict[str, Any]:
    done = reelrank("invoke", logical_id, "--event", str(EVENTS / event), db_url=db_url)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_weights_set_then_backfill_converges_then_reconcile_finds_nothing(db_url: str) -> None:
    # Given a catalogue scored with the launch weights
    with psycopg.connect(db_url, autocommit=True) as conn:
        build_catalogue(conn, n=40)
    # When an operator lowers the comment weight from the command line
    done = reelrank("weights", "set", "--comments", "50", "--note", "e2e", db_url=db_url)
    # Then version 2 is active with comments 50 and the other weights kept, and 40 videos are stale
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert (created["version"], created["active"], created["note"]) == (2, True, "e2e")
    weights = {k: float(v) for k, v in created["weights"].items()}
    assert weights == {"views": 0.00001, "likes": 0.001, "comments": 50, "shares": 0.1, "saves": 0.1}
    assert "40 videos are stale" in done.stderr
    shown = reelrank("weights", "show", db_url=db_url)
    assert json.loads(shown.stdout)["version"] == 2
    # When the backfill function is invoked with the stale event file
    result = invoke("ImpactBackfillFunction", "backfill/stale.json", db_url)
    # Then it completed, rescoring every video, and the database agrees
    assert (result["status"], result["mode"], result["videos_updated"]) == ("completed", "stale", 40)
    assert set(result) >= {"job_id", "videos_scanned", "batches", "aggregates_updated", "duration_ms"}
    with psycopg.connect(db_url) as conn:
        assert stale_or_wrong_videos(conn) == 0
        assert drift(conn) == []
        assert conn.execute("SELECT status FROM backfill_jobs WHERE job_id = %s", (result["job_id"],)).fetchone() == (
            "completed",
        )
    # When a (late) continuation message for that job arrives through SQS
    batch = invoke("ImpactBackfillFunction", "backfill/sqs_continuation.json", db_url)
    # Then the record succeeds and nothing is redone
    assert batch == {"batchItemFailures": []}
    # When the scheduled reconcile runs
    report = invoke("ReconcileFunction", "reconcile/scheduled.json", db_url)
    # Then it found nothing to repair
    assert report["videos_repaired"] == 0
    assert set(report["aggregates_repaired"].values()) == {0}
    assert (report["partitions_dropped"], report["partitions_created"]) == (0, 0)


def test_reconcile_invoke_repairs_a_corrupted_aggregate(db_url: str) -> None:
    # Given a catalogue with one creator's totals corrupted
    with psycopg.connect(db_url, autocommit=True) as conn:
        build_catalogue(conn, n=20)
        conn.execute("UPDATE creators_hot SET total_play_count = total_play_count + 1 WHERE creator_id = 'bo'")
    # When reconcile is invoked directly
    report = invoke("ReconcileFunction", "reconcile/direct.json", db_url)
    # Then exactly that creator was repaired
    assert report["aggregates_repaired"]["creators"] == 1
    with psycopg.connect(db_url) as conn:
        assert drift(conn) == []


def test_invalid_weights_on_the_command_line_name_the_field_and_change_nothing(db_url: str) -> None:
    done = reelrank("weights", "set", "--shares", "-0.5", db_url=db_url)
    assert done.returncode == 1
    assert "shares" in done.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM impact_weights").fetchone() == (1,)


def test_a_continuation_for_an_unknown_job_fails_the_invocation_so_sqs_retries_it(db_url: str) -> None:
    # Given no backfill job 1 exists; When the continuation event (one record: BatchSize 1) is delivered
    done = reelrank(
        "invoke", "ImpactBackfillFunction", "--event", str(EVENTS / "backfill/sqs_continuation.json"), db_url=db_url
    )
    # Then the invocation fails (Powertools raises when every record failed), naming the job: SQS redelivers the
    # message, and after maxReceiveCount moves it to the dead-letter queue
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["errorType"] == "BatchProcessingError"
    assert "no backfill job 1" in error["errorMessage"]
