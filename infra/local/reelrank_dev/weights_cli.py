"""``reelrank weights``: show the Impact weights versions, or add and activate a new one (dev and operator tool).

``reelrank weights set --comments 100 --shares 0.1 …`` activates a new version at once: from then on new and updated
videos are scored with it, and older rows are stale until ``reelrank invoke ImpactBackfillFunction --event
events/backfill/stale.json`` (or ``POST /admin/backfill``) rescores them. Weights not given on the command line keep
the active version's values.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from reelrank.errors import InvalidWeightsError
from reelrank.models.weights import ImpactWeightsResponse
from reelrank.services.weights import get_active_weights, list_weights_versions, set_impact_weights
from reelrank_dev import embedded

WEIGHTS = ("views", "likes", "comments", "shares", "saves")


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc


def _describe(w: ImpactWeightsResponse) -> dict[str, Any]:
    return w.model_dump(mode="json")


def _stale_rows(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM videos_hot WHERE impact_version <> active_impact_version()").fetchone()
    return int(row[0]) if row else 0


def _cmd_set(args: argparse.Namespace) -> int:
    with psycopg.connect(args.database_url or embedded.database_url(), autocommit=True) as conn:
        active = get_active_weights(conn).weights.model_dump()
        body: dict[str, Any] = {
            name: getattr(args, name) if getattr(args, name) is not None else active[name] for name in WEIGHTS
        }
        if args.note:
            body["note"] = args.note
        try:
            created = set_impact_weights(conn, body)
        except InvalidWeightsError as exc:
            print(f"weights set: {exc}", file=sys.stderr)
            return 1
        stale = _stale_rows(conn)
    print(json.dumps(_describe(created), indent=2))
    print(
        f"version {created.version} is active; {stale} videos are stale until a backfill runs:\n"
        "  reelrank invoke ImpactBackfillFunction --event events/backfill/stale.json",
        file=sys.stderr,
    )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with psycopg.connect(args.database_url or embedded.database_url(), autocommit=True) as conn:
        versions = list_weights_versions(conn) if args.all else [get_active_weights(conn)]
        stale = _stale_rows(conn)
    print(json.dumps([_describe(v) for v in versions] if args.all else _describe(versions[0]), indent=2))
    print(f"stale videos (scored with another version): {stale}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add ``weights set`` and ``weights show`` to the ``reelrank`` parser's subcommands."""
    weights = sub.add_parser("weights", help="show or change the Impact weights (versioned; one active)")
    weights.add_argument("--database-url", help="default: DATABASE_URL, else the embedded server")
    actions = weights.add_subparsers(dest="weights_action", required=True)
    setter = actions.add_parser(
        "set",
        help="add a new weights version and activate it",
        description="Weights not given keep the active version's value. Prints the new version as JSON.",
    )
    for name in WEIGHTS:
        setter.add_argument(f"--{name}", type=_decimal, metavar="W", help=f"weight of {name} (>= 0)")
    setter.add_argument("--note", help="why the weights changed (kept with the version)")
    setter.set_defaults(func=_cmd_set)
    show = actions.add_parser("show", help="print the active weights version (--all: every version)")
    show.add_argument("--all", action="store_true", help="every version, newest first")
    show.set_defaults(func=_cmd_show)
