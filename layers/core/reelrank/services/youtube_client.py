"""A real HTTP client for YouTube Data API v3 ``videos.list`` (statistics only), shared by AWS and local runs.

``GET {base}/youtube/v3/videos?part=statistics&id=<up to 50 ids>&key=...`` over urllib3 (already in the layer through
botocore; one pooled connection per concurrent caller). Every HTTP request spends one quota unit, errors included
(FORMATS §3.3), so each attempt first takes a unit from a :class:`QuotaGate`; a run can never spend more than its gate
allows. Errors are told apart by ``error.errors[0].reason`` / ``error.details[].reason``, never by the message
(FORMATS §3.4):

- 5xx, timeouts, connection failures, 429 and ``rateLimitExceeded``: retried with exponential backoff and full jitter
  (``Retry-After`` honoured), up to ``max_attempts`` attempts;
- ``quotaExceeded``: :class:`QuotaExceededError` at once (nothing more can succeed before Pacific midnight);
- an invalid key, an API not enabled for the key, a restricted key: :class:`ApiKeyError` (a configuration error);
- anything else: :class:`YouTubeRequestError`.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import urllib3
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reelrank.errors import ReelrankError
from reelrank.settings import YouTubeSettings

MAX_IDS_PER_CALL = 50
_RETRYABLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"})
_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_KEY_REASONS = frozenset(
    {"keyInvalid", "keyExpired", "API_KEY_INVALID", "accessNotConfigured", "forbidden", "ipRefererBlocked"}
)


class YouTubeError(ReelrankError):
    """Base of the client's errors."""


class QuotaExceededError(YouTubeError):
    """The API answered ``quotaExceeded``: the project's quota for this Pacific day is spent."""


class ApiKeyError(YouTubeError):
    """The key is invalid, expired, restricted, or the API is not enabled for it: fix the configuration."""


class YouTubeRequestError(YouTubeError):
    """A call failed for good: retries exhausted, or an error no retry can fix (a bad parameter)."""


class QuotaBudgetSpentError(YouTubeError):
    """This run's own budget of units is spent (no request was sent)."""


class QuotaGate:
    """Hands out quota units, one per HTTP request, up to a budget; thread-safe. ``used`` counts what was taken."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one unit or raise :class:`QuotaBudgetSpentError`."""
        with self._lock:
            if self._used >= self._budget:
                raise QuotaBudgetSpentError(f"the run's budget of {self._budget} quota units is spent")
            self._used += 1

    def close(self) -> None:
        """Take no more units (after ``quotaExceeded``: nothing more can succeed today)."""
        with self._lock:
            self._budget = self._used

    @property
    def used(self) -> int:
        with self._lock:
            return self._used


@dataclass(frozen=True, slots=True)
class VideoStatistics:
    """One video's counts; ``likes`` / ``comments`` are None when the owner hides them."""

    video_id: str
    views: int
    likes: int | None
    comments: int | None


@dataclass(frozen=True, slots=True)
class VideosListResult:
    """The answer to one ``videos.list`` call: the statistics of the ids that came back (absent ids are gone)."""

    requested: tuple[str, ...]
    items: dict[str, VideoStatistics]
    attempts: int

    @property
    def missing(self) -> list[str]:
        return [video_id for video_id in self.requested if video_id not in self.items]


# Counts are JSON strings holding unsigned 64-bit integers; pydantic's lax int parsing accepts "123" and refuses
# fractions and non-digits. BIGINT bounds what the database can hold.
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class _Statistics(BaseModel):
    model_config = ConfigDict(extra="ignore")
    viewCount: Count
    likeCount: Count | None = None  # absent: the owner hides likes
    commentCount: Count | None = None  # absent: comments are disabled


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    statistics: _Statistics


class _VideoListResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[_Item] = Field(default_factory=list)


def _error_reasons(body: bytes) -> tuple[set[str], str]:
    """The reasons an error body names (``errors[].reason``, ``details[].reason``, ``status``) and its message."""
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return set(), body[:200].decode("utf-8", "replace")
    if not isinstance(error, dict):
        return set(), ""
    reasons = {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict) and e.get("reason")}
    reasons |= {str(d.get("reason")) for d in error.get("details") or [] if isinstance(d, dict) and d.get("reason")}
    if error.get("status"):
        reasons.add(str(error["status"]))
    return reasons, str(error.get("message") or "")[:300]


class _Retry(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class YouTubeClient:
    """``videos.list`` statistics over one pooled HTTP connection manager; safe to call from several threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        max_concurrency: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/youtube/v3/videos"
        self._key = api_key
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._http = urllib3.PoolManager(
            num_pools=2,
            maxsize=max_concurrency,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
            headers={"Accept": "application/json", "User-Agent": "reelrank-view-tracking"},
        )

    @classmethod
    def from_settings(cls, settings: YouTubeSettings, api_key: str) -> YouTubeClient:
        """A client configured by ``settings`` (the key is resolved by the caller: env locally, a secret in AWS)."""
        return cls(
            settings.youtube_api_base_url,
            api_key,
            connect_timeout_s=settings.youtube_connect_timeout_s,
            read_timeout_s=settings.youtube_read_timeout_s,
            max_attempts=settings.youtube_max_attempts,
            backoff_base_s=settings.youtube_backoff_base_s,
            backoff_max_s=settings.youtube_backoff_max_s,
            max_concurrency=settings.youtube_max_concurrency,
        )

    def close(self) -> None:
        self._http.clear()

    def list_statistics(self, video_ids: Sequence[str], gate: QuotaGate) -> VideosListResult:
        """Fetch the statistics of up to 50 videos, retrying transient failures; one quota unit per attempt.

        Raises
        ------
        QuotaExceededError, ApiKeyError, YouTubeRequestError, QuotaBudgetSpentError
        """
        if not 0 < len(video_ids) <= MAX_IDS_PER_CALL:
            raise ValueError(f"videos.list takes 1 to {MAX_IDS_PER_CALL} ids, got {len(video_ids)}")
        fields = {"part": "statistics", "id": ",".join(video_ids), "key": self._key}
        last = ""
        for attempt in range(1, self._max_attempts + 1):
            gate.acquire()
            try:
                return self._parse(video_ids, self._get(fields), attempt)
            except _Retry as retry:
                last = str(retry)
                if attempt == self._max_attempts:
                    break
                self._sleep(self._backoff(attempt, retry.retry_after))
        raise YouTubeRequestError(f"videos.list failed after {self._max_attempts} attempts: {last}")

    def _get(self, fields: dict[str, str]) -> bytes:
        try:
            response = self._http.request("GET", self._url, fields=fields, preload_content=True)
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:  # connection refused, DNS, TLS
            raise _Retry(f"{type(exc).__name__}: {exc}") from exc
        status, body = response.status, response.data
        if status == 200:
            return body
        reasons, message = _error_reasons(body)
        if reasons & _QUOTA_REASONS:
            raise QuotaExceededError(f"HTTP {status} quotaExceeded: the daily quota is spent")
        if reasons & _KEY_REASONS or (status == 400 and {"badRequest", "INVALID_ARGUMENT"} <= reasons):
            raise ApiKeyError(f"HTTP {status} {sorted(reasons)}: {message}")
        if status >= 500 or status == 429 or reasons & _RETRYABLE_REASONS or "RESOURCE_EXHAUSTED" in reasons:
            raise _Retry(f"HTTP {status} {sorted(reasons)}", _retry_after(response.headers.get("Retry-After")))
        raise YouTubeRequestError(f"HTTP {status} {sorted(reasons)}: {message}")

    def _parse(self, video_ids: Sequence[str], body: bytes, attempt: int) -> VideosListResult:
        try:
            parsed = _VideoListResponse.model_validate_json(body)
        except ValidationError as exc:
            raise YouTubeRequestError(f"videos.list answered an unreadable body: {exc.errors()[:1]}") from exc
        wanted = set(video_ids)
        items = {
            i.id: VideoStatistics(i.id, i.statistics.viewCount, i.statistics.likeCount, i.statistics.commentCount)
            for i in parsed.items
            if i.id in wanted
        }
        return VideosListResult(tuple(video_ids), items, attempt)

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        with self._rng_lock:
            delay = self._rng.uniform(0, cap)  # full jitter: concurrent callers spread out
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._backoff_max))
        return delay


def _retry_after(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
