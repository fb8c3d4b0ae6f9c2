"""Rescoring ``videos_hot`` in keyset batches: the videos phase of the backfill and of reconcile.

A batch is a key range ``(lo, hi]`` of the primary key, ``hi`` read from the index first (PERF_NOTES "Backfill":
range-bounded batches cost ~1.3x one single UPDATE, while ``IN (SELECT … LIMIT n)`` batches rescan and cost 2.4x, and
OFFSET is quadratic). Only rows whose score or version changes are written. The scoring trigger does not fire: it
watches the count columns only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from reelrank.models.weights import ImpactWeightValues


@dataclass(frozen=True, slots=True)
class BatchBound:
    """The next batch: its last key and how many rows it spans (0: the key space is exhausted)."""

    hi: str | None
    rows: int


def next_batch_bound(conn: psycopg.Connection[Any], after: str | None, size: int) -> BatchBound:
    """The upper key of the ``size`` rows after ``after`` (an index-only scan of the primary key)."""
    where = sql.SQL("WHERE video_id > %(after)s") if after is not None else sql.SQL("")
    row = conn.execute(
        sql.SQL(
            "SELECT max(video_id), count(*) FROM (SELECT video_id FROM videos_hot {} ORDER BY video_id LIMIT %(n)s) s"
        ).format(where),
        {"after": after, "n": size},
    ).fetchone()
    return BatchBound(hi=row[0], rows=int(row[1])) if row else BatchBound(None, 0)


_FORMULA = sql.SQL(
    "impact_formula(views_count, likes_count, comments_count, shares_count, collect_count,"
    " %(w_views)s, %(w_likes)s, %(w_comments)s, %(w_shares)s, %(w_saves)s)"
)


# A video to rescore: on another version, or its stored score differs from the recomputation with the given weights.
_MISSCORED = sql.SQL("(impact_version <> %(version)s OR impact_score <> {})").format(_FORMULA)


def _weight_params(version: int, weights: ImpactWeightValues) -> dict[str, Any]:
    return {
        "version": version,
        "w_views": weights.views,
        "w_likes": weights.likes,
        "w_comments": weights.comments,
        "w_shares": weights.shares,
        "w_saves": weights.saves,
    }


# The videos a batch rescored carry their new score to the copies in the fact tables, in a second statement of the
# same transaction: the UPDATE holds those videos' row locks, which every ingest chunk takes before it touches a
# video's facts, so the copies can never be overwritten with an older score (PERF_NOTES: the copies make nested lists
# index-ordered). Not in the UPDATE's own statement: its snapshot is taken before it waits for a video that an ingest
# chunk holds, so it would miss the facts and memberships that chunk added (they would keep the old score).
_CARRY_TO_FACTS = """
WITH c AS (
    SELECT * FROM unnest(%(ids)s::text[], %(scores)s::numeric[]) AS c (video_id, impact_score)
), hashtag_facts AS (
    UPDATE video_hashtag_facts f SET impact_score = c.impact_score FROM c
    WHERE f.video_id = ANY (%(ids)s::text[]) AND f.video_id = c.video_id
      AND f.impact_score IS DISTINCT FROM c.impact_score
), sound_facts AS (
    UPDATE video_sound_facts f SET impact_score = c.impact_score FROM c
    WHERE f.video_id = ANY (%(ids)s::text[]) AND f.video_id = c.video_id
      AND f.impact_score IS DISTINCT FROM c.impact_score
)
UPDATE community_video_memberships f SET impact_score = c.impact_score FROM c
WHERE f.video_id = ANY (%(ids)s::text[]) AND f.video_id = c.video_id
  AND f.impact_score IS DISTINCT FROM c.impact_score
"""


def _rescore(conn: psycopg.Connection[Any], where: sql.Composable, params: dict[str, Any]) -> int:
    """Rescore the videos ``where`` selects, then carry their new scores to the fact tables' copies, both in one
    transaction (a savepoint inside the caller's); returns how many video rows were written."""
    with conn.transaction():
        changed = conn.execute(
            sql.SQL(
                "UPDATE videos_hot SET impact_score = {formula}, impact_version = %(version)s,"
                " impact_updated_at = now() WHERE {where} RETURNING video_id, impact_score"
            ).format(formula=_FORMULA, where=where),
            params,
        ).fetchall()
        if changed:
            ids, scores = zip(*changed, strict=True)
            conn.execute(_CARRY_TO_FACTS, {"ids": list(ids), "scores": list(scores)})
    return len(changed)


def rescore_range(
    conn: psycopg.Connection[Any],
    lo: str | None,
    hi: str,
    version: int,
    weights: ImpactWeightValues,
    *,
    stale_only: bool,
) -> int:
    """Score the videos with key in ``(lo, hi]`` with ``weights``; returns how many video rows were written.

    ``stale_only`` writes the rows on another version; otherwise also every row whose stored score differs from the
    recomputation (a wrong score on the right version is repaired too). The fact tables' copies of each written
    score are updated in the same statement.
    """
    changed = sql.SQL("impact_version <> %(version)s") if stale_only else _MISSCORED
    lower = sql.SQL("video_id > %(lo)s AND ") if lo is not None else sql.SQL("")
    where = sql.SQL("{lower}video_id <= %(hi)s AND {changed}").format(lower=lower, changed=changed)
    return _rescore(conn, where, {**_weight_params(version, weights), "lo": lo, "hi": hi})


def find_misscored(
    conn: psycopg.Connection[Any], version: int, weights: ImpactWeightValues, limit: int
) -> list[str] | None:
    """The keys, in key order, of the videos on another version or whose score differs from ``weights``; None when
    there are more than ``limit``. One read-only scan that PostgreSQL runs with parallel workers (an aggregate: a
    plain SELECT or a LIMIT is planned serially, the filter's selectivity being unknown; a key-range UPDATE never gets
    them)."""
    row = conn.execute(
        sql.SQL(
            "SELECT count(*), CASE WHEN count(*) <= %(limit)s THEN array_agg(video_id) END FROM videos_hot WHERE {}"
        ).format(_MISSCORED),
        {**_weight_params(version, weights), "limit": limit},
    ).fetchone()
    if row is None or row[1] is None:
        return None if row and row[0] else []
    return sorted(str(k) for k in row[1])


def rescore_keys(conn: psycopg.Connection[Any], keys: list[str], version: int, weights: ImpactWeightValues) -> int:
    """Score the videos with these keys that are on another version or whose score differs (checked again here: a
    chunk may have rescored one since it was found); returns how many video rows were written."""
    where = sql.SQL("video_id = ANY (%(keys)s) AND {}").format(_MISSCORED)
    return _rescore(conn, where, {**_weight_params(version, weights), "keys": keys})


def count_stale(conn: psycopg.Connection[Any], version: int) -> int:
    """Rows scored with another version (``<`` or ``>`` so that videos_impact_version_idx serves it)."""
    row = conn.execute(
        "SELECT count(*) FROM videos_hot WHERE impact_version < %(v)s OR impact_version > %(v)s", {"v": version}
    ).fetchone()
    return int(row[0]) if row else 0


def rescore_stale_stragglers(
    conn: psycopg.Connection[Any], version: int, weights: ImpactWeightValues, limit: int
) -> int:
    """Score up to ``limit`` rows still on another version, found through the version index.

    A key-range scan can miss a row that a concurrent ingest chunk, begun under the previous weights, committed behind
    the scan; this sweep catches those few after the scan.
    """
    where = sql.SQL(
        "video_id IN (SELECT video_id FROM videos_hot"
        " WHERE impact_version < %(version)s OR impact_version > %(version)s LIMIT %(limit)s)"
    )
    return _rescore(conn, where, {**_weight_params(version, weights), "limit": limit})
