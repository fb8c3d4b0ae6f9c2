"""The ``ingestions`` log and ``rejected_videos``: one row per snapshot, one per bad record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from reelrank.models.canonical import RejectedRecord

# A run that has been "running" longer than a Lambda can live (15 minutes) died; its snapshot may be retried.
_ABANDONED_AFTER = "20 minutes"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):  # ijson yields Decimal for non-integers; keep the exact text
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_jsonb(value: object) -> Jsonb:
    """Wrap a raw record for a jsonb column, whatever numeric types the JSON parser produced."""
    return Jsonb(value, dumps=lambda obj: json.dumps(obj, default=_json_default, ensure_ascii=False))


@dataclass(frozen=True, slots=True)
class IngestionRow:
    ingestion_id: int
    status: str
    source: str | None
    received: int
    accepted: int
    rejected: int
    new_videos: int
    updated_videos: int


def begin_ingestion(
    conn: psycopg.Connection[Any],
    *,
    content_hash: str,
    source: str | None,
    snapshot_id: str | None,
    trigger: str,
    bucket: str | None = None,
    key: str | None = None,
    etag: str | None = None,
) -> tuple[int, IngestionRow | None]:
    """Open an ingestion for ``content_hash``.

    Returns
    -------
    tuple[int, IngestionRow | None]
        ``(new_id, None)`` when this snapshot is new, or ``(existing_id, existing_row)`` when a completed or running
        ingestion of the same content already exists (a re-delivery).
    """
    with conn.transaction():
        conn.execute(
            """
            UPDATE ingestions SET status = 'failed', error = 'abandoned: still running after ' || %s, finished_at = now()
            WHERE content_hash = %s AND status = 'running' AND started_at < now() - %s::interval
            """,
            (_ABANDONED_AFTER, content_hash, _ABANDONED_AFTER),
        )
        row = conn.execute(
            """
            INSERT INTO ingestions (content_hash, source, snapshot_id, trigger, object_bucket, object_key, object_etag)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (content_hash) WHERE status <> 'failed' DO NOTHING
            RETURNING ingestion_id
            """,
            (content_hash, source, snapshot_id, trigger, bucket, key, etag),
        ).fetchone()
        if row is not None:
            return int(row[0]), None
        existing = conn.execute(
            """
            SELECT ingestion_id, status, source, received, accepted, rejected, new_videos, updated_videos
            FROM ingestions WHERE content_hash = %s AND status <> 'failed'
            """,
            (content_hash,),
        ).fetchone()
    if existing is None:  # the live row failed between our two statements: try once more
        return begin_ingestion(
            conn,
            content_hash=content_hash,
            source=source,
            snapshot_id=snapshot_id,
            trigger=trigger,
            bucket=bucket,
            key=key,
            etag=etag,
        )
    return int(existing[0]), IngestionRow(*existing)


def record_rejections(conn: psycopg.Connection[Any], ingestion_id: int, rejected: list[RejectedRecord]) -> None:
    """Keep every rejected record with its reason (COPY; inside the chunk's transaction)."""
    if not rejected:
        return
    with (
        conn.cursor() as cur,
        cur.copy("COPY rejected_videos (ingestion_id, record_index, video_id, reason, raw) FROM STDIN") as copy,
    ):
        for r in rejected:
            copy.write_row((ingestion_id, r.index, r.video_id, r.reason, to_jsonb(r.raw)))


def add_chunk_counts(
    conn: psycopg.Connection[Any],
    ingestion_id: int,
    *,
    received: int,
    accepted: int,
    rejected: int,
    new: int,
    updated: int,
    source: str | None,
) -> None:
    conn.execute(
        """
        UPDATE ingestions SET received = received + %s, accepted = accepted + %s, rejected = rejected + %s,
               new_videos = new_videos + %s, updated_videos = updated_videos + %s, source = coalesce(source, %s)
        WHERE ingestion_id = %s
        """,
        (received, accepted, rejected, new, updated, source, ingestion_id),
    )


def finish_ingestion(
    conn: psycopg.Connection[Any], ingestion_id: int, *, status: str, error: str | None = None
) -> IngestionRow:
    row = conn.execute(
        """
        UPDATE ingestions SET status = %s, error = %s, finished_at = clock_timestamp(),
               duration_ms = (extract(epoch FROM clock_timestamp() - started_at) * 1000)::integer
        WHERE ingestion_id = %s
        RETURNING ingestion_id, status, source, received, accepted, rejected, new_videos, updated_videos
        """,
        (status, error, ingestion_id),
    ).fetchone()
    if row is None:
        raise LookupError(f"ingestion {ingestion_id} does not exist")
    return IngestionRow(*row)


def ensure_snapshot_partitions(conn: psycopg.Connection[Any], first: datetime, last: datetime) -> None:
    """Create the monthly snapshot partitions covering [first, last] (its own short transaction; retried once when a
    concurrent ingest created the same partition at the same moment)."""
    for attempt in range(2):
        try:
            with conn.transaction():
                conn.execute("SELECT ensure_snapshot_partitions(%s, %s)", (first, last))
            return
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            if attempt == 1:
                raise
