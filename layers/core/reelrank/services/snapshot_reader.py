"""Read a delivered snapshot file as a lazy stream of validated records (FORMATS.md §1.2, §6.8).

A snapshot may be gzip-compressed (sniffed by its magic bytes, whatever the file name says), and its decompressed
text may be a JSON array of records, NDJSON (one JSON value per line), or a single API response that wraps the
records (YouTube ``videoListResponse``, TikTok Research API ``{data: {videos}}``). The file is parsed incrementally
with ``ijson`` so a 200 MB array never sits in memory, and every decompressed byte is hashed on its way to the
parser: the SHA-256 is the snapshot's identity for idempotent re-delivery.

Usage::

    records = read_snapshot(body)          # sniffs the format and the source, validates nothing yet
    for chunk in records.chunks(500):      # [(index, CanonicalVideo | RejectedRecord), ...] in file order
        ...
    records.content_hash                   # known once every record has been read
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import hashlib
import io
import json
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any, BinaryIO, Final, Protocol

import ijson

from reelrank.errors import SnapshotFormatError
from reelrank.models.canonical import CanonicalVideo, RejectedRecord, SourceName
from reelrank.models.sources import detect_source, guess_source, reject_non_object, unwrap_container, validate_record

__all__ = ["IndexedRecord", "SnapshotRecords", "ValidatedRecord", "read_records", "read_snapshot"]

ValidatedRecord = CanonicalVideo | RejectedRecord
IndexedRecord = tuple[int, ValidatedRecord]

_READ_SIZE: Final = 64 * 1024
_GZIP_MAGIC: Final = b"\x1f\x8b"
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_JSON_WHITESPACE: Final = b" \t\r\n"
# How many leading non-object entries may be buffered while looking for the record that names the source.
_LOOKAHEAD_LIMIT: Final = 1000
# The read failures of a corrupt or truncated gzip stream.
_GZIP_ERRORS: Final = (gzip.BadGzipFile, EOFError, zlib.error)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _PrefixedReader:
    """Replays the bytes read while sniffing, then reads on from the underlying stream."""

    def __init__(self, prefix: bytes, stream: _Readable) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if not self._prefix:
            return self._stream.read(size)
        if size < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
        elif size <= len(self._prefix):
            data, self._prefix = self._prefix[:size], self._prefix[size:]
        else:
            data, self._prefix = self._prefix + self._stream.read(size - len(self._prefix)), b""
        return data

    def seek(self, offset: int, /) -> int:
        # Only here to satisfy GzipFile's file protocol: a sequential read never rewinds.
        raise io.UnsupportedOperation("a snapshot stream is read once, front to back")


class _HashingReader:
    """The decompressed byte stream the parser reads: every byte is hashed and counted on its way through."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self._sha256 = hashlib.sha256()
        self._pending = b""  # bytes already hashed while sniffing, not yet handed to the parser
        self.bytes_read = 0
        self.chunk_start = 0  # offset of the last chunk handed out: where a parse error can be located

    def _pull(self, size: int) -> bytes:
        data = self._stream.read(size)
        self._sha256.update(data)
        self.chunk_start = self.bytes_read
        self.bytes_read += len(data)
        return data

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            data, self._pending = self._pending, b""
            return data + b"".join(iter(lambda: self._pull(_READ_SIZE), b""))
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._pull(size)

    def sniff(self) -> int | None:
        """Return the first significant byte (skipping a UTF-8 BOM and JSON whitespace), or None for an empty file."""
        head = b""
        while len(head) < len(_UTF8_BOM) and (more := self._pull(_READ_SIZE)):
            head += more
        chunk = head.removeprefix(_UTF8_BOM)
        while chunk:
            # Leading whitespace is dropped rather than kept for the parser, so a blank file costs no memory.
            significant = chunk.lstrip(_JSON_WHITESPACE)
            if significant:
                self._pending = significant
                return significant[0]
            chunk = self._pull(_READ_SIZE)
        return None

    def finish(self) -> str:
        """Hash whatever the parser left unread (trailing whitespace) and return the SHA-256 hex digest."""
        self._pending = b""
        while self._pull(_READ_SIZE):
            pass
        return self._sha256.hexdigest()


def _open_decompressed(stream: _Readable) -> tuple[_Readable, bool]:
    head = b""
    while len(head) < len(_GZIP_MAGIC) and (more := stream.read(len(_GZIP_MAGIC) - len(head))):
        head += more
    replay = _PrefixedReader(head, stream)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=replay, mode="rb"), True
    return replay, False


def _describe_api_error(error: dict[str, Any]) -> str:
    reasons = [
        str(item["reason"])
        for key in ("errors", "details")
        for item in (error.get(key) or [])
        if isinstance(item, dict) and item.get("reason")
    ]
    message = str(error.get("message") or "")
    summary = f"code {error.get('code')!r}" + (f", reason {', '.join(reasons)}" if reasons else "")
    return f"the snapshot is an API error response, not data ({summary})" + (f": {message[:200]}" if message else "")


def _raise_for_non_data(value: object) -> None:
    """Refuse bodies that arrive instead of data: API errors, Bright Data "not ready"/"failed"/trigger responses."""
    if not isinstance(value, dict):
        return
    error, status = value.get("error"), value.get("status")
    # Cheap checks first: this runs for every record of a file, guess_source only for the suspicious few.
    if not (isinstance(error, dict) or isinstance(status, str) or "snapshot_id" in value):
        return
    if guess_source(value) is not None:
        return
    if isinstance(error, dict) and error.get("code") != "ok":
        raise SnapshotFormatError(_describe_api_error(error))
    if unwrap_container(value) is not None:
        return
    if isinstance(status, str):
        detail = value.get("message") or value.get("error_message") or value.get("error")
        raise SnapshotFormatError(
            f"the snapshot is a Bright Data status {status!r} response, not data" + (f": {detail}" if detail else "")
        )
    if "snapshot_id" in value:
        raise SnapshotFormatError(f"the snapshot is a trigger response for snapshot {value['snapshot_id']!r}, not data")


def _describe_json_error(exc: Exception) -> str:
    text = str(exc)
    # The yajl2_c backend sometimes renders its message as the repr of bytes.
    if text[:2] in ("b'", 'b"'):
        with contextlib.suppress(ValueError, SyntaxError, AttributeError):
            text = ast.literal_eval(text).decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip() and "(right here)" not in line]
    problem = lines[0] if lines else type(exc).__name__
    return f"{problem} near {lines[1]!r}" if len(lines) > 1 else problem


class _Entries:
    """Top-level JSON values → raw record entries, unwrapping API containers; remembers the container's source."""

    def __init__(self, values: Iterator[object]) -> None:
        self._values = values
        self.hint: SourceName | None = None

    def __iter__(self) -> Iterator[object]:
        for value in self._values:
            _raise_for_non_data(value)
            container = unwrap_container(value)
            if container is None:
                yield value
                continue
            records, hint = container
            self.hint = self.hint or hint
            yield from records


def _parse_values(reader: _HashingReader, first_byte: int) -> Iterator[object]:
    if first_byte == ord("["):
        # One array: stream its elements one at a time.
        values = ijson.items(reader, "item", use_float=False)
    elif first_byte == ord("{"):
        # One object (an API response) or NDJSON: a sequence of top-level values.
        values = ijson.items(reader, "", use_float=False, multiple_values=True)
    else:
        raise SnapshotFormatError(
            f"a snapshot must be a JSON array, a JSON object or NDJSON, but it starts with {bytes([first_byte])!r}"
        )
    seen = 0
    try:
        # use_float=False: integers stay exact Python ints (19-digit Research API ids); other numbers are Decimal.
        for value in values:
            seen += 1
            yield value
    except ijson.JSONError as exc:
        raise SnapshotFormatError(
            f"malformed JSON between byte {reader.chunk_start} and byte {reader.bytes_read} of the decompressed "
            f"snapshot, after {seen} top-level entries: {_describe_json_error(exc)}"
        ) from exc
    except _GZIP_ERRORS as exc:
        raise SnapshotFormatError(f"corrupt gzip stream after {reader.bytes_read} decompressed bytes: {exc}") from exc


class SnapshotRecords:
    """The validated records of one snapshot, produced lazily in file order.

    Iterate once, directly or with :meth:`chunks`; each item is ``(index, CanonicalVideo | RejectedRecord)`` with
    ``index`` the 0-based position of the record in the file. ``source`` is resolved on construction;
    ``content_hash`` once iteration has finished. ``received``/``accepted``/``rejected`` count as records go by.
    Iteration raises :class:`SnapshotFormatError` if the file turns out to be malformed part-way through.
    """

    def __init__(
        self,
        entries: Iterable[object],
        *,
        source: SourceName | None,
        finish: Callable[[], str],
        compressed: bool = False,
    ) -> None:
        unwrapped = _Entries(iter(entries))
        stream = iter(unwrapped)
        lookahead: deque[object] = deque()
        first_object: dict[str, Any] | None = None
        for entry in stream:
            lookahead.append(entry)
            if isinstance(entry, dict):
                first_object = entry
                break
            if len(lookahead) >= _LOOKAHEAD_LIMIT:
                raise SnapshotFormatError(f"no JSON object among the first {_LOOKAHEAD_LIMIT} entries of the snapshot")
        self.source: SourceName | None = self._resolve_source(source, unwrapped.hint, first_object)
        self.compressed = compressed
        self.received = 0
        self.accepted = 0
        self.rejected = 0
        self._finish = finish
        self._content_hash: str | None = None
        self._iterator = self._validate(chain(lookahead, stream))

    @staticmethod
    def _resolve_source(
        requested: SourceName | None, hint: SourceName | None, first_object: dict[str, Any] | None
    ) -> SourceName | None:
        detected = hint or (guess_source(first_object) if first_object is not None else None)
        if requested is None:
            if first_object is None:
                return hint
            return detected or detect_source(first_object)
        # A file put under the wrong source must fail loudly: e.g. YouTube items read as Apify items would validate
        # (both have "id") into videos with no counts.
        if detected is not None and detected != requested:
            raise SnapshotFormatError(f"the snapshot was declared {requested!r} but its records look like {detected!r}")
        return requested

    def _validate(self, entries: Iterator[object]) -> Iterator[IndexedRecord]:
        for index, raw in enumerate(entries):
            record = reject_non_object(index, raw) if self.source is None else validate_record(self.source, index, raw)
            self.received += 1
            if isinstance(record, RejectedRecord):
                self.rejected += 1
            else:
                self.accepted += 1
            yield index, record
        self._content_hash = self._finish()

    def __iter__(self) -> Iterator[IndexedRecord]:
        return self._iterator

    def chunks(self, size: int = 500) -> Iterator[list[IndexedRecord]]:
        """Yield the records in lists of at most ``size``, in file order.

        Parameters
        ----------
        size
            The chunk length (one write transaction's worth of records), at least 1.

        Returns
        -------
        Iterator[list[IndexedRecord]]
            Lists of ``(index, CanonicalVideo | RejectedRecord)``.
        """
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        while chunk := list(islice(self._iterator, size)):
            yield chunk

    @property
    def complete(self) -> bool:
        """Whether every record has been read (and so ``content_hash`` is known)."""
        return self._content_hash is not None

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the decompressed snapshot bytes, the same for a gzip, plain or re-delivered copy.

        Raises
        ------
        RuntimeError
            If read before iteration has finished.
        """
        if self._content_hash is None:
            raise RuntimeError("content_hash is known only after every record has been read")
        return self._content_hash


def read_snapshot(stream: BinaryIO, source: SourceName | None = None) -> SnapshotRecords:
    """Open a snapshot file for streaming validation.

    Parameters
    ----------
    stream
        The file's bytes, read sequentially (an open file, an S3 ``StreamingBody``...), gzip-compressed or not.
    source
        The source the file comes from, when the caller knows it; otherwise it is detected from the container
        (YouTube / Research API response) or the first JSON object record.

    Returns
    -------
    SnapshotRecords
        The lazy record stream; the file is only read as far as needed to recognise it.

    Raises
    ------
    SnapshotFormatError
        If the file is not JSON/NDJSON (or gzip of it), is an API error or "snapshot not ready" body, its source
        cannot be recognised, or contradicts ``source``. Malformed content further in raises the same error during
        iteration, naming the byte range where the parser stopped.
    """
    decompressed, compressed = _open_decompressed(stream)
    reader = _HashingReader(decompressed)
    try:
        first_byte = reader.sniff()
    except _GZIP_ERRORS as exc:
        raise SnapshotFormatError(f"corrupt gzip stream: {exc}") from exc
    values: Iterator[object] = iter(()) if first_byte is None else _parse_values(reader, first_byte)

    def finish() -> str:
        # A gzip trailer (CRC, length) is only checked once the JSON is over, when the rest of the stream is drained.
        try:
            return reader.finish()
        except _GZIP_ERRORS as exc:
            raise SnapshotFormatError(
                f"corrupt gzip stream after {reader.bytes_read} decompressed bytes: {exc}"
            ) from exc

    return SnapshotRecords(values, source=source, finish=finish, compressed=compressed)


def records_content_hash(records: list[Any]) -> str:
    """SHA-256 of records' canonical JSON (sorted keys, compact separators, UTF-8): the idempotency key of records
    handed over inline, the same for the same event invoked twice."""
    canonical = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_records(records: list[Any], source: SourceName | None = None) -> SnapshotRecords:
    """Validate records handed over directly (the direct-invoke event ``{"records": [...]}``).

    Parameters
    ----------
    records
        Raw records (API containers among them are unwrapped as in a file).
    source
        As for :func:`read_snapshot`.

    Returns
    -------
    SnapshotRecords
        As for :func:`read_snapshot`. There are no file bytes, so ``content_hash`` is
        :func:`records_content_hash` of the records.

    Raises
    ------
    SnapshotFormatError
        As for :func:`read_snapshot`.
    """
    return SnapshotRecords(records, source=source, finish=lambda: records_content_hash(records))
