"""Unit tests for reelrank.services.snapshot_reader: sniffing, streaming, hashing and validating snapshot files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from reelrank.errors import SnapshotFormatError
from reelrank.models.canonical import CanonicalVideo, RejectedRecord, SourceName
from reelrank.scoring import compute_impact
from reelrank.services.snapshot_reader import SnapshotRecords, ValidatedRecord, read_records, read_snapshot

SNAPSHOTS = Path(__file__).resolve().parents[1] / "fixtures" / "snapshots"
DATA_FILES = ["brightdata_tiktok.json", "apify_tiktok.json", "youtube_videos_list.json", "tiktok_research_api.json"]

# FORMATS.md §8: every example record and the Impact it must get.
EXPECTED_IMPACT = [
    ("brightdata_tiktok.json", "7481203345566778890", "23802574.33"),
    ("brightdata_tiktok.json", "7539001122334455667", "120537.16"),
    ("brightdata_tiktok.json", "7544455566677788899", "19750.54"),
    ("apify_tiktok.json", "7506612233445566778", "29527962.50"),
    ("apify_tiktok.json", "7535448000111222333", "11111.23"),
    ("apify_tiktok.json", "7543690011223344556", "4803.06"),
    ("youtube_videos_list.json", "Qz7rVd2kLmA", "1304892.57"),
    ("youtube_videos_list.json", "h1dd3nL1k3s", "189407.76"),
    ("youtube_videos_list.json", "xR9_mvPl0p4", "50064.88"),
    ("tiktok_research_api.json", "7487766554433221100", "20597540.00"),
    ("tiktok_research_api.json", "7510022334455667788", "73370.27"),
    ("tiktok_research_api.json", "7521234567890123456", "19750.54"),
]


def snapshot_bytes(name: str) -> bytes:
    """The bytes of one example snapshot in tests/fixtures/snapshots/."""
    return (SNAPSHOTS / name).read_bytes()


def read_all(
    data: bytes, source: SourceName | None = None
) -> tuple[SnapshotRecords, list[tuple[int, ValidatedRecord]]]:
    snapshot = read_snapshot(io.BytesIO(data), source)
    return snapshot, list(snapshot)


def videos_of(records: list[tuple[int, ValidatedRecord]]) -> dict[str, CanonicalVideo]:
    return {record.video_id: record for _, record in records if isinstance(record, CanonicalVideo)}


def as_ndjson(name: str) -> bytes:
    records = json.loads(snapshot_bytes(name))
    return b"".join(json.dumps(record, ensure_ascii=False).encode() + b"\n" for record in records)


class GeneratedStream:
    """A read-only stream over generated chunks that records how many bytes it has handed out."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.served = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        cut = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:cut], self._buffer[cut:]
        self.served += len(data)
        return data


# --- the example files --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source", "accepted", "rejected"),
    [
        ("brightdata_tiktok.json", "brightdata", 3, 1),
        ("apify_tiktok.json", "apify", 3, 0),
        ("youtube_videos_list.json", "youtube", 3, 0),
        ("tiktok_research_api.json", "tiktok_research", 3, 0),
    ],
)
def test_every_example_snapshot_parses(name: str, source: str, accepted: int, rejected: int) -> None:
    # Given an example snapshot, its source not declared
    data = snapshot_bytes(name)
    # When it is read to the end
    snapshot, records = read_all(data)
    # Then the source is detected, every record is accounted for in file order and the hash is of the file's bytes
    assert snapshot.source == source
    assert [index for index, _ in records] == list(range(accepted + rejected))
    assert (snapshot.received, snapshot.accepted, snapshot.rejected) == (accepted + rejected, accepted, rejected)
    assert snapshot.content_hash == hashlib.sha256(data).hexdigest()
    assert snapshot.compressed is False


@pytest.mark.parametrize(("name", "video_id", "impact"), EXPECTED_IMPACT)
def test_example_records_get_the_expected_impact(name: str, video_id: str, impact: str) -> None:
    # Given an example record read through the snapshot reader
    _, records = read_all(snapshot_bytes(name))
    video = videos_of(records)[video_id]
    # When its Impact is computed from the canonical counts
    score = compute_impact(video.views, video.likes, video.comments, video.shares, video.saves)
    # Then it is the value FORMATS §8 gives
    assert score == Decimal(impact)


def test_brightdata_error_row_is_rejected_and_the_file_still_reads() -> None:
    # Given the Bright Data example with its dead_page error row last
    _, records = read_all(snapshot_bytes("brightdata_tiktok.json"))
    # When the records are read
    index, last = records[-1]
    # Then the error row is a rejection naming the error code, and the posts before it are videos
    assert isinstance(last, RejectedRecord)
    assert index == 3
    assert "dead_page" in last.reason
    assert all(isinstance(record, CanonicalVideo) for _, record in records[:3])


@pytest.mark.parametrize(
    ("name", "video_id", "tags"),
    [
        (
            "brightdata_tiktok.json",
            "7481203345566778890",
            [("caredit", "CarEdit"), ("fyp", "fyp"), ("ネオン", "ネオン")],
        ),
        (
            "brightdata_tiktok.json",
            "7539001122334455667",
            [("édit", "Édit"), ("animeedit", "AnimeEdit"), ("animeエディット", "animeエディット")],
        ),
        (
            "brightdata_tiktok.json",
            "7544455566677788899",
            [("lisboa", "Lisboa"), ("travel", "travel"), ("café", "café"), ("cafe", "cafe")],
        ),
        (
            "apify_tiktok.json",
            "7506612233445566778",
            [("phonk", "phonk"), ("edit", "edit"), ("fyp", "fyp"), ("música", "música")],
        ),
        ("apify_tiktok.json", "7535448000111222333", []),
        ("apify_tiktok.json", "7543690011223344556", [("cartok", "CarTok"), ("edição", "edição")]),
        ("youtube_videos_list.json", "Qz7rVd2kLmA", [("shorts", "shorts"), ("caredit", "CarEdit"), ("edit", "edit")]),
        ("youtube_videos_list.json", "h1dd3nL1k3s", []),
        ("youtube_videos_list.json", "xR9_mvPl0p4", []),
        (
            "tiktok_research_api.json",
            "7487766554433221100",
            [("caredit", "CarEdit"), ("fyp", "fyp"), ("ネオン", "ネオン")],
        ),
        ("tiktok_research_api.json", "7510022334455667788", []),
        (
            "tiktok_research_api.json",
            "7521234567890123456",
            [("lisboa", "lisboa"), ("travel", "travel"), ("café", "café")],
        ),
    ],
)
def test_example_hashtags(name: str, video_id: str, tags: list[tuple[str, str]]) -> None:
    # Given an example record
    _, records = read_all(snapshot_bytes(name))
    # When it is read
    hashtags = videos_of(records)[video_id].hashtags
    # Then its hashtags are normalised, de-duplicated and shown as first written
    assert [(tag.tag, tag.display) for tag in hashtags] == tags


def test_research_id_stays_exact_through_the_streaming_parser() -> None:
    # Given the Research API example (ids are JSON integers above 2**53)
    _, records = read_all(snapshot_bytes("tiktok_research_api.json"))
    # When it is read
    video = records[0][1]
    # Then the id has every digit
    assert isinstance(video, CanonicalVideo)
    assert video.video_id == "7487766554433221100"
    assert video.sound is not None
    assert video.sound.sound_id == "7479911223344556677"


def test_youtube_quota_body_is_refused_naming_the_reason() -> None:
    # Given the YouTube quotaExceeded error body delivered as a snapshot
    data = snapshot_bytes("youtube_quota_exceeded.json")
    # When it is read
    # Then it is refused as an API error, naming the reason
    with pytest.raises(SnapshotFormatError, match=r"API error response.*quotaExceeded"):
        read_snapshot(io.BytesIO(data))


# --- compression and layout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATA_FILES)
def test_gzip_and_ndjson_copies_give_identical_records(name: str) -> None:
    # Given the same snapshot plain, gzipped, as NDJSON and as gzipped NDJSON
    plain, ndjson = snapshot_bytes(name), as_ndjson(name) if name.startswith(("brightdata", "apify")) else None
    # When each is read
    plain_snapshot, plain_records = read_all(plain)
    gzip_snapshot, gzip_records = read_all(gzip.compress(plain))
    # Then the records are identical and the hash is of the decompressed bytes
    assert gzip_records == plain_records
    assert gzip_snapshot.compressed is True
    assert gzip_snapshot.content_hash == plain_snapshot.content_hash == hashlib.sha256(plain).hexdigest()
    if ndjson is not None:
        ndjson_snapshot, ndjson_records = read_all(ndjson)
        gzip_ndjson_snapshot, gzip_ndjson_records = read_all(gzip.compress(ndjson))
        assert ndjson_records == gzip_ndjson_records == plain_records
        assert ndjson_snapshot.content_hash == gzip_ndjson_snapshot.content_hash == hashlib.sha256(ndjson).hexdigest()


def test_ndjson_with_blank_lines_and_crlf_reads_like_the_array() -> None:
    # Given Bright Data NDJSON with CRLF line ends and blank lines
    ndjson = b"\r\n".join(as_ndjson("brightdata_tiktok.json").splitlines()) + b"\r\n\r\n"
    # When it is read
    _, records = read_all(ndjson)
    # Then it gives the same records as the array
    assert records == read_all(snapshot_bytes("brightdata_tiktok.json"))[1]


def test_bare_youtube_item_list_is_read() -> None:
    # Given the YouTube items as a bare JSON array
    items = json.loads(snapshot_bytes("youtube_videos_list.json"))["items"]
    data = json.dumps(items).encode()
    # When it is read
    snapshot, records = read_all(data)
    # Then the source is YouTube and every item is a video
    assert snapshot.source == "youtube"
    assert [record.video_id for _, record in records if isinstance(record, CanonicalVideo)] == [
        "Qz7rVd2kLmA",
        "h1dd3nL1k3s",
        "xR9_mvPl0p4",
    ]


def test_ndjson_of_research_pages_unwraps_every_page() -> None:
    # Given two Research API response pages, one per line
    page = json.loads(snapshot_bytes("tiktok_research_api.json"))
    first = {**page, "data": {**page["data"], "videos": page["data"]["videos"][:2]}}
    second = {**page, "data": {**page["data"], "videos": page["data"]["videos"][2:]}}
    data = (json.dumps(first) + "\n" + json.dumps(second) + "\n").encode()
    # When it is read
    snapshot, records = read_all(data)
    # Then the videos of both pages come out in order with running indexes
    assert snapshot.source == "tiktok_research"
    assert [(index, record.video_id) for index, record in records] == [
        (0, "7487766554433221100"),
        (1, "7510022334455667788"),
        (2, "7521234567890123456"),
    ]


def test_utf8_bom_is_skipped_but_hashed() -> None:
    # Given a snapshot written with a UTF-8 byte order mark
    data = b"\xef\xbb\xbf" + snapshot_bytes("apify_tiktok.json")
    # When it is read
    snapshot, records = read_all(data)
    # Then the records read normally and the hash covers every byte
    assert len(videos_of(records)) == 3
    assert snapshot.content_hash == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("data", [b"", b"  \n\t ", b"[]", b"[ ]\n", gzip.compress(b"")])
def test_empty_snapshots_have_no_records(data: bytes) -> None:
    # Given an empty file, a blank file, an empty array or an empty gzip
    # When it is read
    snapshot, records = read_all(data)
    # Then there are no records, no source and a hash of the (decompressed) bytes
    assert records == []
    assert snapshot.source is None
    assert (
        snapshot.content_hash == hashlib.sha256(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).hexdigest()
    )


def test_youtube_response_without_items_keeps_its_source() -> None:
    # Given a videos.list response where every requested id is gone
    data = json.dumps({"kind": "youtube#videoListResponse", "items": [], "pageInfo": {"totalResults": 0}}).encode()
    # When it is read
    snapshot, records = read_all(data)
    # Then there are no records, but the source is known from the container
    assert records == []
    assert snapshot.source == "youtube"


# --- entries that are not records -------------------------------------------------------------------------------------


def test_non_object_entries_are_rejected_in_place() -> None:
    # Given an array with a string, a number and a nested list among Bright Data records
    posts = json.loads(snapshot_bytes("brightdata_tiktok.json"))
    data = json.dumps([posts[0], "oops", 42, [1, 2], None, posts[1]]).encode()
    # When it is read
    _, records = read_all(data)
    # Then each non-object is a rejection at its own index, and the records around them are videos
    reasons = {index: record.reason for index, record in records if isinstance(record, RejectedRecord)}
    assert reasons == {
        1: "record 1: expected a JSON object, got string",
        2: "record 2: expected a JSON object, got number",
        3: "record 3: expected a JSON object, got list",
        4: "record 4: expected a JSON object, got null",
    }
    assert isinstance(records[0][1], CanonicalVideo)
    assert isinstance(records[5][1], CanonicalVideo)


def test_leading_non_objects_do_not_hide_the_source() -> None:
    # Given an array that starts with junk entries before the first Apify item
    data = json.dumps([[1], "x", *json.loads(snapshot_bytes("apify_tiktok.json"))]).encode()
    # When it is read
    snapshot, records = read_all(data)
    # Then the source comes from the first object and the junk is rejected
    assert snapshot.source == "apify"
    assert [isinstance(record, RejectedRecord) for _, record in records] == [True, True, False, False, False]


def test_fractional_count_from_the_parser_is_rejected_naming_the_field() -> None:
    # Given a record whose play_count is a JSON number with a fraction (ijson gives a Decimal)
    post = json.loads(snapshot_bytes("brightdata_tiktok.json"))[0]
    data = json.dumps([post]).replace('"play_count": 2311874906', '"play_count": 2311874906.0').encode()
    # When it is read
    _, records = read_all(data)
    # Then the record is rejected naming play_count
    record = records[0][1]
    assert isinstance(record, RejectedRecord)
    assert record.reason.startswith("play_count: must be a non-negative integer, got Decimal('2311874906.0')")


# --- bodies that are not data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            {"status": "running", "message": "Snapshot is not ready yet, try again in 10s"},
            "status 'running'.*not ready",
        ),
        ({"status": "building", "message": "Snapshot is building"}, "status 'building'"),
        ({"status": "failed", "error_message": "Crawl failed"}, "status 'failed'.*Crawl failed"),
        ({"snapshot_id": "s_m4x7enmven8djfqak"}, "trigger response for snapshot 's_m4x7enmven8djfqak'"),
        (
            {"data": {}, "error": {"code": "invalid_params", "message": "Invalid field", "log_id": "x"}},
            "API error response.*invalid_params.*Invalid field",
        ),
        (
            {"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}},
            "API_KEY_INVALID",
        ),
    ],
)
def test_bodies_delivered_instead_of_data_are_refused(body: dict[str, Any], match: str) -> None:
    # Given a "not ready", failed, trigger or API error body where the data should be
    data = json.dumps(body).encode()
    # When it is read
    # Then a SnapshotFormatError says what arrived
    with pytest.raises(SnapshotFormatError, match=match):
        read_snapshot(io.BytesIO(data))


def test_research_error_after_its_videos_is_refused() -> None:
    # Given a Research API response whose error object is not "ok"
    page = json.loads(snapshot_bytes("tiktok_research_api.json"))
    page["error"] = {"code": "rate_limit_exceeded", "message": "slow down"}
    # When it is read
    # Then it is refused before any record is produced
    with pytest.raises(SnapshotFormatError, match="rate_limit_exceeded"):
        read_snapshot(io.BytesIO(json.dumps(page).encode()))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'[{"post_id": "1"}, {"post_id": }]', r"malformed JSON between byte \d+ and byte \d+.*unallowed token"),
        (b'[{"post_id": "1"}', "malformed JSON.*premature EOF"),
        (b'{"post_id": "1"}\n{"post_id": "2"', "malformed JSON.*after 1 top-level entries"),
        (b'[{"post_id": "1"}] trailing', "malformed JSON.*trailing garbage"),
        (b'[{"post_id": "\xff"}]', "malformed JSON.*invalid bytes in UTF8"),
        (b"post_id,play_count\n1,2\n", "must be a JSON array, a JSON object or NDJSON.*b'p'"),
    ],
)
def test_malformed_files_raise_with_position(data: bytes, match: str) -> None:
    # Given a snapshot that is not well-formed JSON
    # When it is read to the end
    # Then a SnapshotFormatError locates the problem
    with pytest.raises(SnapshotFormatError, match=match):
        list(read_snapshot(io.BytesIO(data), "brightdata"))


def test_truncated_gzip_raises() -> None:
    # Given a gzip snapshot cut short
    data = gzip.compress(snapshot_bytes("apify_tiktok.json"))[:-40]
    # When it is read to the end
    # Then the corruption is reported as a format error
    with pytest.raises(SnapshotFormatError, match=r"gzip|malformed"):
        list(read_snapshot(io.BytesIO(data)))


@pytest.mark.parametrize("cut", [4, 8])
def test_gzip_with_a_broken_trailer_raises(cut: int) -> None:
    # Given a gzip snapshot whose JSON is complete but whose CRC/length trailer is cut or corrupted
    data = bytearray(gzip.compress(snapshot_bytes("apify_tiktok.json")))
    data[-cut] ^= 0xFF
    # When it is read to the end
    # Then the corruption is reported once the JSON is over
    with pytest.raises(SnapshotFormatError, match="corrupt gzip"):
        list(read_snapshot(io.BytesIO(bytes(data))))


def test_undetectable_records_raise() -> None:
    # Given records of no known source and no declared source
    data = b'[{"hello": "world"}]'
    # When it is read
    # Then the source cannot be guessed and the error shows the keys
    with pytest.raises(SnapshotFormatError, match=r"cannot detect the source.*hello"):
        read_snapshot(io.BytesIO(data))


def test_declared_source_that_contradicts_the_file_raises() -> None:
    # Given a YouTube response declared as an Apify snapshot
    data = snapshot_bytes("youtube_videos_list.json")
    # When it is read
    # Then the mismatch is refused instead of producing count-less videos
    with pytest.raises(SnapshotFormatError, match=r"declared 'apify'.*'youtube'"):
        read_snapshot(io.BytesIO(data), "apify")


def test_declared_source_is_used_when_it_agrees() -> None:
    # Given the Bright Data example declared as Bright Data
    # When it is read
    snapshot, records = read_all(snapshot_bytes("brightdata_tiktok.json"), "brightdata")
    # Then it reads as usual
    assert snapshot.source == "brightdata"
    assert len(records) == 4


# --- iteration ------------------------------------------------------------------------------------------------------


def test_content_hash_is_only_known_after_iteration() -> None:
    # Given a snapshot opened but not read
    snapshot = read_snapshot(io.BytesIO(snapshot_bytes("apify_tiktok.json")))
    # When the hash is asked for too early
    # Then it is refused, and available once every record has been read
    with pytest.raises(RuntimeError, match="after every record"):
        _ = snapshot.content_hash
    assert snapshot.complete is False
    list(snapshot)
    assert snapshot.complete is True
    assert snapshot.content_hash == hashlib.sha256(snapshot_bytes("apify_tiktok.json")).hexdigest()


def test_chunks_keep_file_order() -> None:
    # Given the Bright Data example
    snapshot = read_snapshot(io.BytesIO(snapshot_bytes("brightdata_tiktok.json")))
    # When it is read in chunks of 3
    chunks = list(snapshot.chunks(3))
    # Then the chunks hold 3 and 1 records, in order
    assert [[index for index, _ in chunk] for chunk in chunks] == [[0, 1, 2], [3]]
    assert snapshot.complete


def test_chunks_refuse_a_size_below_one() -> None:
    # Given a snapshot
    snapshot = read_snapshot(io.BytesIO(b"[]"))
    # When chunks of 0 are asked for
    # Then it is refused
    with pytest.raises(ValueError, match="at least 1"):
        next(snapshot.chunks(0))


def _generated_ndjson(count: int) -> Iterator[bytes]:
    template = json.loads(snapshot_bytes("brightdata_tiktok.json"))[0]
    rng = random.Random(7)
    for number in range(count):
        # Random text keeps the gzipped variant from compressing to almost nothing.
        record = {**template, "post_id": str(7_000_000_000_000_000_000 + number), "secu_id": rng.randbytes(512).hex()}
        yield json.dumps(record).encode() + b"\n"


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(wbits=31)  # wbits=31: gzip container
    for chunk in chunks:
        yield compressor.compress(chunk)
    yield compressor.flush()


@pytest.mark.parametrize("compress", [False, True])
def test_read_snapshot_consumes_the_stream_lazily(compress: bool) -> None:
    # Given a ~7 MB NDJSON snapshot produced on demand by a generator (plain or gzipped on the fly)
    count = 2_000
    chunks = _generated_ndjson(count)
    stream = GeneratedStream(_gzipped(chunks) if compress else chunks)
    snapshot = read_snapshot(cast(BinaryIO, stream))
    records = iter(snapshot)
    # When the first record is taken
    index, first = next(records)
    served_at_first = stream.served
    # Then only a small prefix of the file has been read
    assert (index, isinstance(first, CanonicalVideo)) == (0, True)
    remaining = sum(1 for _ in records)
    assert remaining == count - 1
    assert served_at_first < stream.served / 20
    assert snapshot.accepted == count


# --- direct records -------------------------------------------------------------------------------------------------


def test_read_records_gives_the_same_records_as_the_file() -> None:
    # Given the Research API videos handed over as a list (the direct-invoke event), and the file itself
    videos = json.loads(snapshot_bytes("tiktok_research_api.json"))["data"]["videos"]
    # When both are read
    direct = read_records(videos)
    direct_records = list(direct)
    _, file_records = read_all(snapshot_bytes("tiktok_research_api.json"))
    # Then the canonical videos are the same and the hash is stable for the same records
    assert direct.source == "tiktok_research"
    assert direct_records == file_records
    again = read_records(json.loads(json.dumps(videos)))
    list(again)
    assert again.content_hash == direct.content_hash


def test_read_records_rejects_non_objects_and_detects_no_source_from_them_alone() -> None:
    # Given a list without any object
    snapshot = read_records([1, "x"])
    # When it is read
    records = list(snapshot)
    # Then both entries are rejected and no source is claimed
    assert snapshot.source is None
    assert [record.reason for _, record in records if isinstance(record, RejectedRecord)] == [
        "record 0: expected a JSON object, got number",
        "record 1: expected a JSON object, got string",
    ]
