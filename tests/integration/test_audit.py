"""`reelrank audit VIDEO_ID`: one video's rows in every table, present and consistent — and drift is named."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from reelrank.db.audit import audit_video
from reelrank_dev.cli import main
from tests.integration.test_ingest import SNAPSHOTS, ingest_file

VIDEO = "7481203345566778890"  # Bright Data sample: creator nightdrive.edits, a sound, hashtags caredit, fyp, ネオン


@pytest.fixture
def ingested(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    db.execute(
        "INSERT INTO communities (slug, name, linked_hashtags) VALUES ('car-culture', 'Car culture', '{caredit}')"
    )
    assert ingest_file(db, SNAPSHOTS / "brightdata_tiktok.json").status == "completed"
    return db


def _by_table(lines: list[Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in lines:
        out.setdefault(line.table, set()).add(line.status)
    return out


def test_an_ingested_video_is_consistent_in_every_table(ingested: psycopg.Connection[Any]) -> None:
    # When the freshly ingested video is audited
    lines = audit_video(ingested, VIDEO)

    # Then every table of the data model is reported, and none is missing or drifted
    assert lines is not None
    statuses = _by_table(lines)
    for table in (
        "videos_hot", "videos_cold", "creators_hot", "creators_cold", "video_sound_facts", "sounds_hot",
        "sound_creator_counts", "sounds_cold", "video_hashtag_facts", "hashtags_hot", "hashtags_cold", "hashtag_platform_totals",
        "hashtag_creator_counts", "video_creator_mentions", "community_video_memberships", "communities",
        "community_platform_totals", "community_creator_memberships", "community_hashtag_memberships",
        "video_metric_snapshots", "ingestions", "rejected_videos",
    ):  # fmt: skip
        assert table in statuses, table
    assert statuses["community_video_memberships"] == {"ok"}
    assert statuses["sounds_hot"] == {"ok"}
    problems = [line for line in lines if line.status in ("missing", "drift")]
    assert problems == []


def test_corruption_is_reported_in_the_table_it_happened(ingested: psycopg.Connection[Any]) -> None:
    # Given three deliberate faults: a creator total, a fact's copied sort key, and a lost raw record
    ingested.execute(
        "UPDATE creators_hot SET videos_count = videos_count + 1 WHERE creator_id = (SELECT creator_id FROM videos_hot"
        " WHERE video_id = %s)",
        (VIDEO,),
    )
    ingested.execute("UPDATE video_hashtag_facts SET views_count = views_count - 1 WHERE video_id = %s", (VIDEO,))
    ingested.execute("DELETE FROM videos_cold WHERE video_id = %s", (VIDEO,))

    # When audited
    lines = audit_video(ingested, VIDEO)

    # Then exactly those tables are flagged, each with the right kind of problem
    assert lines is not None
    flagged = {(line.table, line.status) for line in lines if line.status in ("missing", "drift")}
    assert flagged == {("creators_hot", "drift"), ("video_hashtag_facts", "drift"), ("videos_cold", "missing")}


def test_the_command_exits_by_what_it_found(
    ingested: psycopg.Connection[Any], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A consistent video exits 0 and says so
    assert main(["audit", VIDEO, "--database-url", db_url]) == 0
    assert "consistent" in capsys.readouterr().out

    # A drifted one exits 1 and names the table
    ingested.execute("UPDATE sounds_hot SET views_total = views_total + 5")
    assert main(["audit", VIDEO, "--database-url", db_url]) == 1
    out = capsys.readouterr().out
    assert "sounds_hot" in out
    assert "1 problem(s)" in out

    # An unknown video exits 2; the Bright Data error row's video was rejected, and the audit says why
    assert main(["audit", "no-such-video", "--database-url", db_url]) == 2
