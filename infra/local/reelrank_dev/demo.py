"""``reelrank demo`` (``make demo``): the whole pipeline on one laptop, then the ranking API on localhost.

Every step goes through the same doors production uses: migrations from ``sql/``, then each function of template.yaml
invoked by its logical id through the local runtime (``reelrank invoke``, a subprocess per call, the way Lambda gives
each invocation a fresh event): IngestFunction with the bundled sample snapshots, ImpactBackfillFunction and
ReconcileFunction with the repository's event files, ViewTrackingFunction against the fake YouTube. Then it prints
what the site's editors asked for (top 10 by views beside top 10 by impact, and why impact reorders them) and the top
creators, hashtags, sounds and communities by impact, and serves the API (``reelrank serve``) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from reelrank_dev import embedded

REPO_ROOT = embedded.REPO_ROOT
SNAPSHOTS = REPO_ROOT / "tests" / "fixtures" / "snapshots"
SNAPSHOT_FILES = ("brightdata_tiktok.json", "apify_tiktok.json", "youtube_videos_list.json", "tiktok_research_api.json")
EVENTS = REPO_ROOT / "events"
DEFAULT_PORT = 3000
DEMO_ADMIN_TOKEN = "demo-admin-token"
STEPS = 7

# Seeded when the database has no community yet: editors' groupings of the sample snapshots' hashtags (ingest then
# files each video under the communities linking one of its hashtags).
DEMO_COMMUNITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("car-edits", "Car edits", ("caredit", "cartok")),
    ("anime-edits", "Anime edits", ("animeedit", "animeエディット", "édit")),
    ("phonk", "Phonk", ("phonk", "música")),
    ("lisbon-travel", "Lisbon travel", ("lisboa", "travel", "café", "cafe")),
)


class DemoError(Exception):
    """A step of the demo failed; the message says which and carries the function's output."""


Say = Callable[[str], None]


def _say(line: str = "") -> None:
    print(line, flush=True)


def invoke(logical_id: str, event: Path, env: dict[str, str]) -> dict[str, Any]:
    """``reelrank invoke LOGICAL_ID --event FILE`` in a subprocess; its JSON result, or DemoError with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "reelrank_dev.cli", "invoke", logical_id, "--event", str(event)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise DemoError(f"{logical_id} with {event.name} failed:\n{done.stdout.strip()}\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def seed_communities(url: str) -> int:
    """Create the demo communities when the database has none; returns how many were created."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM communities").fetchone()
        if row is not None and row[0] > 0:
            return 0
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO communities (slug, name, linked_hashtags) VALUES (%s, %s, %s) ON CONFLICT (slug) DO NOTHING",
                [(slug, name, list(tags)) for slug, name, tags in DEMO_COMMUNITIES],
            )
    return len(DEMO_COMMUNITIES)


def ingest_snapshots(env: dict[str, str], say: Say) -> int:
    """Each bundled snapshot through IngestFunction as a direct-records event; returns the records accepted."""
    accepted = 0
    with tempfile.TemporaryDirectory(prefix="reelrank-demo-") as tmp:
        for name in SNAPSHOT_FILES:
            payload = json.loads((SNAPSHOTS / name).read_text(encoding="utf-8"))
            event = Path(tmp) / name
            records = payload if isinstance(payload, list) else [payload]
            event.write_text(json.dumps({"snapshot_id": f"demo-{name}", "records": records}), encoding="utf-8")
            started = time.monotonic()
            result = invoke("IngestFunction", event, env)
            accepted += int(result["accepted"])
            say(
                f"      {name:<26} {result['status']:<9} received {result['received']:>3}  accepted "
                f"{result['accepted']:>3}  rejected {result['rejected']:>2}  new videos {result['new_videos']:>3}"
                f"  ({time.monotonic() - started:.1f} s)"
            )
    return accepted


def track_views(url: str, env: dict[str, str]) -> dict[str, Any]:
    """One ViewTrackingFunction run (the scheduled event) against the fake YouTube, which answers for the database's
    YouTube videos with growing counts."""
    from reelrank_dev.fake_youtube import DEFAULT_API_KEY, start_fake_youtube

    fake = start_fake_youtube(database_url=url)
    try:
        tracking_env = {**env, "YOUTUBE_API_BASE_URL": fake.base_url, "YOUTUBE_API_KEY": DEFAULT_API_KEY}
        return invoke("ViewTrackingFunction", EVENTS / "view_tracking" / "scheduled.json", tracking_env)
    finally:
        fake.stop()


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{Decimal(value):,.2f}"


def _per(views: int, comments: int) -> str:
    """ "1 comment per N views"."""
    return f"1 comment per {views // comments:,} views" if comments else "no comments"


def _rows(conn: psycopg.Connection[Any], query: LiteralString) -> list[tuple[Any, ...]]:
    return conn.execute(query).fetchall()


def print_rankings(url: str, say: Say) -> dict[str, Any]:
    """The editors' comparison and the entity rankings; returns ids the example curl lines use."""
    with psycopg.connect(url, autocommit=True) as conn:
        videos = _rows(
            conn,
            "SELECT video_id, platform, views_count, comments_count, impact_score FROM videos_hot"
            " ORDER BY views_count DESC, video_id DESC",
        )
        weights = conn.execute(
            "SELECT version, w_views, w_likes, w_comments, w_shares, w_saves FROM impact_weights WHERE active"
        ).fetchone()
        creators = _rows(
            conn,
            "SELECT coalesce(display_name, username, creator_id), platform, videos_count, total_play_count, total_impact_score"
            " FROM creators_hot ORDER BY total_impact_score DESC, creator_id DESC LIMIT 5",
        )
        hashtags = _rows(
            conn,
            "SELECT '#' || hashtag, videos_count, views_total, total_impact_score FROM hashtags_hot"
            " ORDER BY total_impact_score DESC, hashtag DESC LIMIT 5",
        )
        sounds = _rows(
            conn,
            "SELECT coalesce(sound_title, sound_id), videos_count, views_total, total_impact_score FROM sounds_hot"
            " ORDER BY total_impact_score DESC, sound_id DESC LIMIT 5",
        )
        communities = _rows(
            conn,
            "SELECT slug, total_videos, total_views, total_impact_score FROM communities"
            " ORDER BY total_impact_score DESC, id DESC LIMIT 5",
        )
    by_views = videos[:10]
    by_impact = sorted(videos, key=lambda v: (v[4], v[0]), reverse=True)[:10]
    views_rank = {v[0]: i + 1 for i, v in enumerate(videos)}
    if weights is not None:
        say(
            f"Impact = {weights[3].normalize():f} x comments + {weights[4].normalize():f} x shares + "
            f"{weights[2].normalize():f} x likes + {weights[1].normalize():f} x views + {weights[5].normalize():f} x saves"
            f"  (weights version {weights[0]})"
        )
    say()
    say(f"    {'top 10 by views':<49}  |  {'top 10 by impact':<49}  by views")
    cell = lambda v: f"{v[0]:<20} {v[1]:<7} {_n(v[2]):>14} {_n(v[4]):>14}" if v else ""  # noqa: E731
    for i in range(max(len(by_views), len(by_impact))):
        left = by_views[i] if i < len(by_views) else None
        right = by_impact[i] if i < len(by_impact) else None
        moved = ""
        if right is not None:
            before = views_rank[right[0]]
            moved = f"#{before}" + (f"  up {before - (i + 1)}" if before > i + 1 else "")
        say(f"{i + 1:>2}. {cell(left):<58} | {cell(right):<58} {moved}")
    say()
    w_views, w_comments = (weights[1], weights[3]) if weights is not None else (Decimal("0.00001"), Decimal(100))
    say(
        f"Why: a comment weighs {w_comments.normalize():f} and a view {w_views.normalize():f}, so one comment counts "
        f"as much as {w_comments / w_views:,.0f} views. A video impact ranks above one with more views:"
        if w_views
        else "Why: views carry no weight in the active version. A video impact ranks above one with more views:"
    )
    lifted = 0
    for i, (video_id, _platform, views, comments, _impact) in enumerate(by_impact):
        overtaken = [w for w in by_impact[i + 1 :] if w[2] > views]
        if not overtaken:
            continue
        lifted += 1
        theirs = ", ".join(f"{w[0]} ({_per(w[2], w[3])})" for w in overtaken[:3]) + (
            ", ..." if len(overtaken) > 3 else ""
        )
        say(f"  {video_id:<20} {_n(comments)} comments, {_per(views, comments)}  above  {theirs}")
    if not lifted:
        say("  (none: in this sample the most viewed videos are also the most discussed)")
    for title, header, rows in (
        ("creators", ("creator", "platform", "videos", "views"), creators),
        ("hashtags", ("hashtag", "videos", "views"), hashtags),
        ("sounds", ("sound", "videos", "views"), sounds),
        ("communities", ("community", "videos", "views"), communities),
    ):
        say()
        say(f"top {title} by impact: " + "  ".join(header) + "  impact")
        for i, row in enumerate(rows):
            name, *figures = row
            say(
                f"  {i + 1}. {str(name)[:32]:<32} "
                + "  ".join(f"{f if isinstance(f, str) else f'{int(f):,}':>14}" for f in figures[:-1])
                + f"  {_n(figures[-1]):>14}"
            )
        if not rows:
            say("  (none)")
    top_video = by_impact[0][0] if by_impact else None
    return {
        "video": top_video,
        "hashtag": hashtags[0][0].lstrip("#") if hashtags else None,
        "community": communities[0][0] if communities else None,
    }


def example_curls(base: str, ids: dict[str, Any], admin_token: str) -> list[str]:
    from urllib.parse import quote

    lines = [
        f"curl '{base}/videos?sort=impact&limit=5'",
        f"curl '{base}/videos?sort=views&platform=tiktok&limit=5'",
        f"curl '{base}/creators?sort=impact'",
        f"curl '{base}/hashtags?sort=impact&limit=5'",
    ]
    if ids.get("video"):
        lines.append(f"curl '{base}/videos/{ids['video']}/history'")
    if ids.get("hashtag"):
        lines.append(f"curl '{base}/hashtags/{quote(ids['hashtag'])}/videos?sort=impact'")
    if ids.get("community"):
        lines.append(f"curl '{base}/communities/{ids['community']}/creators?sort=impact'")
    lines.append(f"curl -H 'Authorization: Bearer {admin_token}' '{base}/admin/view-tracking/stats'")
    lines.append(f"open {base}/swagger      # the OpenAPI document is {base}/openapi.json")
    return lines


def serve_api(port: int, ids: dict[str, Any], say: Say) -> int:
    """``reelrank serve`` in this process until Ctrl-C."""
    from reelrank_dev import serve
    from reelrank_dev.cli import TEMPLATE

    os.environ.setdefault(serve.ADMIN_TOKEN_ENV, DEMO_ADMIN_TOKEN)
    api = serve.LocalApi(TEMPLATE)
    try:
        server = serve.make_server(api, "127.0.0.1", port)
    except OSError as exc:
        raise DemoError(f"cannot listen on 127.0.0.1:{port} ({exc}): set REELRANK_PORT to a free port") from exc
    base = f"http://127.0.0.1:{server.server_port}"
    say()
    say(f"The ranking API ({len(api.routes)} routes of template.yaml, reelrank serve) is on {base} - Ctrl-C stops it.")
    token = os.environ[serve.ADMIN_TOKEN_ENV]
    say(f"Admin routes take the bearer token REELRANK_ADMIN_TOKEN={token}. Try:")
    for line in example_curls(base, ids, token):
        say(f"  {line}")
    sys.stdout.flush()
    # the functions' logs go to stderr from here on, as with `reelrank serve`
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def run_demo(*, serve: bool = True, port: int = DEFAULT_PORT, say: Say = _say) -> int:
    """Run every step; returns the exit status (0, or 1 with the failing step's output on stderr)."""
    started = time.monotonic()

    def step(number: int, text: str) -> None:
        say(f"[{number}/{STEPS}] {text}  (+{time.monotonic() - started:.1f} s)")

    try:
        step(1, "database")
        url = embedded.database_url()
        say(
            f"      {url}"
            + ("" if os.environ.get("DATABASE_URL") else f"  (embedded, data in {embedded.pgdata_dir()})")
        )
        from reelrank_dev.cli import migrate

        step(2, "migrations")
        applied = migrate(url)
        say(f"      applied {len(applied)}" + (f": {applied[0]} .. {applied[-1]}" if applied else " (schema current)"))
        seeded = seed_communities(url)
        if seeded:
            say(f"      seeded {seeded} communities: " + ", ".join(slug for slug, _, _ in DEMO_COMMUNITIES))
        env = {"DATABASE_URL": url}
        step(3, "ingest: the bundled snapshots through `reelrank invoke IngestFunction`")
        ingest_snapshots(env, say)
        step(4, "backfill: `reelrank invoke ImpactBackfillFunction --event events/backfill/all.json`")
        backfill = invoke("ImpactBackfillFunction", EVENTS / "backfill" / "all.json", env)
        say(
            f"      job {backfill['job_id']} {backfill['status']}: {backfill['videos_scanned']} videos scanned, "
            f"{backfill['videos_updated']} rescored, {backfill['aggregates_updated']} aggregates refreshed"
        )
        step(5, "reconcile: `reelrank invoke ReconcileFunction --event events/reconcile/scheduled.json`")
        rec = invoke("ReconcileFunction", EVENTS / "reconcile" / "scheduled.json", env)
        say(
            f"      {rec['videos_repaired']} videos and {sum(rec['aggregates_repaired'].values())} aggregates repaired, "
            f"views refreshed: {', '.join(rec['views_refreshed']) or 'none'}, "
            f"{rec['partitions_created']} snapshot partitions created"
        )
        step(6, "view tracking: `reelrank invoke ViewTrackingFunction` against the fake YouTube")
        job = track_views(url, env)
        say(
            f"      job {job['job_id']} {job['status']}: {job['videos_due']} due, {job['videos_tracked']} tracked, "
            f"{job['api_calls']} videos.list calls, {job['quota_units_used']} quota units"
        )
        step(7, "rankings")
        say()
        ids = print_rankings(url, say)
        say()
        say(f"demo pipeline done in {time.monotonic() - started:.1f} s")
        if serve:
            return serve_api(port, ids, say)
        return 0
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"demo: database error: {exc}".rstrip(), file=sys.stderr)
        return 1


def _cmd_demo(args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else int(os.environ.get("REELRANK_PORT") or DEFAULT_PORT)
    return run_demo(serve=not args.no_serve, port=port)


def register(sub: Any) -> None:
    """Add ``reelrank demo`` to the CLI's subparsers."""
    demo = sub.add_parser(
        "demo",
        help="the whole pipeline on the sample snapshots, the rankings, then the API on localhost",
        description="Migrates, ingests the bundled snapshots, backfills, reconciles and tracks views (each function "
        "through `reelrank invoke`), prints top 10 by views beside top 10 by impact and the top creators, hashtags, "
        "sounds and communities, then serves the API until Ctrl-C.",
    )
    demo.add_argument("--no-serve", action="store_true", help="stop after the rankings (tests, CI)")
    demo.add_argument("--port", type=int, default=None, help=f"default: REELRANK_PORT, else {DEFAULT_PORT}")
    demo.set_defaults(func=_cmd_demo)
