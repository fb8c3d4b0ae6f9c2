"""Use case: change the Impact weights (``reelrank weights set``, ``POST /admin/impact-weights``).

Activating a version is one transaction: from its commit on, the scoring trigger scores every new or changed video
with it, and every other row is "stale" (``impact_version`` ≠ the active one) until the backfill rescores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from pydantic import ValidationError

from reelrank.db import impact_weights
from reelrank.errors import InvalidWeightsError
from reelrank.models.weights import ImpactWeightsRequest, ImpactWeightsResponse


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "weights"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)


def parse_weights_request(body: Mapping[str, Any]) -> ImpactWeightsRequest:
    """Validate a request body; an invalid one raises :class:`InvalidWeightsError` naming each bad field."""
    try:
        return ImpactWeightsRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidWeightsError(f"invalid impact weights: {_describe(exc)}") from exc


def set_impact_weights(
    conn: psycopg.Connection[Any], request: ImpactWeightsRequest | Mapping[str, Any]
) -> ImpactWeightsResponse:
    """Add a new weights version and make it the active one.

    Parameters
    ----------
    conn
        An autocommit connection; the change is its own transaction.
    request
        The five weights (``views``, ``likes``, ``comments``, ``shares``, ``saves``) and an optional note, as a model
        or as a request body to validate.

    Returns
    -------
    ImpactWeightsResponse
        The new version with its weights and ``activated_at``.

    Raises
    ------
    InvalidWeightsError
        A weight is missing, negative, not a finite number, or has more than 10 digits on either side of the point;
        or all five are zero. The message names the field.
    """
    parsed = request if isinstance(request, ImpactWeightsRequest) else parse_weights_request(request)
    with conn.transaction():
        return impact_weights.insert_active_weights(conn, parsed, parsed.note)


def get_active_weights(conn: psycopg.Connection[Any]) -> ImpactWeightsResponse:
    """The active weights version."""
    return impact_weights.fetch_active_weights(conn)


def list_weights_versions(conn: psycopg.Connection[Any]) -> list[ImpactWeightsResponse]:
    """Every weights version, newest first."""
    return impact_weights.list_weights(conn)
