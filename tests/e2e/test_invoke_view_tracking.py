"""``reelrank invoke ViewTrackingFunction`` (a real subprocess) against a fresh database and the fake YouTube."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from reelrank.models.ingest import DirectRecordsEvent
from reelrank.services.ingest import ingest_records
from reelrank_dev.fake_youtube import DEFAULT_API_KEY, start_fake_youtube
from tests.conftest import FIXTURES
from tests.e2e.test_invoke_ingest import invoke, json_lines

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events" / "view_tracking"


def seed_youtube(db_url: str) -> None:
    payload = json.loads((FIXTURES / "snapshots" / "youtube_videos_list.json").read_text())
    with psycopg.connect(db_url, autocommit=True) as conn:
        result = ingest_records(conn, DirectRecordsEvent(source="youtube", records=payload["items"]))
    assert result.accepted == 3


def test_invoke_view_tracking_on_schedule_tracks_the_youtube_videos(db_url: str) -> None:
    # Given the three YouTube sample videos and a fake YouTube that hides one video's likes
    seed_youtube(db_url)
    with start_fake_youtube(database_url=db_url) as yt:
        yt.advance(hours=5)
        yt.faults.hidden_likes = {"h1dd3nL1k3s"}
        env = {"DATABASE_URL": db_url, "YOUTUBE_API_BASE_URL": yt.base_url, "YOUTUBE_API_KEY": DEFAULT_API_KEY}
        # When the function is invoked with the schedule's event
        done = invoke("ViewTrackingFunction", "--event", str(EVENTS / "scheduled.json"), env=env)
        calls = yt.stats.calls
    # Then it succeeded with one call for three videos
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert (result["status"], result["trigger"], result["api_calls"], result["videos_tracked"]) == (
        "completed",
        "schedule",
        1,
        3,
    )
    assert calls == 1
    # And the database holds the run, the snapshots and the grown views
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM video_metric_snapshots WHERE tracking_job_id = %s", (result["job_id"],)
        ).fetchone() == (3,)
        assert conn.execute(
            "SELECT likes_hidden FROM view_tracking_priority WHERE video_id = 'h1dd3nL1k3s'"
        ).fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM aggregate_drift").fetchone() == (0,)
    # And the function logged and published its metrics as JSON
    lines = json_lines(done.stderr)
    assert any(line.get("message") == "tracking run done" for line in lines)
    assert any("VideosTracked" in json.dumps(line) for line in lines)


def test_invoke_view_tracking_without_a_key_fails_the_job_cleanly(db_url: str) -> None:
    seed_youtube(db_url)
    done = invoke(
        "ViewTrackingFunction",
        "--event",
        str(EVENTS / "limited_run.json"),
        env={"DATABASE_URL": db_url, "YOUTUBE_API_BASE_URL": "http://127.0.0.1:9", "YOUTUBE_API_KEY": ""},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["stopped_reason"], result["requested_limit"]) == ("failed", "invalid_api_key", 100)
