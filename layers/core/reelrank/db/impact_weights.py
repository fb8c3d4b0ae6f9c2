"""Data access for ``impact_weights``: versions of the Impact formula's weights, exactly one active (sql/0002)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from reelrank.models.weights import ImpactWeightsResponse, ImpactWeightValues

_COLUMNS = sql.SQL(
    "version, w_views AS views, w_likes AS likes, w_comments AS comments, w_shares AS shares, w_saves AS saves,"
    " active, note, created_at, activated_at"
)


def _to_response(row: dict[str, Any]) -> ImpactWeightsResponse:
    weights = ImpactWeightValues(
        views=row["views"], likes=row["likes"], comments=row["comments"], shares=row["shares"], saves=row["saves"]
    )
    return ImpactWeightsResponse(
        version=row["version"],
        weights=weights,
        active=row["active"],
        note=row["note"],
        created_at=row["created_at"],
        activated_at=row["activated_at"],
    )


def insert_active_weights(
    conn: psycopg.Connection[Any], weights: ImpactWeightValues, note: str | None
) -> ImpactWeightsResponse:
    """Add the next weights version and make it the only active one, inside the caller's transaction.

    The table is locked against other writers first (readers, the scoring trigger included, are not blocked), so two
    operators at once get consecutive versions instead of a key conflict.
    """
    conn.execute("LOCK TABLE impact_weights IN SHARE ROW EXCLUSIVE MODE")
    conn.execute("UPDATE impact_weights SET active = false WHERE active")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL(
                "INSERT INTO impact_weights AS w (version, w_views, w_likes, w_comments, w_shares, w_saves, active,"
                " note, activated_at)"
                " SELECT coalesce(max(version), 0) + 1, %s, %s, %s, %s, %s, true, %s, now() FROM impact_weights"
                " RETURNING {}"
            ).format(_COLUMNS),
            (weights.views, weights.likes, weights.comments, weights.shares, weights.saves, note),
        ).fetchone()
    assert row is not None  # an INSERT … SELECT of an aggregate yields exactly one row
    return _to_response(row)


def fetch_active_weights(conn: psycopg.Connection[Any]) -> ImpactWeightsResponse:
    """The active version (the schema guarantees exactly one at every commit)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql.SQL("SELECT {} FROM impact_weights WHERE active").format(_COLUMNS)).fetchone()
    if row is None:
        raise LookupError("impact_weights has no active version")
    return _to_response(row)


def list_weights(conn: psycopg.Connection[Any]) -> list[ImpactWeightsResponse]:
    """Every version, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql.SQL("SELECT {} FROM impact_weights ORDER BY version DESC").format(_COLUMNS)).fetchall()
    return [_to_response(r) for r in rows]
