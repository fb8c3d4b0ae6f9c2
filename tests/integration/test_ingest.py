"""Ingest into a real PostgreSQL: the FORMATS.md examples, idempotency, rejections, and the aggregate invariant."""

from __future__ import annotations

import gzip
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelrank.db.ingest_writes import video_bucket
from reelrank.models.ingest import DirectRecordsEvent
from reelrank.services.ingest import hash_decompressed, ingest_records, ingest_snapshot
from reelrank.services.snapshot_reader import read_records, read_snapshot, records_content_hash
from tests.conftest import FIXTURES
from tests.integration.backfill_helpers import wait_for_lock_waiters

SNAPSHOTS = FIXTURES / "snapshots"

EXPECTED_IMPACT = {
    "7481203345566778890": "23802574.33",
    "7539001122334455667": "120537.16",
    "7544455566677788899": "19750.54",
    "7506612233445566778": "29527962.50",
    "7535448000111222333": "11111.23",
    "7543690011223344556": "4803.06",
    "Qz7rVd2kLmA": "1304892.57",
    "h1dd3nL1k3s": "189407.76",
    "xR9_mvPl0p4": "50064.88",
    "7487766554433221100": "20597540.00",
    "7510022334455667788": "73370.27",
    "7521234567890123456": "19750.54",
}
FILES = ["brightdata_tiktok.json", "apify_tiktok.json", "youtube_videos_list.json", "tiktok_research_api.json"]


def ingest_file(conn: psycopg.Connection[Any], path: Path, data: bytes | None = None, **kwargs: Any):
    stream = io.BytesIO(data if data is not None else path.read_bytes())
    return ingest_snapshot(
        conn,
        lambda: read_snapshot(stream, None),
        content_hash=hash_decompressed(stream),
        source=None,
        trigger="invoke",
        **kwargs,
    )


def table_fingerprint(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every table's full content, as a comparable value."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE nspname = 'public' AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1"
        ).fetchall()
    ]
    return {name: sorted(map(repr, conn.execute(f'SELECT * FROM "{name}"').fetchall())) for name in names}


def assert_no_drift(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("SELECT aggregate, entity FROM aggregate_drift").fetchall() == []


def test_every_example_file_yields_the_expected_impact(db: psycopg.Connection[Any]) -> None:
    # Given the four sample snapshots of FORMATS.md
    # When each is ingested
    results = {name: ingest_file(db, SNAPSHOTS / name) for name in FILES}
    # Then all complete, the Bright Data error row is the only rejection, and every video has its expected Impact
    assert {r.status for r in results.values()} == {"completed"}
    bd = results["brightdata_tiktok.json"]
    assert (bd.received, bd.accepted, bd.rejected, bd.new_videos) == (4, 3, 1, 3)
    assert "dead_page" in bd.rejections[0].reason
    scores = dict(db.execute("SELECT video_id, impact_score FROM videos_hot").fetchall())
    assert scores == {k: Decimal(v) for k, v in EXPECTED_IMPACT.items()}
    rejected = db.execute("SELECT record_index, reason, raw->>'error_code' FROM rejected_videos").fetchall()
    assert rejected == [(3, bd.rejections[0].reason, "dead_page")]
    # And every aggregate equals its recomputation
    assert_no_drift(db)
    assert db.execute("SELECT count(*) FROM video_metric_snapshots").fetchone() == (12,)
    assert db.execute("SELECT videos_count, creators_count FROM hashtags_hot WHERE hashtag = 'caredit'").fetchone() == (
        3,
        2,
    )


def test_redelivering_a_snapshot_is_a_duplicate_that_changes_no_row(db: psycopg.Connection[Any]) -> None:
    # Given an ingested snapshot
    path = SNAPSHOTS / "brightdata_tiktok.json"
    first = ingest_file(db, path)
    before = table_fingerprint(db)
    before.pop("ingestions")
    # When the same content arrives again, once plain and once gzipped
    again = ingest_file(db, path)
    zipped = ingest_file(db, path, data=gzip.compress(path.read_bytes()))
    # Then both report duplicate of the first ingestion and no table changed
    assert (again.status, again.ingestion_id) == ("duplicate", first.ingestion_id)
    assert (zipped.status, zipped.ingestion_id) == ("duplicate", first.ingestion_id)
    after = table_fingerprint(db)
    assert db.execute("SELECT count(*) FROM ingestions").fetchone() == (1,)
    after.pop("ingestions")
    assert after == before


def test_an_unreadable_file_fails_cleanly_and_can_be_retried(db: psycopg.Connection[Any]) -> None:
    # Given a truncated JSON file
    data = (SNAPSHOTS / "apify_tiktok.json").read_bytes()[:-40]
    # When it is ingested
    result = ingest_file(db, SNAPSHOTS / "apify_tiktok.json", data=data)
    # Then the ingestion failed with a message, wrote nothing, and its hash does not block a retry
    assert result.status == "failed"
    assert result.error
    assert "malformed JSON" in result.error
    assert db.execute("SELECT status FROM ingestions").fetchall() == [("failed",)]
    assert ingest_file(db, SNAPSHOTS / "apify_tiktok.json", data=data).status == "failed"


def test_an_older_snapshot_adds_history_but_never_overwrites_newer_metrics(db: psycopg.Connection[Any]) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    newer = [{"id": 7100000000000000001, "username": "a", "view_count": 500, "comment_count": 5}]
    older = [{"id": 7100000000000000001, "username": "a", "view_count": 100, "comment_count": 9}]
    # Given the newer observation first
    ingest_direct(db, newer, observed_at=now)
    # When an older one arrives later
    result = ingest_direct(db, older, observed_at=now - timedelta(days=1))
    # Then the current metrics stay, the history has both points, and aggregates agree
    assert result.status == "completed"
    assert db.execute("SELECT views_count, comments_count FROM videos_hot").fetchone() == (500, 5)
    assert db.execute("SELECT views_count FROM video_metric_snapshots ORDER BY observed_at").fetchall() == [
        (100,),
        (500,),
    ]
    assert_no_drift(db)


def ingest_direct(conn: psycopg.Connection[Any], records: list[dict[str, Any]], **kwargs: Any):
    return ingest_snapshot(
        conn,
        lambda: read_records(records, "tiktok_research"),
        content_hash=records_content_hash(records),
        source="tiktok_research",
        trigger="invoke",
        **kwargs,
    )


def test_a_newer_scrape_updates_profiles_and_metadata_and_an_older_one_does_not(db: psycopg.Connection[Any]) -> None:
    # Given the Bright Data example ingested once
    path = SNAPSHOTS / "brightdata_tiktok.json"
    first = json.loads(path.read_text())
    ingest_file(db, path)
    creator, video = first[0]["account_id"], first[0]["post_id"]
    sound = first[0]["music"]["id"]
    before = db.execute("SELECT raw FROM creators_cold WHERE creator_id = %s", (creator,)).fetchone()
    forms = db.execute("SELECT display_forms FROM hashtags_cold WHERE hashtag = 'caredit'").fetchone()
    assert forms is not None

    def rescrape(timestamp: str, followers: int, verified: bool, title: str, tag: str) -> None:
        records = json.loads(path.read_text())
        r = records[0]
        r.update(timestamp=timestamp, profile_followers=followers, is_verified=verified, profile_biography=None)
        r["music"] = {**r["music"], "title": title}
        r["hashtags"] = [f"#{tag}", *r["hashtags"]]  # first: the spelling a video keeps for the tag
        ingest_file(db, path, json.dumps([r]).encode())

    # When a later scrape brings new followers, a verified badge, a retitled sound and a new spelling of a hashtag,
    # without a biography
    rescrape("2025-10-01T00:00:00.000Z", 7_000_000, True, "Midnight Circuit (Remastered)", "CAREDIT")
    # Then the creator's profile, the sound's metadata and the hashtag's spellings move; the bio is kept
    assert db.execute(
        "SELECT followers_count, verified, bio FROM creators_hot WHERE creator_id = %s", (creator,)
    ).fetchone() == (7_000_000, True, "cars x music • new edit every night")
    after = db.execute("SELECT raw FROM creators_cold WHERE creator_id = %s", (creator,)).fetchone()
    assert after is not None
    assert after != before
    assert db.execute("SELECT sound_title FROM sounds_hot WHERE sound_id = %s", (sound,)).fetchone() == (
        "Midnight Circuit (Remastered)",
    )
    assert db.execute("SELECT raw->>'title' FROM sounds_cold WHERE sound_id = %s", (sound,)).fetchone() == (
        "Midnight Circuit (Remastered)",
    )
    assert db.execute("SELECT display_forms FROM hashtags_cold WHERE hashtag = 'caredit'").fetchone() == (
        sorted([*forms[0], "CAREDIT"]),
    )
    # When an older scrape arrives with other values (it only adds a snapshot row)
    rescrape("2025-09-10T00:00:00.000Z", 10, False, "Old Title", "CarEDIT")
    # Then no profile or metadata goes back, and the video keeps its newer metrics
    assert db.execute(
        "SELECT followers_count, verified FROM creators_hot WHERE creator_id = %s", (creator,)
    ).fetchone() == (
        7_000_000,
        True,
    )
    assert db.execute("SELECT sound_title FROM sounds_hot WHERE sound_id = %s", (sound,)).fetchone() == (
        "Midnight Circuit (Remastered)",
    )
    assert db.execute("SELECT display_forms FROM hashtags_cold WHERE hashtag = 'caredit'").fetchone() == (
        sorted([*forms[0], "CAREDIT"]),
    )
    assert db.execute("SELECT count(*) FROM video_metric_snapshots WHERE video_id = %s", (video,)).fetchone() == (3,)
    assert_no_drift(db)


def test_direct_records_event_ingests_and_redelivery_is_duplicate(db: psycopg.Connection[Any]) -> None:
    event = DirectRecordsEvent(
        source="apify", records=list(__import__("json").loads((SNAPSHOTS / "apify_tiktok.json").read_text()))
    )
    first = ingest_records(db, event)
    second = ingest_records(db, event)
    assert (first.status, first.accepted, second.status) == ("completed", 3, "duplicate")


# ---------------------------------------------------------------- the invariant, over random snapshot sequences
VIDEO_IDS = [str(7_200_000_000_000_000_000 + i) for i in range(6)]
HANDLES = ["ana", "bo", "cy"]
TAGS = ["fyp", "edit", "café", "cafe", "anime"]
SOUNDS = [None, 7_300_000_000_000_000_001, 7_300_000_000_000_000_002]

record_strategy = st.fixed_dictionaries(
    {
        "id": st.sampled_from(VIDEO_IDS).map(int),
        "username": st.sampled_from(HANDLES),
        "view_count": st.integers(0, 10**10),
        "like_count": st.integers(0, 10**8),
        "comment_count": st.integers(0, 10**5),
        "share_count": st.integers(0, 10**6),
        "favorites_count": st.integers(0, 10**6),
        "hashtag_names": st.lists(st.sampled_from(TAGS), max_size=3),
        "create_time": st.integers(1_700_000_000, 1_760_000_000),
    },
    optional={"music_id": st.sampled_from([s for s in SOUNDS if s])},
)
snapshot_strategy = st.tuples(st.lists(record_strategy, min_size=1, max_size=6), st.integers(0, 5))


def reset_catalogue(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "TRUNCATE videos_hot, creators_hot, sounds_hot, hashtags_hot, ingestions, communities RESTART IDENTITY CASCADE"
    )
    conn.execute(
        "INSERT INTO communities (slug, name, linked_hashtags) VALUES"
        " ('editors', 'Editors', '{edit,anime}'), ('coffee', 'Coffee', '{café,cafe}'), ('all', 'All', '{fyp,edit}')"
    )


@given(
    snapshots=st.lists(snapshot_strategy, min_size=1, max_size=6),
    chunk_size=st.sampled_from([1, 2, 5000]),
    writers=st.sampled_from([1, 2, 3]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_aggregates_equal_a_full_recomputation_after_any_snapshot_sequence(
    db: psycopg.Connection[Any],
    db_url: str,
    snapshots: list[tuple[list[dict[str, Any]], int]],
    chunk_size: int,
    writers: int,
) -> None:
    # Given communities and an empty catalogue
    reset_catalogue(db)
    base = datetime(2026, 10, 1, tzinfo=UTC)
    # When snapshots arrive in any order (observation day 0-5: older ones may come later), some repeated
    # verbatim, with metrics going up and down and hashtags/sounds/creators changing between them
    latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for records, day in [*snapshots, snapshots[0]]:
        seen = base + timedelta(days=day)
        result = ingest_direct(
            db,
            records,
            observed_at=seen,
            chunk_size=chunk_size,
            open_connection=lambda: psycopg.connect(db_url, autocommit=True),
            writers=writers,
        )
        assert result.status in ("completed", "duplicate")
        if result.status == "completed":
            for r in records:
                key = str(r["id"])
                if key not in latest or seen >= latest[key][0]:
                    latest[key] = (seen, r)
    # Then every aggregate equals a recomputation from the base tables
    assert_no_drift(db)
    # And each video holds the metrics of its newest observation
    stored = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT video_id, views_count, like_count_check FROM (SELECT video_id, views_count,"
            " likes_count AS like_count_check FROM videos_hot) v"
        ).fetchall()
    }
    assert stored == {k: (r["view_count"], r["like_count"]) for k, (_, r) in latest.items()}


def _stream_records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": 7_600_000_000_000_000_000 + i,
            "username": HANDLES[i % 3],
            "view_count": 100 + i,
            "like_count": i,
            "comment_count": i % 4,
            "hashtag_names": [TAGS[i % 5], TAGS[(i + 2) % 5]],
            "music_id": SOUNDS[1 + i % 2],
        }
        for i in range(count)
    ]


def test_a_snapshot_written_in_two_streams_splits_its_videos_by_lock_bucket(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    # Given a snapshot of 200 videos and a second connection for the second stream
    reset_catalogue(db)
    records = _stream_records(200)
    opened: list[psycopg.Connection[Any]] = []

    def open_connection() -> psycopg.Connection[Any]:
        conn = psycopg.connect(db_url, autocommit=True)
        opened.append(conn)
        return conn

    # When it is ingested with two writers in chunks of 30
    result = ingest_direct(db, records, chunk_size=30, open_connection=open_connection, writers=2)
    # Then one more connection was opened (and closed), every video went in once, and nothing drifted
    assert len(opened) == 1
    assert opened[0].closed
    assert (result.status, result.accepted, result.new_videos) == ("completed", 200, 200)
    assert db.execute("SELECT count(*) FROM videos_hot").fetchone() == (200,)
    assert_no_drift(db)
    # And each chunk (one transaction: its snapshot rows share an xmin) held videos of one stream's lock buckets
    # only, at most 30, and both streams wrote
    chunks: dict[str, list[str]] = {}
    for xmin, video_id in db.execute("SELECT xmin::text, video_id FROM video_metric_snapshots").fetchall():
        chunks.setdefault(xmin, []).append(video_id)
    streams = [{video_bucket(v) % 2 for v in videos} for videos in chunks.values()]
    assert all(len(s) == 1 for s in streams)
    assert {next(iter(s)) for s in streams} == {0, 1}
    assert max(map(len, chunks.values())) <= 30
    assert sum(map(len, chunks.values())) == 200


def test_a_stream_that_fails_stops_the_snapshot_and_marks_it_failed(db: psycopg.Connection[Any]) -> None:
    # Given a second stream whose connection cannot be opened
    reset_catalogue(db)

    def open_connection() -> psycopg.Connection[Any]:
        raise psycopg.OperationalError("connection refused (simulated)")

    # When a snapshot is ingested with two writers, then the error is raised, not swallowed
    with pytest.raises(psycopg.OperationalError, match="simulated"):
        ingest_direct(db, _stream_records(120), chunk_size=10, open_connection=open_connection, writers=2)
    # And the ingestion row says failed (a retry is not taken for a duplicate)
    assert db.execute("SELECT status, error LIKE '%simulated%' FROM ingestions").fetchall() == [("failed", True)]
    # And what the first stream committed before it stopped is consistent
    assert_no_drift(db)


def test_four_concurrent_ingests_on_overlapping_keys_keep_the_invariant(db_url: str) -> None:
    # Given four snapshots sharing creators, hashtags, sounds and some videos
    with psycopg.connect(db_url, autocommit=True) as conn:
        reset_catalogue(conn)
    snapshots = []
    for worker in range(4):
        records = [
            {
                "id": 7_400_000_000_000_000_000 + (worker * 37 + i) % 120,
                "username": HANDLES[(worker + i) % 3],
                "view_count": 1000 * (worker + 1) + i,
                "like_count": 10 * i,
                "comment_count": i % 7,
                "hashtag_names": [TAGS[i % 5], TAGS[(i + worker) % 5]],
                "music_id": SOUNDS[1 + i % 2],
            }
            for i in range(300)
        ]
        snapshots.append(records)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(records: list[dict[str, Any]]) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                ingest_direct(conn, records, chunk_size=50)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in snapshots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    # Then none failed (no deadlock) and every aggregate equals its recomputation
    assert errors == []
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM ingestions WHERE status = 'completed'").fetchone() == (4,)
        assert_no_drift(conn)
        assert conn.execute("SELECT count(*) FROM videos_hot").fetchone() == (120,)


def test_concurrent_chunks_creating_the_same_new_memberships_count_each_once(db_url: str) -> None:
    # Given four workers whose videos are all different (different lock buckets, one video per chunk) but share
    # creators, hashtags and communities, so they race to create the same (hashtag, creator), (community, creator),
    # (community, hashtag) and per-platform total rows
    with psycopg.connect(db_url, autocommit=True) as conn:
        reset_catalogue(conn)
    snapshots = [
        [
            {
                "id": 7_500_000_000_000_000_000 + worker * 1000 + i,
                "username": HANDLES[i % 2],
                "view_count": 10 + i,
                "like_count": i,
                "comment_count": 1,
                "hashtag_names": ["edit", "fyp", "cafe"],
            }
            for i in range(40)
        ]
        for worker in range(4)
    ]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(records: list[dict[str, Any]]) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                ingest_direct(conn, records, chunk_size=1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in snapshots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    # Then nothing failed and every count, creators_count included, equals its recomputation
    assert errors == []
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert_no_drift(conn)
        assert conn.execute(
            "SELECT videos_count, creators_count FROM hashtags_hot WHERE hashtag = 'edit'"
        ).fetchone() == (
            160,
            2,
        )
        assert conn.execute("SELECT total_videos, total_creators FROM communities WHERE slug = 'all'").fetchone() == (
            160,
            2,
        )


def test_a_sounds_last_used_at_counts_the_facts_of_a_chunk_it_waited_for(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    # Given a sound used by an old video (X) and the newest video (Y), and a snapshot in which Y leaves the sound while
    # a video of another creator in the other stream (Z) joins it: the sound's last_used_at must end at Z's date
    reset_catalogue(db)
    x, y, z = VIDEO_IDS[5], VIDEO_IDS[3], VIDEO_IDS[4]
    assert video_bucket(y) % 2 != video_bucket(z) % 2  # one chunk per stream

    def record(video_id: str, handle: str, posted: int, sound: int | None) -> dict[str, Any]:
        r = {"id": int(video_id), "username": handle, "view_count": 10, "like_count": 1, "create_time": posted}
        return r | ({"music_id": sound} if sound else {})

    sound = SOUNDS[1]
    assert sound is not None
    ingest_direct(db, [record(x, "ana", 1_700_000_000, sound), record(y, "ana", 1_750_000_000, sound)])
    # When both streams' chunks have written their facts and wait for the sound's row, then go on one after the other
    holder = psycopg.connect(db_url)
    holder.execute("SELECT 1 FROM sounds_hot WHERE sound_id = %s FOR NO KEY UPDATE", (str(sound),))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                ingest_direct(
                    conn,
                    [record(y, "ana", 1_750_000_000, None), record(z, "bo", 1_720_000_000, sound)],
                    chunk_size=1,
                    open_connection=lambda: psycopg.connect(db_url, autocommit=True),
                    writers=2,
                )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    waiting = wait_for_lock_waiters(db, 2)
    holder.rollback()
    holder.close()
    thread.join(timeout=60)
    # Then both chunks waited there, and last_used_at counts Z's fact, committed while the other chunk waited
    assert errors == []
    assert waiting == 2
    assert db.execute("SELECT last_used_at FROM sounds_hot WHERE sound_id = %s", (str(sound),)).fetchone() == (
        datetime.fromtimestamp(1_720_000_000, UTC),
    )
    assert_no_drift(db)


def test_a_hidden_youtube_count_keeps_the_last_known_value(db: psycopg.Connection[Any]) -> None:
    # Given a YouTube video ingested with its likes and comments visible
    item = json.loads((SNAPSHOTS / "youtube_videos_list.json").read_text(encoding="utf-8"))["items"][0]
    video_id = item["id"]
    first = ingest_records(db, DirectRecordsEvent(source="youtube", records=[item]))
    assert first.status == "completed"
    before = db.execute(
        "SELECT likes_count, comments_count, views_count FROM videos_hot WHERE video_id = %s", (video_id,)
    ).fetchone()
    assert before is not None
    assert before[0] > 0
    assert before[1] > 0

    # When a later snapshot has more views but the owner hid likes and disabled comments
    later = json.loads(json.dumps(item))
    later["statistics"] = {"viewCount": str(before[2] + 1000)}
    later["etag"] = "a-later-fetch"
    second = ingest_records(db, DirectRecordsEvent(source="youtube", records=[later]))
    assert second.status == "completed"

    # Then views move, likes and comments keep their last known values (not zero from now on),
    # the new snapshot row records the gap as NULL, and every aggregate still equals its recomputation
    after = db.execute(
        "SELECT likes_count, comments_count, views_count FROM videos_hot WHERE video_id = %s", (video_id,)
    ).fetchone()
    assert after == (before[0], before[1], before[2] + 1000)
    latest = db.execute(
        "SELECT likes_count, comments_count FROM video_metric_snapshots WHERE video_id = %s"
        " ORDER BY observed_at DESC LIMIT 1",
        (video_id,),
    ).fetchone()
    assert latest == (None, None)
    assert_no_drift(db)
