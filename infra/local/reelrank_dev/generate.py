"""``reelrank generate``: realistic synthetic snapshots in the Bright Data TikTok format (FORMATS.md §1).

The catalogue follows the shape PERF_NOTES.md measured: per 1,000,000 videos, 200,000 creators, 50,000 hashtags
(three per video) and 5,000 sounds, each drawn Zipf-like (a few creators, tags and sounds carry a large share of the
videos); views are log-normal (heavy-tailed), likes a fraction of views, comments far rarer than likes.

Every attribute of a video is a pure function of ``(seed, video number)``, so a later snapshot of the same video
(``epoch`` > 0) keeps its creator, hashtags and sound and only its counts grow — which is what a re-scrape looks like.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_VIDEO_ID = 7_300_000_000_000_000_000
_MASK = (1 << 64) - 1
_BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit hash of x."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _uniform(seed: int, n: int, salt: int) -> float:
    """A uniform in [0, 1), determined by (seed, n, salt)."""
    return _mix(_mix(seed * 1_000_003 + salt) ^ n) / 2.0**64


class _Zipf:
    """Ranks 0..size-1 drawn with weight 1 / (rank + 1)^s, by inverting the cumulative weights."""

    def __init__(self, size: int, s: float = 1.05) -> None:
        self._cumulative = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(size)))
        self._total = self._cumulative[-1]

    def rank(self, u: float) -> int:
        return min(bisect.bisect_right(self._cumulative, u * self._total), len(self._cumulative) - 1)


@dataclass(frozen=True)
class Catalogue:
    """The population a generated snapshot draws from, sized from the catalogue's video count."""

    videos: int
    seed: int = 7

    @property
    def creators(self) -> int:
        return max(10, self.videos // 5)

    @property
    def hashtags(self) -> int:
        return max(10, self.videos // 20)

    @property
    def sounds(self) -> int:
        return max(5, self.videos // 200)


class Generator:
    """Bright Data TikTok records for video numbers of one catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._creators = _Zipf(catalogue.creators)
        self._hashtags = _Zipf(catalogue.hashtags, s=1.0)
        self._sounds = _Zipf(catalogue.sounds)

    def _u(self, n: int, salt: int) -> float:
        return _uniform(self.catalogue.seed, n, salt)

    def record(self, n: int, epoch: int = 0) -> dict[str, Any]:
        """Video number ``n`` as scraped at ``epoch`` (counts grow with the epoch; everything else is fixed)."""
        # log-normal views (median ~8k, a long tail into the hundreds of millions) by Box-Muller
        u1, u2 = max(self._u(n, 1), 1e-12), self._u(n, 2)
        normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        growth = 1.0 + epoch * (0.05 + 0.5 * self._u(n, 3))
        views = int(math.exp(9.0 + 2.2 * normal) * growth)
        likes = int(views * (0.01 + 0.11 * self._u(n, 4)))
        comments = int(likes * (0.001 + 0.03 * self._u(n, 5)))
        shares = int(likes * 0.05 * self._u(n, 6))
        saves = int(likes * 0.08 * self._u(n, 7))
        creator = self._creators.rank(self._u(n, 8))
        tags: list[str] = []
        for salt in (9, 10, 11):
            tag = f"tag{self._hashtags.rank(self._u(n, salt))}"
            if tag not in tags:
                tags.append(tag)
        has_sound = self._u(n, 12) < 0.9
        sound = self._sounds.rank(self._u(n, 13))
        video_id = str(FIRST_VIDEO_ID + n)
        handle = f"creator{creator}"
        posted = _BASE_TIME + timedelta(seconds=int(self._u(n, 14) * 300 * 86400))
        observed = posted + timedelta(days=1 + epoch)
        record: dict[str, Any] = {
            "url": f"https://www.tiktok.com/@{handle}/video/{video_id}",
            "post_id": video_id,
            "description": f"synthetic video {n} " + " ".join(f"#{t}" for t in tags),
            "create_time": posted.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "digg_count": likes,
            "share_count": str(shares),
            "collect_count": saves,
            "comment_count": comments,
            "play_count": views,
            "video_duration": 5 + int(self._u(n, 15) * 55),
            "hashtags": [f"#{t}" for t in tags],
            "profile_id": str(6_900_000_000_000_000_000 + creator),
            "profile_username": f"Creator {creator}",
            "account_id": handle,
            "profile_url": f"https://www.tiktok.com/@{handle}",
            "profile_avatar": f"https://p16.example.invalid/avatar/{creator}.jpeg",
            "profile_followers": int(1000 * math.exp(6 * self._u(creator, 16))),
            "is_verified": creator < 100,
            "preview_image": f"https://p16.example.invalid/cover/{video_id}.jpeg",
            "post_type": "video",
            "music": {
                "id": str(7_400_000_000_000_000_000 + sound) if has_sound else "0",
                "title": f"Sound {sound}" if has_sound else "original sound",
                "authorname": f"Artist {sound % 997}",
                "original": not has_sound,
            },
            "tagged_user": [],
            "timestamp": observed.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        return record

    def records(self, numbers: Iterable[int], epoch: int = 0) -> Iterator[dict[str, Any]]:
        for n in numbers:
            yield self.record(n, epoch)


def write_ndjson(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as (gzipped when the name ends in .gz) NDJSON, the way Bright Data delivers large snapshots."""
    count = 0
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def snapshot_numbers(catalogue: Catalogue, records: int, *, update_fraction: float, new_from: int) -> list[int]:
    """Video numbers for a snapshot of ``records`` records: a Zipf-free uniform sample of existing videos
    (``update_fraction`` of them) plus new videos numbered from ``new_from``."""
    updates = int(records * update_fraction)
    step = max(1, catalogue.videos // max(1, updates))
    existing = [(i * step) % catalogue.videos for i in range(updates)]
    return existing + list(range(new_from, new_from + records - updates))


def _cmd_generate(args: Any) -> int:
    catalogue = Catalogue(args.videos, seed=args.seed)
    gen = Generator(catalogue)
    if args.records is None:
        numbers: Iterable[int] = range(args.videos)
    else:
        numbers = snapshot_numbers(catalogue, args.records, update_fraction=args.update_fraction, new_from=args.videos)
    out = Path(args.out)
    count = write_ndjson(out, gen.records(numbers, epoch=args.epoch))
    print(f"wrote {count:,} Bright Data records to {out}")
    return 0


def register(sub: Any) -> None:
    """``reelrank generate``: write a synthetic snapshot file."""
    gen = sub.add_parser(
        "generate",
        help="write a synthetic Bright Data snapshot (Zipf creators/hashtags/sounds, heavy-tailed counts)",
        description="Without --records: every video of the catalogue (a full first scrape). With --records N: N "
        "records, --update-fraction of them re-scrapes of existing videos (epoch > 0 grows their counts), the rest "
        "new videos numbered after the catalogue.",
    )
    gen.add_argument("--videos", type=int, required=True, help="catalogue size")
    gen.add_argument("--out", default="snapshot.ndjson.gz", help="output file (.gz compresses)")
    gen.add_argument("--records", type=int, help="records in the snapshot (default: the whole catalogue)")
    gen.add_argument("--update-fraction", type=float, default=0.8)
    gen.add_argument("--epoch", type=int, default=0, help="scrape number: counts grow with it")
    gen.add_argument("--seed", type=int, default=7)
    gen.set_defaults(func=_cmd_generate)
