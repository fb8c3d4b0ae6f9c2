"""``reelrank``: the local command line (dev tooling; never shipped in the layer).

Subcommands: ``db start|stop|url|status``, ``migrate``. Later issues add ``invoke``, ``serve``, ``audit``,
``generate``, ``fake-youtube``, ``weights`` and ``tracking``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg

from reelrank.db.migrations import MigrationError, apply_migrations
from reelrank_dev import embedded

SQL_DIR = embedded.REPO_ROOT / "sql"


def _cmd_db(args: argparse.Namespace) -> int:
    if args.action == "start":
        print(embedded.start())
    elif args.action == "stop":
        print("stopped" if embedded.stop() else "not running")
    elif args.action == "url":
        print(embedded.database_url())
    elif args.action == "status":
        print("running" if embedded.is_running() else "stopped", embedded.pgdata_dir())
    return 0


def migrate(url: str) -> list[str]:
    """Apply pending migrations to the database at ``url``; returns the files applied."""
    with psycopg.connect(url, autocommit=True) as conn:
        return apply_migrations(conn, SQL_DIR)


def _cmd_migrate(args: argparse.Namespace) -> int:
    url = args.database_url or embedded.database_url()
    try:
        applied = migrate(url)
    except MigrationError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("nothing to apply: the schema is current")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from reelrank.db.introspection import count_table_rows

    url = embedded.database_url()
    print(f"database: {url}")
    applied = migrate(url)
    print(f"migrations applied now: {len(applied)}" + (f" ({', '.join(applied)})" if applied else " (schema current)"))
    with psycopg.connect(url, autocommit=True) as conn:
        tables = count_table_rows(conn)
        impact = conn.execute("SELECT compute_impact(100000, 1000, 50, 10, 20)").fetchone()
    width = max(len(t.name) for t in tables)
    print(f"\n{'table'.ljust(width)}  rows")
    for t in tables:
        print(f"{t.name.ljust(width)}  {t.rows}{'  (partitioned by month)' if t.partitioned else ''}")
    print(
        f"\ncompute_impact(views=100000, likes=1000, comments=50, shares=10, saves=20) = {impact[0] if impact else '?'}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelrank", description="reelrank local runtime and tools")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL (ignored when DATABASE_URL is set)")
    db.add_argument("action", choices=["start", "stop", "url", "status"])
    db.set_defaults(func=_cmd_db)

    mig = sub.add_parser("migrate", help="apply the numbered migrations in sql/ (each exactly once)")
    mig.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    mig.set_defaults(func=_cmd_migrate)

    demo = sub.add_parser("demo", help="start the database, migrate, and show the schema's tables")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
