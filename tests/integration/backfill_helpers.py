"""Helpers shared by the backfill, reconcile, weights and ingest tests: a small mixed catalogue, invariant checks,
and a wait for sessions blocked on a lock."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from reelrank.services.ingest import ingest_snapshot
from reelrank.services.snapshot_reader import read_records, records_content_hash

HANDLES = ["ana", "bo", "cy", "dee", "eli"]
TAGS = ["fyp", "edit", "café", "cafe", "anime", "cars", "music"]
SOUNDS = [7_300_000_000_000_000_001, 7_300_000_000_000_000_002, 7_300_000_000_000_000_003]


def catalogue_records(n: int, seed: int = 1, first_id: int = 7_600_000_000_000_000_000) -> list[dict[str, Any]]:
    """``n`` TikTok Research API records sharing creators, hashtags and sounds."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        record: dict[str, Any] = {
            "id": first_id + i,
            "username": rng.choice(HANDLES),
            "view_count": rng.randint(0, 10**9),
            "like_count": rng.randint(0, 10**7),
            "comment_count": rng.randint(0, 10**5),
            "share_count": rng.randint(0, 10**5),
            "favorites_count": rng.randint(0, 10**5),
            "hashtag_names": rng.sample(TAGS, rng.randint(0, 3)),
            "create_time": rng.randint(1_700_000_000, 1_760_000_000),
        }
        if rng.random() < 0.7:
            record["music_id"] = rng.choice(SOUNDS)
        records.append(record)
    return records


def ingest_records(conn: psycopg.Connection[Any], records: list[dict[str, Any]], **kwargs: Any) -> Any:
    return ingest_snapshot(
        conn,
        lambda: read_records(records, "tiktok_research"),
        content_hash=records_content_hash(records),
        source="tiktok_research",
        trigger="invoke",
        observed_at=kwargs.pop("observed_at", datetime(2026, 10, 1, tzinfo=UTC)),
        **kwargs,
    )


def build_catalogue(conn: psycopg.Connection[Any], n: int = 120, seed: int = 1) -> None:
    """Communities plus ``n`` ingested videos: every aggregate table has rows."""
    conn.execute(
        "INSERT INTO communities (slug, name, linked_hashtags) VALUES"
        " ('editors', 'Editors', '{edit,anime}'), ('coffee', 'Coffee', '{café,cafe}'), ('all', 'All', '{fyp,edit}'),"
        " ('empty', 'Empty', '{nothing}')"
    )
    result = ingest_records(conn, catalogue_records(n, seed), chunk_size=50)
    assert result.status == "completed"


def drift(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    return [(str(a), str(e)) for a, e in conn.execute("SELECT aggregate, entity FROM aggregate_drift").fetchall()]


def stale_or_wrong_videos(conn: psycopg.Connection[Any]) -> int:
    """Videos not on the active version or whose score differs from the active formula."""
    row = conn.execute(
        "SELECT count(*) FROM videos_hot WHERE impact_version <> active_impact_version()"
        " OR impact_score <> compute_impact(views_count, likes_count, comments_count, shares_count, collect_count)"
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_weights(conn: psycopg.Connection[Any], *, comments: str = "50", views: str = "0.00002") -> int:
    """Activate a new weights version through the service; returns its number."""
    from reelrank.services.weights import set_impact_weights

    response = set_impact_weights(
        conn,
        {"views": Decimal(views), "likes": "0.002", "comments": Decimal(comments), "shares": "0.5", "saves": "0.2"},
    )
    return response.version


def wait_for_lock_waiters(conn: psycopg.Connection[Any], count: int, *, seconds: float = 30) -> int:
    """Wait until ``count`` other sessions of this database wait for a lock (or ``seconds`` pass); returns how many
    waited at the last look."""
    deadline = time.monotonic() + seconds
    while True:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        waiting = int(row[0]) if row else 0
        if waiting >= count or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)
