"""Read-only questions about the schema itself (the demo's table list, the audit, health checks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql


@dataclass(frozen=True, slots=True)
class TableCount:
    """A table of the public schema and its exact row count."""

    name: str
    rows: int
    partitioned: bool


def count_table_rows(conn: psycopg.Connection[Any]) -> list[TableCount]:
    """Every table of the public schema (partitioned parents counted whole, their partitions not listed)."""
    tables = conn.execute(
        """
        SELECT c.relname, c.relkind = 'p' AS partitioned
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname
        """
    ).fetchall()
    result: list[TableCount] = []
    for name, partitioned in tables:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))).fetchone()
        result.append(TableCount(name=str(name), rows=int(row[0]) if row else 0, partitioned=bool(partitioned)))
    return result
