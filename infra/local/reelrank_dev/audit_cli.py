"""``reelrank audit VIDEO_ID``: one video's rows in every table of DESIGN §3, and whether they are consistent.

Exit status: 0 when every check is ok (or does not apply), 1 when a row is missing or drifted, 2 when videos_hot has
no such video (its rejections, if any, are printed).
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from reelrank.db.audit import audit_video, rejections_of
from reelrank_dev import embedded


def _cmd_audit(args: argparse.Namespace) -> int:
    url = args.database_url or embedded.database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        lines = audit_video(conn, args.video_id)
        if lines is None:
            print(f"audit: no video {args.video_id!r} in videos_hot", file=sys.stderr)
            for ingestion_id, reason in rejections_of(conn, args.video_id):
                print(f"  rejected by ingestion {ingestion_id}: {reason}", file=sys.stderr)
            return 2
    width = max(len(line.table) for line in lines)
    for line in lines:
        print(f"{line.table:<{width}}  {line.status:<7}  {line.detail}")
    bad = [line for line in lines if line.status in ("missing", "drift")]
    print(f"\n{len(bad)} problem(s)" if bad else "\nconsistent: every table agrees with a recomputation")
    return 1 if bad else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="check one video's rows in every table (presence and consistency)")
    audit.add_argument("video_id", metavar="VIDEO_ID")
    audit.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    audit.set_defaults(func=_cmd_audit)
