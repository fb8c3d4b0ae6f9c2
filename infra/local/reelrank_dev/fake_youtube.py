"""A fake YouTube Data API for tests, ``make demo`` and the benchmark: ``videos.list`` (statistics) over real HTTP.

It answers ``GET /youtube/v3/videos?part=statistics&id=...&key=...`` in the real API's shapes (FORMATS §3: counts as
strings, hidden ``likeCount`` / ``commentCount`` absent, unknown ids silently omitted, ``{"error": {...}}`` bodies)
for the YouTube videos of a database (``database_url``) and/or an in-memory catalogue (``videos``). Counts grow over
time from what was stored when the server first saw the id: ``views + rate × hours since then × speedup``, with a
per-video rate derived from its id, so two runs see growth and velocities differ between videos.

Faults are injected through :class:`Faults` (in-process: ``server.faults.error_burst = 3``; over HTTP:
``POST /fake/faults`` with a JSON object of the same fields); ``GET /fake/stats`` reports the calls seen.

In-process::

    with start_fake_youtube(database_url=url) as yt:   # yt.base_url -> http://127.0.0.1:PORT
        ...

From the shell: ``reelrank fake-youtube --port 8089 [--latency-ms 50] [--error-rate 0.1] ...``.
"""

from __future__ import annotations

import json
import random
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

DEFAULT_API_KEY = "fake-youtube-key"


@dataclass
class Faults:
    """What the fake does wrong. Bursts count down one per call; ``quota_exceeded_after`` counts every call."""

    latency_ms: float = 0.0  # added to every answer
    error_rate: float = 0.0  # share of calls answered 503 at random
    error_burst: int = 0  # the next N calls answer 503 backendError
    rate_limit_burst: int = 0  # the next N calls answer 403 rateLimitExceeded
    too_many_requests_burst: int = 0  # the next N calls answer 429
    timeout_burst: int = 0  # the next N calls hang for hang_seconds before answering
    hang_seconds: float = 5.0
    quota_exceeded_after: int | None = None  # calls after which every call answers 403 quotaExceeded
    vanished: set[str] = field(default_factory=set)  # ids omitted from every answer (deleted / private)
    hidden_likes: set[str] = field(default_factory=set)  # ids answered without likeCount
    hidden_comments: set[str] = field(default_factory=set)  # ids answered without commentCount

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a JSON object of field values (sets given as lists)."""
        names = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(names)}")
            current = getattr(self, name)
            setattr(self, name, set(value) if isinstance(current, set) else value)


@dataclass
class CallStats:
    calls: int = 0
    ids_requested: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Base:
    views: int
    likes: int
    comments: int
    first_seen: float


class _Catalogue:
    """Where counts come from: the in-memory videos first, then the database; remembered on first sight."""

    def __init__(self, database_url: str | None, videos: Mapping[str, tuple[int, int, int]] | None) -> None:
        self._database_url = database_url
        self._videos = dict(videos or {})
        self._seen: dict[str, _Base] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[psycopg.Connection[Any]] = []

    def add(self, videos: Mapping[str, tuple[int, int, int]]) -> None:
        with self._lock:
            self._videos.update(videos)

    def bases(self, ids: list[str]) -> dict[str, _Base]:
        now = time.monotonic()
        with self._lock:
            found = {i: self._seen[i] for i in ids if i in self._seen}
            for i in ids:
                if i not in found and i in self._videos:
                    views, likes, comments = self._videos[i]
                    found[i] = self._seen[i] = _Base(views, likes, comments, now)
        unknown = [i for i in ids if i not in found]
        if unknown and self._database_url:
            rows = self._conn().execute(
                "SELECT video_id, views_count, likes_count, comments_count FROM videos_hot"
                " WHERE platform = 'youtube' AND video_id = ANY(%s)",
                (unknown,),
            )
            with self._lock:
                for video_id, views, likes, comments in rows.fetchall():
                    found[video_id] = self._seen.setdefault(video_id, _Base(views, likes, comments, now))
        return found

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self._database_url or "", autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _rate_per_hour(video_id: str) -> int:
    """A stable per-video growth rate (views/hour): heavy-tailed, so a few videos grow much faster."""
    h = zlib.crc32(video_id.encode())
    return (h % 100) * (10 if h % 7 == 0 else 1) + 1


def _error(code: int, reason: str, message: str, domain: str = "youtube.api", **extra: Any) -> bytes:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    body["error"].update(extra)
    return json.dumps(body).encode()


class FakeYouTube:
    """A running fake: ``base_url``, ``faults`` (mutable), ``stats``; ``stop()`` (or use it as a context manager)."""

    def __init__(
        self,
        *,
        database_url: str | None = None,
        videos: Mapping[str, tuple[int, int, int]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        faults: Faults | None = None,
        speedup: float = 1.0,
        seed: int = 1,
    ) -> None:
        self.api_key = api_key
        self.faults = faults or Faults()
        self.speedup = speedup
        self.stats = CallStats()
        self._extra_hours = 0.0
        self.catalogue = _Catalogue(database_url, videos)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-youtube", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def advance(self, hours: float) -> None:
        """Move the fake's clock forward: every video seen so far has grown ``hours`` more."""
        with self._lock:
            self._extra_hours += hours

    def start(self) -> FakeYouTube:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.catalogue.close()

    def __enter__(self) -> FakeYouTube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------- answering
    def answer_videos(self, query: Mapping[str, list[str]]) -> tuple[int, bytes, float]:
        """(status, body, seconds to wait before answering) for one videos.list call."""
        ids = [i for raw in query.get("id", []) for i in raw.split(",") if i]
        with self._lock:
            self.stats.calls += 1
            self.stats.ids_requested += len(ids)
            self.stats.batch_sizes.append(len(ids))
            calls = self.stats.calls
            f = self.faults
            delay = f.latency_ms / 1000
            if query.get("key", [""])[0] != self.api_key:
                return 400, _key_invalid(), delay
            if f.quota_exceeded_after is not None and calls > f.quota_exceeded_after:
                return 403, _quota_exceeded(), delay
            if f.timeout_burst > 0:
                # a hang: the answer would be right, but it comes too late for the client
                f.timeout_burst -= 1
                delay += f.hang_seconds
            elif f.error_burst > 0:
                f.error_burst -= 1
                return 503, _error(503, "backendError", "Backend Error", "global"), delay
            elif f.rate_limit_burst > 0:
                f.rate_limit_burst -= 1
                return 403, _error(403, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits"), delay
            elif f.too_many_requests_burst > 0:
                f.too_many_requests_burst -= 1
                return (
                    429,
                    _error(429, "rateLimitExceeded", "Too Many Requests", "global", status="RESOURCE_EXHAUSTED"),
                    delay,
                )
            elif f.error_rate and self._rng.random() < f.error_rate:
                return 503, _error(503, "backendError", "Backend Error", "global"), delay
            if "statistics" not in query.get("part", [""])[0].split(","):
                return 400, _error(400, "missingRequiredParameter", "No filter selected.", "youtube.parameter"), delay
            if len(ids) > 50:
                return 400, _error(400, "badRequest", "Too many ids", "youtube.parameter"), delay
            vanished, hidden_likes, hidden_comments = set(f.vanished), set(f.hidden_likes), set(f.hidden_comments)
        bases = self.catalogue.bases([i for i in ids if i not in vanished])
        now = time.monotonic()
        items = []
        for video_id in ids:
            base = bases.get(video_id)
            if base is None:
                continue  # deleted, private or unknown ids are silently omitted
            hours = (now - base.first_seen) / 3600 * self.speedup + self._extra_hours
            grown = int(_rate_per_hour(video_id) * hours)
            stats = {"viewCount": str(base.views + grown), "favoriteCount": "0"}
            if video_id not in hidden_likes:
                stats["likeCount"] = str(base.likes + grown // 40)
            if video_id not in hidden_comments:
                stats["commentCount"] = str(base.comments + grown // 2000)
            items.append({"kind": "youtube#video", "etag": f"fake-{video_id}", "id": video_id, "statistics": stats})
        body = {
            "kind": "youtube#videoListResponse",
            "etag": "fake-list",
            "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        }
        return 200, json.dumps(body).encode(), delay

    def _record(self, status: int) -> None:
        with self._lock:
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1

    def stats_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": self.stats.calls,
                "ids_requested": self.stats.ids_requested,
                "by_status": dict(self.stats.by_status),
            }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client timed out and went away

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/youtube/v3/videos":
                    status, body, delay = fake.answer_videos(parse_qs(url.query))
                    if delay:
                        time.sleep(delay)
                    fake._record(status)
                    self._send(status, body)
                elif url.path == "/fake/stats":
                    self._send(200, json.dumps(fake.stats_dict()).encode())
                else:
                    self._send(404, _error(404, "notFound", f"no route {url.path}"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/fake/faults":
                    try:
                        with fake._lock:
                            fake.faults.update(payload)
                            current = {
                                k: sorted(v) if isinstance(v, set) else v for k, v in asdict(fake.faults).items()
                            }
                    except ValueError as exc:
                        self._send(400, _error(400, "badRequest", str(exc)))
                        return
                    self._send(200, json.dumps(current).encode())
                else:
                    self._send(404, _error(404, "notFound", f"no route {self.path}"))

        return Handler


def _quota_exceeded() -> bytes:
    message = (
        'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
        "quota</a>."
    )
    return _error(403, "quotaExceeded", message, "youtube.quota")


def _key_invalid() -> bytes:
    # the current shape (FORMATS §3.4): badRequest + INVALID_ARGUMENT + an ErrorInfo detail naming API_KEY_INVALID
    return _error(
        400,
        "badRequest",
        "API key not valid. Please pass a valid API key.",
        "global",
        status="INVALID_ARGUMENT",
        details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
    )


def start_fake_youtube(
    *,
    database_url: str | None = None,
    videos: Mapping[str, tuple[int, int, int]] | None = None,
    port: int = 0,
    host: str = "127.0.0.1",
    api_key: str = DEFAULT_API_KEY,
    faults: Faults | None = None,
    speedup: float = 1.0,
) -> FakeYouTube:
    """Start a fake YouTube in a background thread; returns it (``.base_url``, ``.faults``, ``.stop()``).

    ``videos`` maps ids to (views, likes, comments); ids not in it are looked up in ``database_url``'s YouTube videos.
    ``port=0`` picks a free port.
    """
    return FakeYouTube(
        database_url=database_url, videos=videos, host=host, port=port, api_key=api_key, faults=faults, speedup=speedup
    ).start()
