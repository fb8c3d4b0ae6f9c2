"""``reelrank``: the local command line (dev tooling; never shipped in the layer).

Subcommands: ``db start|stop|url|status``, ``migrate``, ``invoke LOGICAL_ID --event FILE``. Later issues add
``serve``, ``audit``, ``generate``, ``fake-youtube``, ``weights`` and ``tracking``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import psycopg

from reelrank.db.migrations import MigrationError, apply_migrations
from reelrank_dev import embedded

SQL_DIR = embedded.REPO_ROOT / "sql"
TEMPLATE = embedded.REPO_ROOT / "template.yaml"


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


def _read_event(source: str | None) -> Any:
    if source is None:
        return {}
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def _cmd_invoke(args: argparse.Namespace) -> int:
    """Like ``sam local invoke``: the result (or Lambda's error object) on stdout, the function's output on stderr.

    Exit status: 0 when the handler returned, 1 when it failed (error object printed), 2 when the tool could not
    run it at all (unknown logical id, unreadable template or event, no database).
    """
    from reelrank_dev import local_lambda
    from reelrank_dev.sam_template import TemplateError, function_spec, load_template

    template_path = Path(args.template).resolve()
    try:
        spec = function_spec(
            load_template(template_path), args.logical_id, environ=os.environ, template_dir=template_path.parent
        )
    except TemplateError as exc:
        print(f"invoke: {exc} [{template_path}]", file=sys.stderr)
        return 2
    try:
        event = _read_event(args.event)
    except (OSError, ValueError) as exc:
        print(f"invoke: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2

    with _function_output_to_stderr() as result_out:
        try:
            local_lambda.prepare_environment(spec)
        except Exception as exc:
            print(f"invoke: cannot prepare {args.logical_id}'s environment: {exc}", file=sys.stderr)
            return 2
        result = local_lambda.invoke(spec, event)
        print(
            f"invoke: {args.logical_id} request {result.request_id} "
            f"{'succeeded' if result.ok else 'failed'} in {result.duration_ms:.0f} ms",
            file=sys.stderr,
        )
        result_out.write(result.to_json() + "\n")
    return 0 if result.ok else 1


@contextlib.contextmanager
def _function_output_to_stderr() -> Iterator[TextIO]:
    """Point file descriptor 1 at stderr (Powertools logs and EMF metrics print to stdout) and yield the real stdout.

    Like ``sam local invoke``, stdout then carries nothing but the result, so it pipes into ``jq``.
    """
    sys.stdout.flush()
    saved = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    real_stdout = os.fdopen(os.dup(saved), "w", encoding="utf-8")
    try:
        yield real_stdout
    finally:
        real_stdout.close()
        sys.stdout.flush()
        # a timed-out handler is still running: leave its output on stderr until the process exits
        if not any(t.name.startswith("lambda-") and t.is_alive() for t in threading.enumerate()):
            os.dup2(saved, sys.stdout.fileno())
        os.close(saved)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reelrank", description="reelrank local runtime and tools")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL (ignored when DATABASE_URL is set)")
    db.add_argument("action", choices=["start", "stop", "url", "status"])
    db.set_defaults(func=_cmd_db)

    mig = sub.add_parser("migrate", help="apply the numbered migrations in sql/ (each exactly once)")
    mig.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    mig.set_defaults(func=_cmd_migrate)

    inv = sub.add_parser(
        "invoke",
        help="run a function of template.yaml by its logical id (sam local invoke, without Docker)",
        description="Prints the handler's JSON result (or Lambda's error object, exit 1) on stdout; the "
        "function's logs go to stderr. Template environment applies unless the shell sets a variable; "
        "DATABASE_URL defaults to the embedded PostgreSQL.",
    )
    inv.add_argument("logical_id", metavar="LOGICAL_ID", help="e.g. IngestFunction")
    inv.add_argument("-e", "--event", metavar="FILE", help="event JSON file ('-' for stdin; default: {})")
    inv.add_argument("-t", "--template", default=str(TEMPLATE), help="default: the repository's template.yaml")
    inv.set_defaults(func=_cmd_invoke)

    from reelrank_dev import demo

    demo.register(sub)

    from reelrank_dev import weights_cli

    weights_cli.register(sub)

    from reelrank_dev import tracking_cli

    tracking_cli.register(sub)

    from reelrank_dev import audit_cli, generate

    audit_cli.register(sub)
    generate.register(sub)

    from reelrank_dev import serve

    serve.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
