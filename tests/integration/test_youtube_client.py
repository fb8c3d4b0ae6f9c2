"""The YouTube client against real HTTP servers on loopback: the fake YouTube, and a tiny server answering fixed
bodies (the FORMATS.md error shapes). No mock of HTTP anywhere."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reelrank.services.youtube_client import (
    ApiKeyError,
    QuotaBudgetSpentError,
    QuotaExceededError,
    QuotaGate,
    YouTubeClient,
    YouTubeRequestError,
)
from reelrank_dev.fake_youtube import DEFAULT_API_KEY, FakeYouTube, start_fake_youtube
from tests.conftest import FIXTURES

VIDEOS = {"Qz7rVd2kLmA": (1_304_000, 90_000, 13_000), "h1dd3nL1k3s": (10, 2, 1), "xR9_mvPl0p4": (3_018_446_712, 5, 0)}


@pytest.fixture
def yt() -> Iterator[FakeYouTube]:
    with start_fake_youtube(videos=VIDEOS) as fake:
        yield fake


def client(base_url: str, key: str = DEFAULT_API_KEY, **kwargs: Any) -> YouTubeClient:
    options: dict[str, Any] = {"backoff_base_s": 0.001, "backoff_max_s": 0.01, "read_timeout_s": 1.0}
    options.update(kwargs)
    return YouTubeClient(base_url, key, **options)


def test_counts_arrive_as_strings_and_hidden_counts_are_none(yt: FakeYouTube) -> None:
    yt.faults.hidden_likes = {"h1dd3nL1k3s"}
    yt.faults.hidden_comments = {"xR9_mvPl0p4"}
    result = client(yt.base_url).list_statistics(
        ["Qz7rVd2kLmA", "h1dd3nL1k3s", "xR9_mvPl0p4", "gOnE0000del"], QuotaGate(1)
    )
    assert result.items["xR9_mvPl0p4"].views == 3_018_446_712  # > 2^31, from the string "3018446712"
    assert result.items["h1dd3nL1k3s"].likes is None
    assert result.items["xR9_mvPl0p4"].comments is None
    assert result.items["Qz7rVd2kLmA"].likes == 90_000
    assert result.missing == ["gOnE0000del"]
    assert (result.attempts, yt.stats.calls, yt.stats.batch_sizes) == (1, 1, [4])


def test_5xx_and_rate_limits_are_retried_and_each_attempt_takes_a_unit(yt: FakeYouTube) -> None:
    yt.faults.error_burst = 1
    yt.faults.rate_limit_burst = 1
    yt.faults.too_many_requests_burst = 1
    gate = QuotaGate(10)
    result = client(yt.base_url, max_attempts=4).list_statistics(["Qz7rVd2kLmA"], gate)
    assert (result.attempts, gate.used, yt.stats.calls) == (4, 4, 4)
    assert "Qz7rVd2kLmA" in result.items


def test_a_timeout_is_retried(yt: FakeYouTube) -> None:
    yt.faults.timeout_burst = 1
    yt.faults.hang_seconds = 1.0
    result = client(yt.base_url, read_timeout_s=0.2).list_statistics(["Qz7rVd2kLmA"], QuotaGate(5))
    assert result.attempts == 2


def test_retries_stop_after_max_attempts_with_a_clear_error(yt: FakeYouTube) -> None:
    yt.faults.error_burst = 10
    with pytest.raises(YouTubeRequestError, match="after 3 attempts"):
        client(yt.base_url, max_attempts=3).list_statistics(["Qz7rVd2kLmA"], QuotaGate(10))
    assert yt.stats.calls == 3


def test_the_run_budget_stops_before_sending(yt: FakeYouTube) -> None:
    yt.faults.error_burst = 10
    gate = QuotaGate(2)
    with pytest.raises(QuotaBudgetSpentError):
        client(yt.base_url, max_attempts=5).list_statistics(["Qz7rVd2kLmA"], gate)
    assert (gate.used, yt.stats.calls) == (2, 2)


def test_quota_exceeded_is_not_retried(yt: FakeYouTube) -> None:
    yt.faults.quota_exceeded_after = 0
    with pytest.raises(QuotaExceededError):
        client(yt.base_url).list_statistics(["Qz7rVd2kLmA"], QuotaGate(10))
    assert yt.stats.calls == 1


def test_an_invalid_key_is_a_key_error(yt: FakeYouTube) -> None:
    with pytest.raises(ApiKeyError, match="API key not valid"):
        client(yt.base_url, key="nope").list_statistics(["Qz7rVd2kLmA"], QuotaGate(10))
    assert yt.stats.calls == 1


def test_more_than_50_ids_is_refused_before_any_call(yt: FakeYouTube) -> None:
    with pytest.raises(ValueError, match="1 to 50"):
        client(yt.base_url).list_statistics([f"id{i:09d}" for i in range(51)], QuotaGate(10))
    assert yt.stats.calls == 0


# ---------------------------------------------------------------------------- fixed bodies: FORMATS §3.4's shapes
@pytest.fixture
def fixed() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """A loopback server answering the queued (status, body) pairs in order."""
    answers: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()


def error_body(reason: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"code": 400, "message": "x", "errors": [{"reason": reason}], **extra}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, (Path(FIXTURES) / "snapshots" / "youtube_quota_exceeded.json").read_bytes(), QuotaExceededError),
        (400, error_body("keyInvalid"), ApiKeyError),  # the legacy shape
        (400, error_body("badRequest", status="INVALID_ARGUMENT"), ApiKeyError),  # the current shape
        (403, error_body("accessNotConfigured"), ApiKeyError),
        (400, error_body("unknownPart"), YouTubeRequestError),
    ],
)
def test_error_bodies_are_told_apart_by_reason(
    fixed: tuple[str, list[tuple[int, bytes]]], status: int, body: bytes, error: type[Exception]
) -> None:
    url, answers = fixed
    answers.append((status, body))
    with pytest.raises(error):
        client(url, max_attempts=1).list_statistics(["Qz7rVd2kLmA"], QuotaGate(1))


def test_an_unreadable_body_is_a_request_error(fixed: tuple[str, list[tuple[int, bytes]]]) -> None:
    url, answers = fixed
    answers.append((200, b'{"items": [{"id": "Qz7rVd2kLmA", "statistics": {"viewCount": "12.5"}}]}'))
    with pytest.raises(YouTubeRequestError, match="unreadable"):
        client(url).list_statistics(["Qz7rVd2kLmA"], QuotaGate(1))
