"""Set-based repair of every derived row: fact sort-key copies, memberships, pair counts and aggregate totals.

Each :class:`RepairStep` compares a whole table with its recomputation from the base tables (the hashtags step: all
three hashtag-derived tables from one grouping of the facts) and writes only the rows that differ (``IS DISTINCT
FROM``), returning how many it wrote; every step finds those rows with a read-only query first (see RepairStep).
Totals are driven from the aggregate table with a LEFT JOIN so an entity that lost all its videos is repaired too
(PERF_NOTES "Aggregates"); tables that hold a row only while its count is positive (memberships, pair counts) get
missing rows inserted and orphans deleted, both found by one FULL JOIN of the recomputation with the table. The steps
run in :data:`REPAIR_STEPS` order: each table's fact copies before what is computed from them.

Concurrency: an aggregate recomputed from a snapshot while an ingest chunk adds its delta would lose the delta, so a
step writes in a transaction that first takes every one of ingest's video-bucket locks (in bucket order, as ingest
does: no deadlock). No chunk is then in flight, every committed chunk is visible, and the repaired row is exact; the
chunks that follow keep it exact with their deltas. A step first runs its ``find`` without any lock
(:meth:`RepairStep.run`): one statement sees one snapshot and every chunk commits its rows with their deltas, so drift
it finds or misses is real, and ingest never creates or removes it. A step that finds none is done without locking;
one that finds some then takes the locks and writes what it found — after checking that no chunk wrote a found row in
between (else it finds again, under the locks), or with a write that re-derives each found row itself. Ingest waits
for one drifted step at most — its write, or its find too when a chunk wrote a found row meanwhile — never for a whole
run.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from reelrank.db.ingest_writes import VIDEO_LOCK_BUCKETS, VIDEO_LOCK_CLASS

# Memory for each step's hash aggregates and joins, for its transaction only (SET LOCAL; ReconcileSettings /
# BackfillSettings ``REPAIR_WORK_MEM_MB``). The largest, the (hashtag, creator) grouping of every hashtag fact, holds
# ~0.25 GB at a million videos with ``checked_sums`` and ~0.9 GB with plain sum() (its fallback); with less it spills
# to disk in batches and the step takes 2-3x longer (measured, README).
DEFAULT_REPAIR_WORK_MEM_MB = 1024

# statement_timeout of each step's transaction (SET LOCAL; ``REPAIR_STATEMENT_TIMEOUT_MS``), in place of the session's
# (60 s by default, sized for API reads): after a weights change at a million videos the hashtag step's write
# rewrites 1.6M pair rows in one statement: the step took 62.6 s on this 2-core machine (README benchmarks).
DEFAULT_REPAIR_STATEMENT_TIMEOUT_MS = 600_000

# The temporary table a step's read-only comparison fills and its write reads (dropped at the step's commit).
FOUND_TABLE = "repair_found"


@dataclass(frozen=True, slots=True)
class Recheck:
    """Queries on ``repair_found`` against the stored rows, for a find that recorded each stored row's ``xmin`` as
    ``stored_xmin``: ``any_changed`` (one boolean) whether a found row was missing at the find or has been written
    since; ``discard_changed`` deletes those rows from ``repair_found`` (its row count: how many)."""

    any_changed: sql.Composed
    discard_changed: sql.Composed


def _recheck(*tables: tuple[str, sql.Composable, LiteralString]) -> Recheck:
    """The :class:`Recheck` of a find whose rows belong to these tables: per (table, join condition on ``a``/``f``,
    which found rows are that table's)."""
    return Recheck(
        sql.SQL("SELECT EXISTS ({})").format(
            sql.SQL(" UNION ALL ").join(
                sql.SQL(
                    "SELECT 1 FROM repair_found f LEFT JOIN {} a ON {} WHERE {}"
                    " AND (f.stored_xmin IS NULL OR a.xmin IS DISTINCT FROM f.stored_xmin)"
                ).format(sql.Identifier(table), on, sql.SQL(kind))
                for table, on, kind in tables
            )
        ),
        sql.SQL("DELETE FROM repair_found f WHERE {}").format(
            sql.SQL(" OR ").join(
                sql.SQL("({} AND NOT EXISTS (SELECT 1 FROM {} a WHERE {} AND a.xmin = f.stored_xmin))").format(
                    sql.SQL(kind), sql.Identifier(table), on
                )
                for table, on, kind in tables
            )
        ),
    )


@dataclass(frozen=True, slots=True)
class RepairStep:
    """One repair step: ``family`` is the report's key its rows count under (``families``, for a step whose write
    counts the rows of several families apart).

    ``find`` is a read-only query of every row that differs from the recomputation; it runs first, into
    the temporary table ``repair_found``, and ``statement`` writes from that table. Split so, the comparison — almost
    all of a step's time — is a plain SELECT that PostgreSQL may run with parallel workers (a statement that writes,
    data-modifying CTEs included, never gets a parallel plan), and the write touches only the rows found.

    The find runs before ingest is held off (:func:`run_step`), so what it found must still hold once the locks are
    taken. Either the write re-derives every found row from the base tables itself (``recheck`` None: the fact
    copies, community memberships), or ``recheck`` tells whether any found row's stored version changed since the
    find (its ``xmin``, which the find records as ``stored_xmin``; NULL, a row that was missing, counts as changed):
    ingest writes every aggregate row whose recomputation it changes, so while none did, the found values are still
    the recomputation; when one did, the find runs again under the locks.
    """

    name: str
    family: str
    statement: LiteralString
    find: LiteralString
    recheck: Recheck | None = None
    # the find for when a bigint sum overflows, where ``find`` is written with sum_checked itself; else ``find``
    plain_find: LiteralString | None = None
    # planner settings (name, value) set for the find only (SET LOCAL, put back after it)
    planner: tuple[tuple[str, str], ...] = ()
    # whether the step reads a video's Impact (its own or a copy): reconcile rescores the videos before such a step
    reads_scores: bool = True
    # run before ``statement``, on its own: the rows it locks are read by the write in a snapshot taken after the locks
    # (a lock waited for inside the write's own statement leaves the write reading what was there before the wait)
    lock: LiteralString | None = None
    # when set, ``statement`` returns one row: the rows it wrote of each of these report keys, in this order
    families: tuple[str, ...] = ()

    def run(
        self,
        conn: psycopg.Connection[Any],
        *,
        lock_timeout_ms: int,
        work_mem_mb: int = DEFAULT_REPAIR_WORK_MEM_MB,
        statement_timeout_ms: int = DEFAULT_REPAIR_STATEMENT_TIMEOUT_MS,
        parallel: bool = True,
    ) -> Counter[str]:
        """Run inside the caller's transaction; returns the rows written, per family.

        Find without any lock; nothing found, done (a clean table never holds ingest off); else hold ingest off, find
        again only if ``recheck`` says a found row changed meanwhile, and write.
        """
        _set_step_locals(conn, work_mem_mb, statement_timeout_ms, parallel)
        if self._collect(conn) == 0:
            return Counter()
        return self.write_found(conn, lock_timeout_ms)

    def write_found(self, conn: psycopg.Connection[Any], lock_timeout_ms: int) -> Counter[str]:
        """Hold ingest off, find again (under the locks) only if ``recheck`` says a row in ``repair_found`` changed
        since the find, and write; returns the rows written, per family."""
        lock_out_ingest(conn, lock_timeout_ms)
        if self.changed_since_find(conn):
            conn.execute("DROP TABLE " + FOUND_TABLE)
            self._collect(conn)
        return self.write(conn)

    def write(self, conn: psycopg.Connection[Any]) -> Counter[str]:
        """Run ``lock``, then ``statement`` on ``repair_found``; returns the rows written, per family."""
        if self.lock is not None:
            conn.execute(self.lock)
        cur = conn.execute(self.statement)
        if cur.description is None:  # a plain UPDATE: its row count
            return Counter({self.family: max(cur.rowcount, 0)})
        row = cur.fetchone()  # a data-modifying CTE that counts what it wrote (per family, in ``families`` order)
        families = self.families or (self.family,)
        return Counter({f: int(n or 0) for f, n in zip(families, row or (), strict=False)})

    def _collect(self, conn: psycopg.Connection[Any]) -> int:
        found = self.collect(conn, "CREATE TEMPORARY TABLE " + FOUND_TABLE + " ON COMMIT DROP AS ")
        if found:
            # statistics for the write's plan: a few rows after a drift, hundreds of thousands after a weights change
            conn.execute("ANALYZE " + FOUND_TABLE)
        return found

    def collect(self, conn: psycopg.Connection[Any], create: LiteralString, suffix: LiteralString = "") -> int:
        """Run ``create`` + the find (+ ``suffix``) with ``checked_sums``, or ``plain_find`` (else the find as written)
        if a bigint sum overflows; returns the rows found."""
        with self.planned(conn):
            try:
                with conn.transaction():  # a savepoint: an overflow of the bigint sums leaves the transaction usable
                    cur = conn.execute(create + checked_sums(self.find) + suffix)
            except psycopg.errors.NumericValueOutOfRange:
                cur = conn.execute(create + (self.plain_find or self.find) + suffix)
        return max(cur.rowcount, 0)

    @contextmanager
    def planned(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """The block runs under ``planner`` (SET LOCAL); after it, each setting has its value from before again. (An
        error inside ends the transaction, and the SET LOCALs with it.)"""
        saved = [_set_local(conn, name, value) for name, value in self.planner]
        yield
        for name, value in saved:
            _set_local(conn, name, value)

    def changed_since_find(self, conn: psycopg.Connection[Any]) -> bool:
        """Whether a row ``find`` put in ``repair_found`` was written (or was missing) since: ``recheck``."""
        if self.recheck is None:
            return False
        row = conn.execute(self.recheck.any_changed).fetchone()
        return bool(row and row[0])


_IMPACT_SUM = re.compile(r"\bsum\(((?:\w+\.)?impact_score)\)::numeric")
_COUNT_SUM = re.compile(r"\bsum\(((?:\w+\.)?(?:views_count|likes_count))\)::numeric")


@functools.cache
def checked_sums(query: LiteralString) -> LiteralString:
    """``query`` with its sums of a video's counts and Impact taken by ``sum_checked`` (sql/0019): counts as bigint,
    Impact (two decimals) as whole cents. The same values, in about half the time over millions of groups; raises
    numeric_value_out_of_range where a sum exceeds a bigint, and the caller runs ``query`` itself then."""
    narrowed = _IMPACT_SUM.sub(r"(sum_checked((\1 * 100)::bigint) * 0.01)", query)
    return _COUNT_SUM.sub(r"sum_checked(\1)::numeric", narrowed)


def _set_local(conn: psycopg.Connection[Any], name: str, value: str) -> tuple[str, str]:
    """SET LOCAL ``name`` to ``value``; returns (``name``, the value it had)."""
    row = conn.execute("SELECT current_setting(%s), set_config(%s, %s, true)", (name, name, value)).fetchone()
    assert row is not None
    return name, str(row[0])


def _set_step_locals(
    conn: psycopg.Connection[Any], work_mem_mb: int, statement_timeout_ms: int, parallel: bool
) -> None:
    if not parallel:
        # two steps already run at once on the two cores: a parallel plan's extra processes add their own work (partial
        # aggregates merged again, tuples passed through Gather) and take CPU from the other step (README benchmarks)
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(f"{int(work_mem_mb)}MB")))
    conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(f"{int(statement_timeout_ms)}ms")))
    # no JIT: these plans run once per run, and compiling them cost more than it saved (one A/B of the hashtag
    # grouping at a million videos: 3.8 s with JIT, 2.7 s without, on a loaded machine)
    conn.execute("SET LOCAL jit = off")


# Above this many rows found, a step with a ``recheck`` writes them in transactions of this many, each holding ingest
# off for itself only (REPAIR_WRITE_BATCH_ROWS): after a weights change at a million videos the hashtags step rewrites
# 1.6M pair rows, which as one statement held ingest off for about a minute; in batches of 10,000 each holds it off
# 0.5 s (median; 2.1 s at most), and the backfill's refresh of all totals took 149 s instead of 102 s (README).
DEFAULT_REPAIR_WRITE_BATCH_ROWS = 10_000
# The session table a batched step's find fills, read batch by batch; and how many finds a step makes in batches
# before it writes what is left as one (a find again after a pass whose batches skipped rows a chunk wrote).
PENDING_TABLE = "repair_pending"
_BATCHED_FINDS = 3


def run_step(
    conn: psycopg.Connection[Any],
    step: RepairStep,
    *,
    lock_timeout_ms: int,
    work_mem_mb: int = DEFAULT_REPAIR_WORK_MEM_MB,
    statement_timeout_ms: int = DEFAULT_REPAIR_STATEMENT_TIMEOUT_MS,
    parallel: bool = True,
    write_batch_rows: int = DEFAULT_REPAIR_WRITE_BATCH_ROWS,
    then: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Run one step on an autocommit connection; returns the rows written, per family (``RepairStep.families``).

    A step takes ingest's locks only when its ``find`` found drift (:meth:`RepairStep.run`), and finds once
    unless ingest wrote a found row meanwhile. A step with a ``recheck`` that finds more than ``write_batch_rows``
    rows writes them in transactions of that many, each taking ingest's locks for its own write only: a batch first
    drops the rows a chunk wrote since the find (``Recheck.discard_changed``: a row not written since still holds
    its recomputation, as in :meth:`RepairStep.run`), and those are found again, without locks, after the last
    batch. What is left — a few rows — is written in one transaction, as by :meth:`RepairStep.run`. ``then`` (a
    checkpoint) is called with the rows written (all families), inside the transaction that ends the step.
    """

    def step_locals() -> None:
        _set_step_locals(conn, work_mem_mb, statement_timeout_ms, parallel)

    if step.recheck is None:
        with conn.transaction():
            once = step.run(
                conn,
                lock_timeout_ms=lock_timeout_ms,
                work_mem_mb=work_mem_mb,
                statement_timeout_ms=statement_timeout_ms,
                parallel=parallel,
            )
            if then is not None:
                then(once.total())
            return once
    batch = max(int(write_batch_rows), 1)
    written: Counter[str] = Counter()
    pending: int | None = None  # rows in repair_pending still to write; None: find again (under the locks if need be)
    try:
        for _ in range(_BATCHED_FINDS):
            with conn.transaction():
                step_locals()
                conn.execute("DROP TABLE IF EXISTS " + PENDING_TABLE)
                pending = step.collect(conn, _PENDING, ") f")
            if pending <= batch:
                break
            conn.execute("CREATE INDEX ON " + PENDING_TABLE + " (repair_row)")
            skipped = 0
            for first in range(0, pending, batch):
                with conn.transaction():
                    step_locals()
                    lock_out_ingest(conn, lock_timeout_ms)
                    conn.execute(_FOUND_BATCH, {"first": first, "last": first + batch})
                    skipped += max(conn.execute(step.recheck.discard_changed).rowcount, 0)
                    conn.execute("ANALYZE " + FOUND_TABLE)
                    written.update(step.write(conn))
            if skipped == 0:
                pending = 0
                break
            pending = None
        with conn.transaction():
            if pending is None:  # still more than a batch after the last find: as one, finding again
                written.update(
                    step.run(
                        conn,
                        lock_timeout_ms=lock_timeout_ms,
                        work_mem_mb=work_mem_mb,
                        statement_timeout_ms=statement_timeout_ms,
                        parallel=parallel,
                    )
                )
            elif pending:  # a few: written as RepairStep.run writes, from the rows already found
                step_locals()
                conn.execute("CREATE TEMPORARY TABLE " + FOUND_TABLE + " ON COMMIT DROP AS TABLE " + PENDING_TABLE)
                conn.execute("ANALYZE " + FOUND_TABLE)
                written.update(step.write_found(conn, lock_timeout_ms))
            if then is not None:
                then(written.total())
            return written
    finally:
        if not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            conn.execute("DROP TABLE IF EXISTS " + PENDING_TABLE)


# A batched step's find, its rows numbered (the write statements ignore the extra column), and one batch of it.
_PENDING: LiteralString = (
    "CREATE TEMPORARY TABLE repair_pending AS SELECT f.*, row_number() OVER () AS repair_row FROM ("
)
_FOUND_BATCH: LiteralString = (
    "CREATE TEMPORARY TABLE repair_found ON COMMIT DROP AS SELECT * FROM repair_pending"
    " WHERE repair_row > %(first)s AND repair_row <= %(last)s"
)


def lock_out_ingest(conn: psycopg.Connection[Any], lock_timeout_ms: int) -> None:
    """Wait for in-flight ingest chunks and hold off new ones until the caller's transaction ends."""
    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_ms)}ms")))
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, b) FROM generate_series(0, %s) AS b ORDER BY b",
        (VIDEO_LOCK_CLASS, VIDEO_LOCK_BUCKETS - 1),
    )


# ---------------------------------------------------------------------------------------------------- facts
# The tables holding copies of a video's sort keys, and the copied columns of each (the sound facts have no platform).
_COPIED = ("platform", "creator_id", "views_count", "likes_count", "impact_score", "created_at")
_FACT_COPY_TABLES: dict[str, tuple[str, ...]] = {
    "video_hashtag_facts": _COPIED,
    "video_sound_facts": _COPIED[1:],
    "community_video_memberships": _COPIED,
}


def _fact_copy_step(name: str, tables: Sequence[str]) -> RepairStep:
    """The repair step of the copies in ``tables``: their rows are appended and probe one hash of videos_hot (one
    UPDATE … FROM join per table would build that hash once per table; a merge join over the primary keys was faster
    only while videos_hot's heap is in key order, as the bench loads it: 1.0 against 1.7 s for the memberships at a
    million videos, but 2.6 against 1.8 s with its rows in random order); the videos found are then rewritten through
    the tables' primary keys, which all lead with video_id. The write compares each row with its video again, under
    ingest's locks: no recheck. The videos found are share-locked first, in key order, by a statement of their own: a
    rescore (a backfill batch, another reconcile) holds ingest's locks in no bucket, and a write that waited for its
    copies inside its own statement would copy back the score from before it."""

    def copied(alias: str, columns: Sequence[str]) -> sql.Composed:
        return sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(c)) for c in columns)

    branches = sql.SQL("\n    UNION ALL\n    ").join(
        sql.SQL("SELECT video_id, {} FROM {}").format(
            sql.SQL(", ").join(
                sql.Identifier(c) if c in _FACT_COPY_TABLES[t] else sql.SQL("NULL::text AS platform")  # the video's
                for c in _COPIED
            ),
            sql.Identifier(t),
        )
        for t in tables
    )
    find = sql.SQL(
        "SELECT DISTINCT f.video_id\nFROM (\n    {}\n) f\nJOIN videos_hot v ON v.video_id = f.video_id\n"
        "WHERE (coalesce(f.platform, v.platform), {f_rest}) IS DISTINCT FROM ({v_all})"
    ).format(branches, f_rest=copied("f", _COPIED[1:]), v_all=copied("v", _COPIED))
    updates = sql.SQL(", ").join(
        sql.SQL(
            "{cte} AS (\n    UPDATE {table} f SET {sets}\n    FROM videos_hot v\n"
            "    WHERE f.video_id = ANY (ARRAY(SELECT video_id FROM repair_found)) AND v.video_id = f.video_id\n"
            "      AND ({f}) IS DISTINCT FROM ({v})\n    RETURNING 1\n)"
        ).format(
            cte=sql.Identifier(f"copies_{i}"),
            table=sql.Identifier(t),
            sets=sql.SQL(", ").join(sql.SQL("{0} = v.{0}").format(sql.Identifier(c)) for c in _FACT_COPY_TABLES[t]),
            f=copied("f", _FACT_COPY_TABLES[t]),
            v=copied("v", _FACT_COPY_TABLES[t]),
        )
        for i, t in enumerate(tables)
    )
    write = sql.SQL("WITH {}\nSELECT {}").format(
        updates,
        sql.SQL(" + ").join(
            sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(f"copies_{i}")) for i in range(len(tables))
        ),
    )
    lock = "SELECT 1 FROM videos_hot WHERE video_id IN (SELECT video_id FROM repair_found) ORDER BY video_id FOR SHARE"
    return RepairStep(name, "video_facts", write.as_string(), find.as_string(), lock=lock)


# ---------------------------------------------------------------------------------------------- memberships
# Missing rows (wanted) and orphans (not wanted), found by one FULL JOIN of the recomputation with the table. A video
# carrying two of a community's hashtags comes twice out of the facts: the DISTINCT is taken on the few rows found,
# not on the million wanted ones (1.9 s -> 1.2 s at a million videos, README).
COMMUNITY_VIDEO_MEMBERSHIPS_FIND: LiteralString = """
SELECT DISTINCT community_id, video_id, e.video_id IS NOT NULL AS wanted
FROM (
    SELECT c.community_id, f.video_id
    FROM (SELECT id AS community_id, unnest(linked_hashtags) AS hashtag FROM communities) c
    JOIN video_hashtag_facts f ON f.hashtag = c.hashtag
) e
FULL JOIN community_video_memberships m USING (community_id, video_id)
WHERE e.video_id IS NULL OR m.video_id IS NULL
"""

# The write decides again, under ingest's locks, whether each found (community, video) is wanted (through the facts'
# primary key): a chunk may have changed the video's hashtags since the find.
COMMUNITY_VIDEO_MEMBERSHIPS: LiteralString = """
WITH k AS MATERIALIZED (
    SELECT d.community_id, d.video_id,
           EXISTS (SELECT 1 FROM communities c JOIN video_hashtag_facts f ON f.hashtag = ANY (c.linked_hashtags)
                   WHERE c.id = d.community_id AND f.video_id = d.video_id) AS wanted
    FROM repair_found d
), gone AS (
    DELETE FROM community_video_memberships m USING k
    WHERE NOT k.wanted AND m.community_id = k.community_id AND m.video_id = k.video_id
    RETURNING 1
), made AS (
    INSERT INTO community_video_memberships (community_id, video_id, platform, creator_id, views_count, likes_count,
                                             impact_score, created_at)
    SELECT k.community_id, k.video_id, v.platform, v.creator_id, v.views_count, v.likes_count, v.impact_score,
           v.created_at
    FROM k JOIN videos_hot v USING (video_id)
    WHERE k.wanted
    ORDER BY k.community_id, k.video_id
    ON CONFLICT (community_id, video_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM made)
"""

# ----------------------------------------------------------------------------------------- entity totals
CREATORS_FIND: LiteralString = """
SELECT a.creator_id, a.xmin AS stored_xmin, coalesce(g.n, 0) AS videos_count, coalesce(g.likes, 0) AS likes_total,
       coalesce(g.views, 0) AS total_play_count, coalesce(g.impact, 0) AS total_impact_score
FROM creators_hot a
LEFT JOIN (
    SELECT creator_id, count(*)::bigint AS n, sum(likes_count)::numeric AS likes,
           sum(views_count)::numeric AS views, sum(impact_score)::numeric AS impact
    FROM videos_hot WHERE creator_id IS NOT NULL GROUP BY creator_id
) g USING (creator_id)
WHERE (a.videos_count, a.likes_total, a.total_play_count, a.total_impact_score)
      IS DISTINCT FROM (coalesce(g.n, 0), coalesce(g.likes, 0), coalesce(g.views, 0), coalesce(g.impact, 0))
"""

CREATORS: LiteralString = """
UPDATE creators_hot c
SET videos_count = e.videos_count, likes_total = e.likes_total, total_play_count = e.total_play_count,
    total_impact_score = e.total_impact_score, updated_at = now()
FROM repair_found e
WHERE c.creator_id = e.creator_id
"""

SOUNDS_FIND: LiteralString = """
SELECT a.sound_id, a.xmin AS stored_xmin, coalesce(g.n, 0) AS videos_count, coalesce(g.views, 0) AS views_total,
       coalesce(g.likes, 0) AS likes_total, coalesce(g.impact, 0) AS total_impact_score, g.last_used_at
FROM sounds_hot a
LEFT JOIN (
    SELECT sound_id, count(*)::bigint AS n, sum(views_count)::numeric AS views, sum(likes_count)::numeric AS likes,
           sum(impact_score)::numeric AS impact, max(created_at) AS last_used_at
    FROM video_sound_facts GROUP BY sound_id
) g USING (sound_id)
WHERE (a.videos_count, a.views_total, a.likes_total, a.total_impact_score, a.last_used_at)
      IS DISTINCT FROM (coalesce(g.n, 0), coalesce(g.views, 0), coalesce(g.likes, 0), coalesce(g.impact, 0),
                        g.last_used_at)
"""

SOUNDS: LiteralString = """
UPDATE sounds_hot s
SET videos_count = e.videos_count, views_total = e.views_total, likes_total = e.likes_total,
    total_impact_score = e.total_impact_score, last_used_at = e.last_used_at, updated_at = now()
FROM repair_found e
WHERE s.sound_id = e.sound_id
"""


# The pair tables (per (sound, creator), (community, creator), (community, hashtag)): the differing, missing and
# orphaned rows (video_count NULL: orphan) found by one FULL JOIN of the recomputation with the table, then deleted or
# upserted. One shape for the three, built by _pair_step from each table's recomputation.
def _pair_step(
    table: str,
    family: str,
    keys: tuple[str, str],
    values: Sequence[str],
    expected: LiteralString | sql.Composable,
    plain_expected: LiteralString | None = None,
) -> RepairStep:
    """The repair step, named as the table, of a pair table keyed by ``keys`` holding ``values`` (``video_count``
    among them; NULL in a found row marks an orphan), compared with ``expected``: a grouping that yields the keys and
    the values under their column names (``plain_expected``: the same with plain sums, for ``RepairStep.plain_find``,
    where ``expected`` is written with ``sum_checked`` itself)."""
    key = [sql.Identifier(k) for k in keys]
    value = [sql.Identifier(v) for v in values]

    def columns(alias: str, names: list[sql.Identifier]) -> sql.Composed:
        return sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(alias), n) for n in names)

    def find(expected: LiteralString | sql.Composable) -> str:
        return (
            sql.SQL(
                "SELECT {keys}, a.xmin AS stored_xmin, {e}\nFROM ({expected}) e\nFULL JOIN {table} a USING ({keys})\n"
                "WHERE ({a}) IS DISTINCT FROM ({e})"
            )
            .format(
                keys=sql.SQL(", ").join(key),
                e=columns("e", value),
                a=columns("a", value),
                expected=sql.SQL(expected) if isinstance(expected, str) else expected,
                table=sql.Identifier(table),
            )
            .as_string()
        )

    write = sql.SQL(
        "WITH gone AS (\n"
        "    DELETE FROM {table} a USING repair_found d\n"
        "    WHERE d.video_count IS NULL AND ({a_keys}) = ({d_keys})\n"
        "    RETURNING 1\n"
        "), made AS (\n"
        "    INSERT INTO {table} AS a ({keys}, {values})\n"
        "    SELECT {d_keys}, {d_values} FROM repair_found d WHERE d.video_count IS NOT NULL\n"
        "    ORDER BY {d_keys}\n"
        "    ON CONFLICT ({keys}) DO UPDATE SET {updates}\n"
        "    RETURNING 1\n"
        ")\n"
        "SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM made)"
    ).format(
        table=sql.Identifier(table),
        keys=sql.SQL(", ").join(key),
        values=sql.SQL(", ").join(value),
        a_keys=columns("a", key),
        d_keys=columns("d", key),
        d_values=columns("d", value),
        updates=sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(v) for v in value),
    )
    on = sql.SQL(" AND ").join(sql.SQL("a.{0} = f.{0}").format(k) for k in key)
    return RepairStep(
        table,
        family,
        write.as_string(),
        find(expected),
        _recheck((table, on, "true")),
        plain_find=find(plain_expected) if plain_expected is not None else None,
    )


def _creator_pair_step(table: str, family: str, parent: str, source: str) -> RepairStep:
    """The step of a (``parent``, creator) pair table holding each pair's videos, views, likes and Impact, compared
    with a grouping of ``source`` (a fact table with one row per (parent, video) and the video's copied counts)."""
    expected = sql.SQL(
        "SELECT {parent}, creator_id, count(*)::bigint AS video_count, sum(views_count)::numeric AS total_views,"
        " sum(likes_count)::numeric AS total_likes, sum(impact_score)::numeric AS total_impact_score"
        " FROM {source} WHERE creator_id IS NOT NULL GROUP BY {parent}, creator_id"
    ).format(parent=sql.Identifier(parent), source=sql.Identifier(source))
    return _pair_step(
        table,
        family,
        (parent, "creator_id"),
        ("video_count", "total_views", "total_likes", "total_impact_score"),
        expected,
    )


# Every hashtag-derived table from one grouping of the facts, by (hashtag, creator):
# - the pairs, compared with hashtag_creator_counts, and which platforms each pair spans;
# - the per-platform counts and sums: one pass over each hashtag's pairs (they come in hashtag order; FILTERed
#   aggregates, no regrouping by span: 0.72 -> 0.30 s at a million videos) adds a pair on one platform to that
#   platform; the facts of a pair on both (rare) are grouped again by (hashtag, platform). Exact whatever creators
#   span, without a second grouping of all the facts (it took 1.2 s at a million videos);
# - a platform's creators_count is the number of pairs with a video on it, and a hashtag's the number of pairs: no
#   count(DISTINCT …) over millions of facts (PERF_NOTES "Aggregates");
# - the hashtag totals are the sum of its (at most two) platform rows.
# The pairs keep their sums as they come ({sum}: bigint with sum_checked, Impact in whole cents) and are converted to
# numeric only where compared: converting 1.5M pairs' sums first cost more than the grouping's arithmetic.
# With enough work_mem the grouping stays in memory (README benchmarks). Platform rows are kept at zero when a platform
# has no videos left, as the ingest path does; pair rows exist only while their count is positive.
_HASHTAG_TOTALS_FIND = """
WITH g AS MATERIALIZED (
    SELECT hashtag, creator_id, count(*)::bigint AS n, {sum}(views_count) AS views, {sum}(likes_count) AS likes,
           {sum}({cents}) AS cents, bool_or(platform = 'tiktok') AS on_tiktok,
           bool_or(platform = 'youtube') AS on_youtube
    FROM video_hashtag_facts
    GROUP BY hashtag, creator_id
), k AS MATERIALIZED (  -- per hashtag, one pass over its pairs as they come (in hashtag order): its creators, those
    --                        with a video on each platform, and the sums of its pairs that are on one platform only
    SELECT hashtag, count(creator_id)::bigint AS creators,
           count(creator_id) FILTER (WHERE on_tiktok)::bigint AS on_tiktok,
           count(creator_id) FILTER (WHERE on_youtube)::bigint AS on_youtube,
           {sum}(n) FILTER (WHERE NOT on_youtube) AS tiktok_n, {sum}(views) FILTER (WHERE NOT on_youtube) AS tiktok_views,
           {sum}(likes) FILTER (WHERE NOT on_youtube) AS tiktok_likes,
           {sum}(cents) FILTER (WHERE NOT on_youtube) AS tiktok_cents,
           {sum}(n) FILTER (WHERE NOT on_tiktok) AS youtube_n, {sum}(views) FILTER (WHERE NOT on_tiktok) AS youtube_views,
           {sum}(likes) FILTER (WHERE NOT on_tiktok) AS youtube_likes,
           {sum}(cents) FILTER (WHERE NOT on_tiktok) AS youtube_cents
    FROM g GROUP BY hashtag
), p AS MATERIALIZED (
    SELECT s.hashtag, s.platform, s.n, CASE s.platform WHEN 'tiktok' THEN k.on_tiktok ELSE k.on_youtube END AS creators,
           s.views::numeric AS views, s.likes::numeric AS likes, s.cents * 0.01 AS impact
    FROM (
        SELECT hashtag, platform, {sum}(n)::bigint AS n, {sum}(views) AS views, {sum}(likes) AS likes, {sum}(cents) AS cents
        FROM (
            SELECT hashtag, 'tiktok' AS platform, tiktok_n AS n, tiktok_views AS views, tiktok_likes AS likes,
                   tiktok_cents AS cents
            FROM k WHERE tiktok_n > 0  -- sum_checked over no rows is 0, sum() NULL
            UNION ALL
            SELECT hashtag, 'youtube', youtube_n, youtube_views, youtube_likes, youtube_cents
            FROM k WHERE youtube_n > 0
            UNION ALL
            SELECT hashtag, platform, count(*)::bigint, {sum}(views_count), {sum}(likes_count), {sum}({cents})
            FROM video_hashtag_facts f
            WHERE EXISTS (SELECT FROM g m WHERE m.on_tiktok AND m.on_youtube AND m.hashtag = f.hashtag
                            AND m.creator_id IS NOT DISTINCT FROM f.creator_id)
            GROUP BY hashtag, platform
        ) u
        GROUP BY hashtag, platform
    ) s
    JOIN k USING (hashtag)
)
SELECT 'pair' AS kind, hashtag, creator_id AS key, a.xmin AS stored_xmin, e.n AS videos, NULL::bigint AS creators,
       e.views, e.likes, e.impact
FROM (SELECT hashtag, creator_id, n, views::numeric AS views, likes::numeric AS likes, cents * 0.01 AS impact
      FROM g WHERE creator_id IS NOT NULL) e
FULL JOIN hashtag_creator_counts a USING (hashtag, creator_id)
WHERE (a.video_count, a.total_views, a.total_likes, a.total_impact_score) IS DISTINCT FROM (e.n, e.views, e.likes, e.impact)
UNION ALL
SELECT 'platform', hashtag, platform, a.xmin, coalesce(e.n, 0), coalesce(e.creators, 0), coalesce(e.views, 0),
       coalesce(e.likes, 0), coalesce(e.impact, 0)
FROM p e FULL JOIN hashtag_platform_totals a USING (hashtag, platform)
WHERE (a.videos_count, a.creators_count, a.views_total, a.likes_total, a.total_impact_score)
      IS DISTINCT FROM (coalesce(e.n, 0), coalesce(e.creators, 0), coalesce(e.views, 0), coalesce(e.likes, 0),
                        coalesce(e.impact, 0))
UNION ALL
SELECT 'hashtag', a.hashtag, NULL, a.xmin, coalesce(t.n, 0), coalesce(k.creators, 0), coalesce(t.views, 0),
       coalesce(t.likes, 0), coalesce(t.impact, 0)
FROM hashtags_hot a
LEFT JOIN (SELECT hashtag, sum(n)::bigint AS n, sum(views)::numeric AS views, sum(likes)::numeric AS likes,
                  sum(impact)::numeric AS impact
           FROM p GROUP BY hashtag) t USING (hashtag)
LEFT JOIN k USING (hashtag)
WHERE (a.videos_count, a.creators_count, a.views_total, a.likes_total, a.total_impact_score)
      IS DISTINCT FROM (coalesce(t.n, 0), coalesce(k.creators, 0), coalesce(t.views, 0), coalesce(t.likes, 0),
                        coalesce(t.impact, 0))
"""
HASHTAG_TOTALS_FIND: LiteralString = _HASHTAG_TOTALS_FIND.format(
    sum="sum_checked", cents="(impact_score * 100)::bigint"
)
HASHTAG_TOTALS_PLAIN_FIND: LiteralString = _HASHTAG_TOTALS_FIND.format(sum="sum", cents="impact_score * 100")

HASHTAG_TOTALS: LiteralString = """
WITH pairs_gone AS (
    DELETE FROM hashtag_creator_counts a USING repair_found d
    WHERE d.kind = 'pair' AND d.videos IS NULL AND a.hashtag = d.hashtag AND a.creator_id = d.key
    RETURNING 1
), pairs_made AS (
    INSERT INTO hashtag_creator_counts AS a (hashtag, creator_id, video_count, total_views, total_likes,
                                             total_impact_score)
    SELECT hashtag, key, videos, views, likes, impact FROM repair_found WHERE kind = 'pair' AND videos IS NOT NULL
    ORDER BY hashtag, key
    ON CONFLICT (hashtag, creator_id) DO UPDATE SET
        video_count = excluded.video_count, total_views = excluded.total_views, total_likes = excluded.total_likes,
        total_impact_score = excluded.total_impact_score
    RETURNING 1
), platforms AS (
    INSERT INTO hashtag_platform_totals AS a (hashtag, platform, videos_count, creators_count, views_total,
                                              likes_total, total_impact_score)
    SELECT hashtag, key, videos, creators, views, likes, impact FROM repair_found WHERE kind = 'platform'
    ORDER BY hashtag, key
    ON CONFLICT (hashtag, platform) DO UPDATE SET
        videos_count = excluded.videos_count, creators_count = excluded.creators_count,
        views_total = excluded.views_total, likes_total = excluded.likes_total,
        total_impact_score = excluded.total_impact_score
    RETURNING 1
), hashtags AS (
    UPDATE hashtags_hot x
    SET videos_count = d.videos, creators_count = d.creators, views_total = d.views, likes_total = d.likes,
        total_impact_score = d.impact, updated_at = now()
    FROM repair_found d WHERE d.kind = 'hashtag' AND x.hashtag = d.hashtag
    RETURNING 1
)
SELECT (SELECT count(*) FROM pairs_gone) + (SELECT count(*) FROM pairs_made) + (SELECT count(*) FROM platforms)
     + (SELECT count(*) FROM hashtags)
"""


# Every community total from one grouping of the memberships, by (community, creator):
# - the (community, creator) memberships, compared with community_creator_memberships;
# - per community, one pass over those groups: its totals, its creators (the groups with a creator) and the part of
#   each sum on YouTube (FILTERed per group: a creator with videos on both platforms counts on each), from which both
#   per-platform rows follow, with their creators (the groups with a video on that platform);
# - the community rows, compared with communities.
# One grouping of the 1.3M memberships at a million videos where three steps each grouped them (1.9 s -> 1.1 s,
# README benchmarks). {sum} and {cents} as in the hashtags find. Platform rows are kept at zero when a community has no
# videos left on a platform, as the ingest path does; membership rows exist only while their count is positive.
_COMMUNITY_TOTALS_FIND = """
WITH g AS MATERIALIZED (
    SELECT community_id, creator_id, count(*)::bigint AS n, {sum}(views_count) AS views, {sum}(likes_count) AS likes,
           {sum}({cents}) AS cents, count(*) FILTER (WHERE platform = 'youtube')::bigint AS yt_n,
           coalesce({sum}(views_count) FILTER (WHERE platform = 'youtube'), 0) AS yt_views,
           coalesce({sum}(likes_count) FILTER (WHERE platform = 'youtube'), 0) AS yt_likes,
           coalesce({sum}({cents}) FILTER (WHERE platform = 'youtube'), 0) AS yt_cents
    FROM community_video_memberships
    GROUP BY community_id, creator_id
), c AS MATERIALIZED (
    SELECT community_id, {sum}(n)::bigint AS n, {sum}(views) AS views, {sum}(likes) AS likes, {sum}(cents) AS cents,
           count(creator_id)::bigint AS creators, {sum}(yt_n)::bigint AS yt_n, {sum}(yt_views) AS yt_views,
           {sum}(yt_likes) AS yt_likes, {sum}(yt_cents) AS yt_cents,
           count(creator_id) FILTER (WHERE n > yt_n)::bigint AS tiktok_creators,
           count(creator_id) FILTER (WHERE yt_n > 0)::bigint AS youtube_creators
    FROM g GROUP BY community_id
), p AS (
    SELECT community_id, 'tiktok' AS platform, n - yt_n AS n, tiktok_creators AS creators, views - yt_views AS views,
           likes - yt_likes AS likes, cents - yt_cents AS cents
    FROM c WHERE n > yt_n
    UNION ALL
    SELECT community_id, 'youtube', yt_n, youtube_creators, yt_views, yt_likes, yt_cents FROM c WHERE yt_n > 0
)
SELECT 'pair' AS kind, community_id, creator_id AS key, a.xmin AS stored_xmin, e.n AS videos, NULL::bigint AS creators,
       e.views, e.likes, e.impact
FROM (SELECT community_id, creator_id, n, views::numeric AS views, likes::numeric AS likes, cents * 0.01 AS impact
      FROM g WHERE creator_id IS NOT NULL) e
FULL JOIN community_creator_memberships a USING (community_id, creator_id)
WHERE (a.video_count, a.total_views, a.total_likes, a.total_impact_score) IS DISTINCT FROM (e.n, e.views, e.likes, e.impact)
UNION ALL
SELECT 'platform', community_id, platform, a.xmin, coalesce(e.n, 0), coalesce(e.creators, 0), coalesce(e.views, 0),
       coalesce(e.likes, 0), coalesce(e.impact, 0)
FROM (SELECT community_id, platform, n, creators, views::numeric AS views, likes::numeric AS likes,
             cents * 0.01 AS impact
      FROM p) e
FULL JOIN community_platform_totals a USING (community_id, platform)
WHERE (a.total_videos, a.total_creators, a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (coalesce(e.n, 0), coalesce(e.creators, 0), coalesce(e.views, 0), coalesce(e.likes, 0),
                        coalesce(e.impact, 0))
UNION ALL
SELECT 'community', a.id, NULL, a.xmin, coalesce(c.n, 0), coalesce(c.creators, 0), coalesce(c.views::numeric, 0),
       coalesce(c.likes::numeric, 0), coalesce(c.cents * 0.01, 0)
FROM communities a LEFT JOIN c ON c.community_id = a.id
WHERE (a.total_videos, a.total_creators, a.total_views, a.total_likes, a.total_impact_score)
      IS DISTINCT FROM (coalesce(c.n, 0), coalesce(c.creators, 0), coalesce(c.views::numeric, 0),
                        coalesce(c.likes::numeric, 0), coalesce(c.cents * 0.01, 0))
"""
COMMUNITY_TOTALS_FIND: LiteralString = _COMMUNITY_TOTALS_FIND.format(
    sum="sum_checked", cents="(impact_score * 100)::bigint"
)
COMMUNITY_TOTALS_PLAIN_FIND: LiteralString = _COMMUNITY_TOTALS_FIND.format(sum="sum", cents="impact_score * 100")

# Counts the memberships' rows and the community and platform rows apart: they are reported under two families.
COMMUNITY_TOTALS: LiteralString = """
WITH pairs_gone AS (
    DELETE FROM community_creator_memberships a USING repair_found d
    WHERE d.kind = 'pair' AND d.videos IS NULL AND a.community_id = d.community_id AND a.creator_id = d.key
    RETURNING 1
), pairs_made AS (
    INSERT INTO community_creator_memberships AS a (community_id, creator_id, video_count, total_views, total_likes,
                                                    total_impact_score)
    SELECT community_id, key, videos, views, likes, impact FROM repair_found WHERE kind = 'pair' AND videos IS NOT NULL
    ORDER BY community_id, key
    ON CONFLICT (community_id, creator_id) DO UPDATE SET
        video_count = excluded.video_count, total_views = excluded.total_views, total_likes = excluded.total_likes,
        total_impact_score = excluded.total_impact_score
    RETURNING 1
), platforms AS (
    INSERT INTO community_platform_totals AS a (community_id, platform, total_videos, total_views, total_likes,
                                                total_creators, total_impact_score)
    SELECT community_id, key, videos, views, likes, creators, impact FROM repair_found WHERE kind = 'platform'
    ORDER BY community_id, key
    ON CONFLICT (community_id, platform) DO UPDATE SET
        total_videos = excluded.total_videos, total_views = excluded.total_views, total_likes = excluded.total_likes,
        total_creators = excluded.total_creators, total_impact_score = excluded.total_impact_score
    RETURNING 1
), communities AS (
    UPDATE communities x
    SET total_videos = d.videos, total_views = d.views, total_likes = d.likes, total_creators = d.creators,
        total_impact_score = d.impact, updated_at = now()
    FROM repair_found d WHERE d.kind = 'community' AND x.id = d.community_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM pairs_gone) + (SELECT count(*) FROM pairs_made),
       (SELECT count(*) FROM platforms) + (SELECT count(*) FROM communities)
"""


CREATORS_RECHECK = _recheck(("creators_hot", sql.SQL("a.creator_id = f.creator_id"), "true"))
COMMUNITY_TOTALS_RECHECK = _recheck(
    (
        "community_creator_memberships",
        sql.SQL("(a.community_id, a.creator_id) = (f.community_id, f.key)"),
        "f.kind = 'pair'",
    ),
    (
        "community_platform_totals",
        sql.SQL("(a.community_id, a.platform) = (f.community_id, f.key)"),
        "f.kind = 'platform'",
    ),
    ("communities", sql.SQL("a.id = f.community_id"), "f.kind = 'community'"),
)
HASHTAG_TOTALS_RECHECK = _recheck(
    ("hashtag_creator_counts", sql.SQL("(a.hashtag, a.creator_id) = (f.hashtag, f.key)"), "f.kind = 'pair'"),
    ("hashtag_platform_totals", sql.SQL("(a.hashtag, a.platform) = (f.hashtag, f.key)"), "f.kind = 'platform'"),
    ("hashtags_hot", sql.SQL("a.hashtag = f.hashtag"), "f.kind = 'hashtag'"),
)

# In dependency order: fact copies and memberships, then pair counts, then the totals computed from them. The fact
# copies and community videos have no recheck: their writes compare each found row with the base tables again.
REPAIR_STEPS: Sequence[RepairStep] = (
    _fact_copy_step("hashtag_and_sound_fact_copies", ["video_hashtag_facts", "video_sound_facts"]),
    # memberships follow the hashtags: they may run while the videos are rescored (a membership it adds copies the
    # score of the moment; the copies' step after it, which waits for the scores, puts any rescored one right)
    RepairStep(
        "community_video_memberships",
        "communities",
        COMMUNITY_VIDEO_MEMBERSHIPS,
        COMMUNITY_VIDEO_MEMBERSHIPS_FIND,
        reads_scores=False,
    ),
    _fact_copy_step("community_fact_copies", ["community_video_memberships"]),
    RepairStep("creators", "creators", CREATORS, CREATORS_FIND, CREATORS_RECHECK),
    RepairStep(
        "sounds", "sounds", SOUNDS, SOUNDS_FIND, _recheck(("sounds_hot", sql.SQL("a.sound_id = f.sound_id"), "true"))
    ),
    _creator_pair_step("sound_creator_counts", "sounds", "sound_id", "video_sound_facts"),
    RepairStep(
        "hashtags",
        "hashtags",
        HASHTAG_TOTALS,
        HASHTAG_TOTALS_FIND,
        HASHTAG_TOTALS_RECHECK,
        plain_find=HASHTAG_TOTALS_PLAIN_FIND,
        # sorted, not hashed: the facts come in (hashtag, creator) order from video_hashtag_facts_creator_idx (an
        # index-only scan), grouped as they come, and meet hashtag_creator_counts' primary key in a merge join. The
        # planner prices the two hash tables (1.5M pairs each at a million videos) lower, but beside the other lane
        # they made the step 8.6-8.9 s against 4.3-6.0 s sorted (README benchmarks).
        planner=(("enable_hashagg", "off"), ("enable_hashjoin", "off")),
    ),
    RepairStep(
        "community_totals",
        "communities",
        COMMUNITY_TOTALS,
        COMMUNITY_TOTALS_FIND,
        COMMUNITY_TOTALS_RECHECK,
        plain_find=COMMUNITY_TOTALS_PLAIN_FIND,
        families=("community_creators", "communities"),
    ),
    _pair_step(
        "community_hashtag_memberships",
        "community_hashtags",
        ("community_id", "hashtag"),
        ("video_count", "total_views", "total_impact_score"),
        # each membership's Impact in whole cents once, in the hash the facts probe (OFFSET 0 keeps the subquery, and
        # the cast, below the join), not once per joined row: 3 of them per membership (0.2-0.3 s at a million videos)
        """
        SELECT m.community_id, f.hashtag, count(*)::bigint AS video_count,
               sum_checked(m.views_count)::numeric AS total_views, sum_checked(m.cents) * 0.01 AS total_impact_score
        FROM (SELECT community_id, video_id, views_count, (impact_score * 100)::bigint AS cents
              FROM community_video_memberships OFFSET 0) m
        JOIN video_hashtag_facts f ON f.video_id = m.video_id
        GROUP BY m.community_id, f.hashtag""",
        """
        SELECT m.community_id, f.hashtag, count(*)::bigint AS video_count, sum(m.views_count)::numeric AS total_views,
               sum(m.impact_score)::numeric AS total_impact_score
        FROM community_video_memberships m JOIN video_hashtag_facts f ON f.video_id = m.video_id
        GROUP BY m.community_id, f.hashtag""",
    ),
)


# Reconcile may run the steps in two lanes, each on its own connection (reelrank.services.reconcile): the videos'
# rescoring, then the hashtag and sound facts' copies, the sounds, the (sound, creator) pairs and the hashtags step —
# the longest (3.8-6.4 s beside the other lane), which reads only the hashtag facts' copies — in the side lane; the
# creators and every community step, in REPAIR_STEPS order, in the main one, which starts at once with the memberships
# (they read no score) and waits for the rescoring before its next step (8-10 s each at a million videos, README
# benchmarks). No step of one lane
# writes what a step of the other reads: the main lane reads the hashtag facts' keys (hashtag, video_id), never their
# copies, and none of its steps reads the sound or hashtag tables or creators_hot; the creators step reads only
# videos_hot and creators_hot. Both lanes take ingest's 64 locks in the same order to write, so they never deadlock;
# one waits for the other's write at most (the rescoring takes none: it locks the videos it rescores, then their
# copies, and a membership the main lane deletes or adds makes it wait at most).
SIDE_LANE: frozenset[str] = frozenset({"hashtag_and_sound_fact_copies", "sounds", "sound_creator_counts", "hashtags"})


# What the backfill refreshes after rescoring: every total that sums impact. Fact copies were carried along by each
# batch (reelrank.db.impact_rescore), and community video memberships do not depend on scores. The hashtags step
# also compares the (hashtag, creator) pair counts (from the same pass over the facts; after a backfill it writes none).
TOTALS_STEPS: Sequence[RepairStep] = tuple(
    s for s in REPAIR_STEPS if s.family != "video_facts" and s.name != "community_video_memberships"
)


# ------------------------------------------------------------------------------- derived views and partitions
@dataclass(frozen=True, slots=True)
class MaterializedView:
    name: str
    populated: bool
    has_unique_index: bool


def list_materialized_views(conn: psycopg.Connection[Any]) -> list[MaterializedView]:
    """The schema's materialized views in creation order, and whether each can be refreshed CONCURRENTLY.

    CONCURRENTLY needs the view populated and a unique index on plain columns without a WHERE clause.
    """
    rows = conn.execute(
        """
        SELECT c.relname, c.relispopulated,
               EXISTS (SELECT 1 FROM pg_index i
                       WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                         AND i.indpred IS NULL AND i.indexprs IS NULL)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'm' AND n.nspname = current_schema()
        ORDER BY c.oid
        """
    ).fetchall()
    return [MaterializedView(str(r[0]), bool(r[1]), bool(r[2])) for r in rows]


def refresh_materialized_view(conn: psycopg.Connection[Any], view: MaterializedView) -> bool:
    """Refresh one view (CONCURRENTLY when it can: readers are not blocked); returns whether it was concurrent."""
    concurrently = view.populated and view.has_unique_index
    conn.execute(
        sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(
            sql.SQL("CONCURRENTLY ") if concurrently else sql.SQL(""), sql.Identifier(view.name)
        )
    )
    return concurrently


def drop_expired_snapshot_partitions(conn: psycopg.Connection[Any], retention_days: int) -> list[str]:
    """Drop the monthly snapshot partitions that end ``retention_days`` ago or earlier; returns their names."""
    rows = conn.execute(
        "SELECT drop_snapshot_partitions_before(now() - make_interval(days => %s))", (retention_days,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def create_snapshot_partitions(conn: psycopg.Connection[Any], months_ahead: int) -> int:
    """Create the monthly snapshot partitions from this month to ``months_ahead`` months on; returns how many."""
    row = conn.execute(
        "SELECT ensure_snapshot_partitions(now(), now() + make_interval(months => %s))", (months_ahead,)
    ).fetchone()
    return int(row[0]) if row else 0
