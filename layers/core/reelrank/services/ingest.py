"""Use case: ingest one snapshot (a file in S3, or records handed over directly) into every table.

Re-delivery is a no-op: the snapshot's content hash (of the decompressed bytes, or of the records' canonical JSON)
is unique among live ingestions, so a second delivery reports ``duplicate`` and writes nothing. Records are written
in chunks, one short transaction each (``reelrank.db.ingest_writes``); a bad record is kept in ``rejected_videos``
with its reason while the rest goes in.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import queue
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from urllib.parse import unquote_plus

import psycopg
from pydantic import ValidationError

from reelrank.db import ingestions
from reelrank.db.ingest_writes import VIDEO_LOCK_BUCKETS, video_bucket, write_chunk
from reelrank.errors import ReelrankError, SnapshotFormatError
from reelrank.models.canonical import CanonicalVideo, RejectedRecord, SourceName
from reelrank.models.ingest import (
    MAX_REPORTED_REJECTIONS,
    DirectRecordsEvent,
    IngestResponse,
    ObjectEvent,
    RejectionOut,
    S3NotificationEvent,
)
from reelrank.services.snapshot_reader import SnapshotRecords, read_records, read_snapshot, records_content_hash
from reelrank.settings import DEFAULT_INGEST_WRITERS

DEFAULT_CHUNK_SIZE = 5000
# Records read ahead at a time when streams write (each stream fills its own chunks of chunk_size)
_READ_BATCH = 500
_CHUNK_ATTEMPTS = 5
_RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure, psycopg.errors.LockNotAvailable)
_SOURCES: tuple[SourceName, ...] = ("brightdata", "apify", "youtube", "tiktok_research")
_COPY_BUFFER = 1 << 20


class IngestEventError(ReelrankError):
    """The event is none of the shapes the ingest function accepts."""


def hash_decompressed(stream: IO[bytes]) -> str:
    """SHA-256 of a file's decompressed bytes (gzip sniffed by its magic), read in constant memory."""
    head = stream.read(2)
    stream.seek(0)
    body: IO[bytes] = gzip.GzipFile(fileobj=stream) if head == b"\x1f\x8b" else stream  # type: ignore[assignment]
    digest = hashlib.sha256()
    while block := body.read(_COPY_BUFFER):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()
_T = TypeVar("_T")


def prefetched(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """Yield ``items`` produced by a background thread, at most ``depth`` ahead of the consumer.

    Reading and validating the next chunk is Python work; writing the current one is mostly waiting for PostgreSQL
    (psycopg releases the GIL meanwhile), so the two overlap. An exception in the producer is re-raised here, in
    order; a consumer that stops early stops the producer.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(item: object) -> bool:
        while not stopped.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Raised(exc))
            return
        put(_DONE)

    producer = threading.Thread(target=produce, name="snapshot-reader", daemon=True)
    producer.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stopped.set()
        producer.join()


def ingest_snapshot(
    conn: psycopg.Connection[Any],
    open_records: Any,
    *,
    content_hash: str,
    source: SourceName | None,
    trigger: str,
    snapshot_id: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
    etag: str | None = None,
    observed_at: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
    writers: int = DEFAULT_INGEST_WRITERS,
) -> IngestResponse:
    """Ingest one snapshot whose content hash is already known.

    Parameters
    ----------
    conn
        An autocommit connection; each chunk is its own transaction.
    open_records
        A callable returning the snapshot's :class:`SnapshotRecords` (only called when the snapshot is new).
    content_hash
        SHA-256 of the snapshot's content, the idempotency key.
    source, trigger, snapshot_id, bucket, key, etag
        Recorded on the ``ingestions`` row.
    observed_at
        Observation time for records that carry none (default: now).
    chunk_size
        Records per write transaction.
    open_connection
        Opens another connection like ``conn``. With it and ``writers`` > 1, the records are split by video bucket
        into ``writers`` streams, each written in chunks on a connection of its own (``conn`` for the first): see
        :func:`_write_streams`. Without it, one stream on ``conn``.
    writers
        How many streams, when ``open_connection`` is given.

    Returns
    -------
    IngestResponse
        ``completed``, ``duplicate`` (nothing written), or ``failed`` for a file that cannot be read at all.
    """
    ingestion_id, existing = ingestions.begin_ingestion(
        conn,
        content_hash=content_hash,
        source=source,
        snapshot_id=snapshot_id,
        trigger=trigger,
        bucket=bucket,
        key=key,
        etag=etag,
    )
    if existing is not None:
        return IngestResponse(
            ingestion_id=ingestion_id,
            status="duplicate",
            source=existing.source,
            received=existing.received,
            accepted=existing.accepted,
            rejected=existing.rejected,
        )
    seen_at = observed_at or datetime.now(UTC)
    rejections: list[RejectionOut] = []
    try:
        records: SnapshotRecords = open_records()
        if open_connection is None or writers <= 1:
            for chunk in prefetched(records.chunks(chunk_size)):
                _write_one_chunk(conn, ingestion_id, chunk, records.source, seen_at, rejections)
        else:
            # read in small batches: the streams hold their own chunks, so the read-ahead need not be chunks too
            batches = prefetched(records.chunks(min(chunk_size, _READ_BATCH)))
            record_lock = threading.Lock()

            def write(c: psycopg.Connection[Any], chunk: _Chunk) -> None:
                _write_one_chunk(c, ingestion_id, chunk, records.source, seen_at, rejections, record_lock)

            _write_streams(conn, open_connection, writers, batches, chunk_size, write)
    except SnapshotFormatError as exc:
        # The file itself is unreadable: retrying cannot help, so report it instead of raising.
        row = ingestions.finish_ingestion(conn, ingestion_id, status="failed", error=str(exc))
        return _response(row, rejections, error=str(exc))
    except BaseException as exc:
        # Transient or unexpected: mark the row failed (so a retry is not taken for a duplicate) and re-raise.
        if not conn.broken:
            ingestions.finish_ingestion(conn, ingestion_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    row = ingestions.finish_ingestion(conn, ingestion_id, status="completed")
    return _response(row, rejections)


_Chunk = list[tuple[int, CanonicalVideo | RejectedRecord]]


def _stream_of(record: CanonicalVideo | RejectedRecord, streams: int) -> int:
    """The stream of a video: its ingest lock bucket modulo ``streams``, so chunks of different streams never wait for
    each other's video locks. Rejected records go with the first."""
    if isinstance(record, RejectedRecord):
        return 0
    return video_bucket(record.video_id) % streams


class _Streams:
    """``count`` writer threads, each writing the chunks handed to it on its own connection (the first on ``conn``)."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        count: int,
        conn: psycopg.Connection[Any],
        open_connection: Callable[[], psycopg.Connection[Any]],
        write: Callable[[psycopg.Connection[Any], _Chunk], None],
    ) -> None:
        self.stop = threading.Event()
        self._handoffs: list[queue.Queue[_Chunk | None]] = [queue.Queue(maxsize=1) for _ in range(count)]
        self._conn, self._open, self._write = conn, open_connection, write
        self._futures = [pool.submit(self._run, i) for i in range(count)]

    def _run(self, stream: int) -> None:
        try:
            own = self._conn if stream == 0 else self._open()
            try:
                while (chunk := self._handoffs[stream].get()) is not None and not self.stop.is_set():
                    self._write(own, chunk)
            finally:
                if own is not self._conn:
                    own.close()
        except BaseException:
            self.stop.set()  # the other streams stop after their chunk in flight
            raise

    def hand(self, stream: int, chunk: _Chunk | None) -> None:
        """Queue ``chunk`` (None: the end) for ``stream``; raises the stream's error if it failed meanwhile."""
        future = self._futures[stream]
        while True:
            try:
                self._handoffs[stream].put(chunk, timeout=0.05)
                return
            except queue.Full:
                if future.done():
                    future.result()
                    return

    def finish(self) -> None:
        """End every stream and wait for it; raises the first stream's error."""
        for stream, future in enumerate(self._futures):
            if not future.done():
                self.hand(stream, None)
        for future in self._futures:
            future.result()


def _write_streams(
    conn: psycopg.Connection[Any],
    open_connection: Callable[[], psycopg.Connection[Any]],
    writers: int,
    batches: Iterator[_Chunk],
    chunk_size: int,
    write: Callable[[psycopg.Connection[Any], _Chunk], None],
) -> None:
    """Write the records in ``writers`` streams at once, each on its own connection (``conn`` for the first).

    The streams split the videos by lock bucket, so their chunks hold disjoint video locks and run side by side: while
    one chunk writes its videos and facts, another can write the totals they share (every shared row is locked in key
    order, per table in a fixed order, so they queue rather than deadlock; a cycle PostgreSQL still breaks is retried
    as a whole chunk). All the records of one video go to one stream, in snapshot order, so its exactness rules hold
    as in a single stream. Each stream fills chunks of ``chunk_size``; a failure in any stream stops them all and is
    raised here.
    """
    count = min(writers, VIDEO_LOCK_BUCKETS)
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ingest-writer") as pool:
        streams = _Streams(pool, count, conn, open_connection, write)
        try:
            filling: list[_Chunk] = [[] for _ in range(count)]
            for batch in batches:
                if streams.stop.is_set():
                    break
                for item in batch:
                    stream = _stream_of(item[1], count)
                    filling[stream].append(item)
                    if len(filling[stream]) >= chunk_size:
                        streams.hand(stream, filling[stream])
                        filling[stream] = []
            for stream, rest in enumerate(filling):
                if rest and not streams.stop.is_set():
                    streams.hand(stream, rest)
        except BaseException:
            streams.stop.set()
            raise
        finally:
            streams.finish()


def _write_one_chunk(
    conn: psycopg.Connection[Any],
    ingestion_id: int,
    chunk: _Chunk,
    source: SourceName | None,
    seen_at: datetime,
    rejections: list[RejectionOut],
    record_lock: threading.Lock | None = None,
) -> None:
    videos = [r for _, r in chunk if isinstance(r, CanonicalVideo)]
    rejected = [r for _, r in chunk if isinstance(r, RejectedRecord)]
    if videos:
        times = [v.observed_at or seen_at for v in videos]
        ingestions.ensure_snapshot_partitions(conn, min(times), max(times))
    for attempt in range(1, _CHUNK_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '30s'")
                result = write_chunk(conn, videos, ingestion_id=ingestion_id, observed_at=seen_at)
                ingestions.record_rejections(conn, ingestion_id, rejected)
                ingestions.add_chunk_counts(
                    conn,
                    ingestion_id,
                    received=len(chunk),
                    accepted=len(videos),
                    rejected=len(rejected),
                    new=result.new_videos,
                    updated=result.updated_videos,
                    source=source,
                )
            break
        except _RETRYABLE:
            # Rows are locked in key order per table, but a video that another ingest committed between this
            # chunk's lock step and its upsert can still close a cycle; PostgreSQL breaks it by aborting one side.
            # The chunk rolled back whole, so running it again is exact.
            if attempt == _CHUNK_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.2) * attempt)
    with record_lock or contextlib.nullcontext():
        room = MAX_REPORTED_REJECTIONS - len(rejections)
        rejections.extend(RejectionOut(index=r.index, video_id=r.video_id, reason=r.reason) for r in rejected[:room])


def _response(row: ingestions.IngestionRow, rejections: list[RejectionOut], error: str | None = None) -> IngestResponse:
    return IngestResponse(
        ingestion_id=row.ingestion_id,
        status=row.status,
        source=row.source,
        received=row.received,
        accepted=row.accepted,
        rejected=row.rejected,
        new_videos=row.new_videos,
        updated_videos=row.updated_videos,
        rejections=rejections,
        error=error,
    )


def ingest_records(
    conn: psycopg.Connection[Any],
    event: DirectRecordsEvent,
    *,
    trigger: str = "invoke",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
    writers: int = DEFAULT_INGEST_WRITERS,
) -> IngestResponse:
    """Ingest records handed over inline (direct invoke, ``POST /admin/ingest``)."""
    records = list(event.records)
    return ingest_snapshot(
        conn,
        lambda: read_records(records, event.source),
        content_hash=records_content_hash(records),
        source=event.source,
        trigger=trigger,
        snapshot_id=event.snapshot_id,
        chunk_size=chunk_size,
        open_connection=open_connection,
        writers=writers,
    )


def ingest_s3_object(
    conn: psycopg.Connection[Any],
    s3_client: Any,
    bucket: str,
    key: str,
    *,
    source: SourceName | None = None,
    snapshot_id: str | None = None,
    trigger: str = "s3",
    observed_at: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
    writers: int = DEFAULT_INGEST_WRITERS,
) -> IngestResponse:
    """Ingest one S3 object, streamed to a temporary file (constant memory whatever its size)."""
    source = source or _source_from_key(key)
    obj = s3_client.get_object(Bucket=bucket, Key=key)
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(obj["Body"], spool, _COPY_BUFFER)
        spool.seek(0)
        content_hash = hash_decompressed(spool)
        return ingest_snapshot(
            conn,
            lambda: read_snapshot(spool, source),
            content_hash=content_hash,
            source=source,
            trigger=trigger,
            snapshot_id=snapshot_id,
            bucket=bucket,
            key=key,
            etag=str(obj.get("ETag", "")).strip('"') or None,
            observed_at=observed_at,
            chunk_size=chunk_size,
            open_connection=open_connection,
            writers=writers,
        )


def _source_from_key(key: str) -> SourceName | None:
    """A delivery folder named after the source (``brightdata/…``) says which it is; otherwise it is detected."""
    first = key.split("/", 1)[0].lower().replace("-", "_")
    return next((s for s in _SOURCES if s == first), None)


def handle_ingest_event(
    event: dict[str, Any],
    conn: psycopg.Connection[Any],
    *,
    s3_client: Any | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    open_connection: Callable[[], psycopg.Connection[Any]] | None = None,
    writers: int = DEFAULT_INGEST_WRITERS,
) -> IngestResponse:
    """Dispatch an ingest function event: S3 notification, ``{"bucket", "key"}`` or ``{"records": [...]}``.

    ``open_connection`` and ``writers``: see :func:`ingest_snapshot`.

    Raises
    ------
    IngestEventError
        If the event matches none of the accepted shapes (the message says what each shape needs).
    """
    if "Records" in event:
        notification = _parse(S3NotificationEvent, event)
        results = [
            ingest_s3_object(
                conn,
                s3_client or _default_s3(),
                r.s3.bucket.name,
                unquote_plus(r.s3.object.key),
                observed_at=_parse_time(r.eventTime),
                chunk_size=chunk_size,
                open_connection=open_connection,
                writers=writers,
            )
            for r in notification.Records
        ]
        return results[0] if len(results) == 1 else _combine(results)
    if "records" in event:
        return ingest_records(
            conn,
            _parse(DirectRecordsEvent, event),
            chunk_size=chunk_size,
            open_connection=open_connection,
            writers=writers,
        )
    if "bucket" in event or "key" in event:
        ref = _parse(ObjectEvent, event)
        return ingest_s3_object(
            conn,
            s3_client or _default_s3(),
            ref.bucket,
            ref.key,
            source=ref.source,
            snapshot_id=ref.snapshot_id,
            trigger="invoke",
            chunk_size=chunk_size,
            open_connection=open_connection,
            writers=writers,
        )
    raise IngestEventError(
        "unrecognised ingest event: expected an S3 notification ({'Records': [...]}), "
        "{'records': [...], 'source'?: ...} or {'bucket': ..., 'key': ...}"
    )


def _parse(model: Any, event: dict[str, Any]) -> Any:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        raise IngestEventError(f"invalid {model.__name__}: {problems}") from exc


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _combine(results: list[IngestResponse]) -> IngestResponse:
    statuses = {r.status for r in results}
    status = "failed" if "failed" in statuses else "completed" if "completed" in statuses else "duplicate"
    rejections: Iterator[RejectionOut] = (x for r in results for x in r.rejections)
    return IngestResponse(
        ingestion_id=results[-1].ingestion_id,
        status=status,
        source=results[-1].source,
        received=sum(r.received for r in results),
        accepted=sum(r.accepted for r in results),
        rejected=sum(r.rejected for r in results),
        new_videos=sum(r.new_videos for r in results),
        updated_videos=sum(r.updated_videos for r in results),
        rejections=list(rejections)[:MAX_REPORTED_REJECTIONS],
    )


def _default_s3() -> Any:
    import boto3  # the Lambda runtime provides boto3; imported only when an S3 event arrives

    return boto3.client("s3")
