"""Read queries of the ranking API (DESIGN §5): keyset-paginated lists and detail rows.

Every list is one :class:`ListSpec`: a fixed SELECT/FROM and a whitelist of sorts, each a :class:`SortKey` whose
expression is a ``psycopg.sql`` fragment written here — never text from a request. A page is
``WHERE <filters> AND (sort value, id) < (last value, last id) ORDER BY sort value DESC, id DESC LIMIT n + 1``, an
index range scan in the order of one of the indexes of sql/0003, sql/0004 and sql/0012 (``tests/integration/
test_api_plans.py`` checks each with EXPLAIN), so page 500 costs what page 1 costs. Sorts whose column can be NULL
(``recent``, ``followers``) put NULLs last; a page that crosses from values into NULLs is a ``UNION ALL`` of the two
index ranges, each still index-ordered.

Lists keyed by one parent (a hashtag's, sound's, community's rows) run unprepared: a prepared statement switches to
a generic plan after five executions, which suits typical parents and not the 233,000-video hashtag (PERF_NOTES
"Reads").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, LiteralString

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

SortKind = Literal["int", "dec", "ts", "text"]
IdKind = Literal["text", "int"]

# A filter: a fragment with %s placeholders and its parameters, in order.
Filter = tuple[sql.Composable, tuple[Any, ...]]


@dataclass(frozen=True)
class SortKey:
    """One allowed sort of a list: the expression, its value type (for cursors), and its direction."""

    expr: sql.Composable
    kind: SortKind
    descending: bool = True
    nullable: bool = False  # NULLS LAST; only descending sorts are nullable


@dataclass(frozen=True)
class ListSpec:
    """One list of the API: what it selects, from where, its key column and its allowed sorts (first = default)."""

    name: str
    select: sql.Composable
    from_: sql.Composable
    id_expr: sql.Composable
    id_kind: IdKind
    sorts: dict[str, SortKey]
    skewed: bool = False  # keyed by a parent whose size varies by orders of magnitude: plan each execution
    parent: sql.Composable | None = None  # "f.hashtag = %s": the condition that picks the parent's rows
    # the column each filter applies to: platform (=), impact (>=, <=), time (>= cutoff), search (ILIKE)
    filters: dict[str, sql.Composable] = field(default_factory=dict)
    # nested creator lists: the pair table keyed (parent, creator_id), for sort=followers' walk (see fetch_page)
    pair_table: str | None = None

    @property
    def default_sort(self) -> str:
        return next(iter(self.sorts))


@dataclass(frozen=True)
class Keyset:
    """The last row of the previous page: its sort value and its id."""

    value: Any
    id: Any


@dataclass
class PageRows:
    """The rows of one page (at most ``limit``) and the keyset of the last one when more rows follow."""

    rows: list[dict[str, Any]]
    next_keyset: Keyset | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _sql(text: LiteralString) -> sql.SQL:
    return sql.SQL(text)  # only literals of this module: LiteralString makes mypy refuse anything else


_CREATOR_REF = _sql(
    "c.creator_id AS creator_id, c.username AS creator_username, c.display_name AS creator_display_name,"
    " c.avatar_url AS creator_avatar, c.verified AS creator_verified"
)
_VIDEO_COLUMNS = _sql(
    "v.video_id AS id, v.video_id AS post_id, v.platform, v.caption AS title, v.url, v.thumbnail_url AS thumbnail,"
    " v.duration_seconds AS duration, v.views_count AS views, v.likes_count AS likes,"
    " v.comments_count AS comments, v.shares_count AS shares, v.collect_count AS saves, v.impact_score AS impact,"
    " v.created_at, "
)
_VIDEO_HASHTAGS = _sql(
    ", ARRAY(SELECT hf.hashtag FROM video_hashtag_facts hf WHERE hf.video_id = v.video_id ORDER BY hf.hashtag)"
    " AS hashtags"
)
VIDEO_SELECT = sql.Composed([_VIDEO_COLUMNS, _CREATOR_REF, _VIDEO_HASHTAGS])


def _video_sorts(alias: str, *, likes: bool) -> dict[str, SortKey]:
    a = sql.Identifier(alias)
    sorts = {
        "views": SortKey(sql.SQL("{}.views_count").format(a), "int"),
        "impact": SortKey(sql.SQL("{}.impact_score").format(a), "dec"),
        "recent": SortKey(sql.SQL("{}.created_at").format(a), "ts", nullable=True),
    }
    if likes:
        sorts["likes"] = SortKey(sql.SQL("{}.likes_count").format(a), "int")
    return sorts


VIDEOS = ListSpec(
    name="videos",
    select=VIDEO_SELECT,
    from_=_sql("videos_hot v LEFT JOIN creators_hot c ON c.creator_id = v.creator_id"),
    id_expr=_sql("v.video_id"),
    id_kind="text",
    sorts=_video_sorts("v", likes=True),
    filters={
        "platform": _sql("v.platform"),
        "impact": _sql("v.impact_score"),
        "time": _sql("v.created_at"),
        "search": _sql("v.caption"),
    },
)


def _nested_videos(name: str, table: str, parent_column: str, platform: sql.Composable) -> ListSpec:
    # the facts carry copies of the video's sort keys (sql/0003): the order comes from the facts' own indexes
    return ListSpec(
        name=name,
        select=VIDEO_SELECT,
        from_=sql.SQL(
            "{} f JOIN videos_hot v ON v.video_id = f.video_id LEFT JOIN creators_hot c ON c.creator_id = v.creator_id"
        ).format(sql.Identifier(table)),
        id_expr=_sql("f.video_id"),
        id_kind="text",
        sorts=_video_sorts("f", likes=False),
        skewed=True,
        parent=sql.SQL("f.{} = %s").format(sql.Identifier(parent_column)),
        filters={
            "platform": platform,
            "impact": _sql("f.impact_score"),
            "time": _sql("f.created_at"),
            "search": _sql("v.caption"),
        },
    )


HASHTAG_VIDEOS = _nested_videos("hashtag_videos", "video_hashtag_facts", "hashtag", _sql("f.platform"))
SOUND_VIDEOS = _nested_videos("sound_videos", "video_sound_facts", "sound_id", _sql("v.platform"))
COMMUNITY_VIDEOS = _nested_videos("community_videos", "community_video_memberships", "community_id", _sql("f.platform"))
_CREATOR_SEARCH = _sql("(coalesce(c.username, '') || ' ' || coalesce(c.display_name, ''))")

_CREATOR_COLUMNS = _sql(
    "c.creator_id AS id, c.platform, c.username, c.display_name, c.avatar_url AS avatar, c.verified,"
    " c.followers_count AS followers"
)
CREATORS = ListSpec(
    name="creators",
    select=sql.Composed(
        [
            _CREATOR_COLUMNS,
            _sql(", c.videos_count AS videos, c.total_play_count AS views, c.likes_total AS likes,"),
            _sql(" c.total_impact_score AS impact"),
        ]
    ),
    from_=_sql("creators_hot c"),
    id_expr=_sql("c.creator_id"),
    id_kind="text",
    sorts={
        "views": SortKey(_sql("c.total_play_count"), "dec"),
        "impact": SortKey(_sql("c.total_impact_score"), "dec"),
        "likes": SortKey(_sql("c.likes_total"), "dec"),
        "followers": SortKey(_sql("c.followers_count"), "int", nullable=True),
        "videos": SortKey(_sql("c.videos_count"), "int"),
        "alphabetical": SortKey(_sql("lower(coalesce(c.username, c.display_name, c.creator_id))"), "text", False),
    },
    filters={"platform": _sql("c.platform"), "impact": _sql("c.total_impact_score"), "search": _CREATOR_SEARCH},
)


def _nested_creators(
    name: str, table: str, parent_column: str, *, likes: bool, hashtag_videos: bool = False
) -> ListSpec:
    """A parent's creators with their figures within it, from a pair table kept by ingest and reconcile (video_count,
    total_views, total_likes, total_impact_score): a keyset scan of the pair table's index in the sort's order.

    ``followers`` is the creator's own follower count, which the pair rows do not carry (copying it into every pair
    row on every profile change would put a fan-out on ingest): :func:`fetch_page` serves it by one of two plans
    chosen per request (:func:`followers_plan`)."""
    p = sql.Identifier("p")
    sorts = {
        "views": SortKey(sql.SQL("{}.total_views").format(p), "dec"),
        "impact": SortKey(sql.SQL("{}.total_impact_score").format(p), "dec"),
    }
    if likes:
        sorts["likes"] = SortKey(sql.SQL("{}.total_likes").format(p), "dec")
    sorts["followers"] = SortKey(_sql("c.followers_count"), "int", nullable=True)
    sorts["videos"] = SortKey(sql.SQL("{}.video_count").format(p), "int")
    return ListSpec(
        name=name,
        select=sql.Composed(
            [
                _CREATOR_COLUMNS,
                _sql(", p.video_count AS videos, p.total_views AS views, p.total_likes AS likes,"),
                _sql(" p.total_impact_score AS impact"),
                _sql(", p.video_count AS hashtag_videos") if hashtag_videos else _sql(""),
            ]
        ),
        from_=sql.SQL("{} p JOIN creators_hot c ON c.creator_id = p.creator_id").format(sql.Identifier(table)),
        id_expr=_sql("p.creator_id"),
        id_kind="text",
        sorts=sorts,
        skewed=True,
        parent=sql.SQL("p.{} = %s").format(sql.Identifier(parent_column)),
        filters={"platform": _sql("c.platform"), "impact": _sql("p.total_impact_score"), "search": _CREATOR_SEARCH},
        pair_table=table,
    )


# sql/0016, sql/0015 and sql/0004 keep the pairs; shown and sorted alike
HASHTAG_CREATORS = _nested_creators(
    "hashtag_creators", "hashtag_creator_counts", "hashtag", likes=True, hashtag_videos=True
)
SOUND_CREATORS = _nested_creators("sound_creators", "sound_creator_counts", "sound_id", likes=True)
COMMUNITY_CREATORS = _nested_creators(
    "community_creators", "community_creator_memberships", "community_id", likes=False
)

# sort=followers of a nested creator list walks every creator in follower order (sql/0003 creators_followers_idx)
_FOLLOWERS_SCAN = ListSpec(
    name="creators_by_followers",
    select=_sql("c.creator_id"),
    from_=_sql("creators_hot c"),
    id_expr=_sql("c.creator_id"),
    id_kind="text",
    sorts={"followers": CREATORS.sorts["followers"]},
)

SOUNDS = ListSpec(
    name="sounds",
    select=_sql(
        "s.sound_id AS id, s.sound_title AS title, s.sound_author AS author, s.original, s.cover_url AS cover,"
        " s.videos_count AS videos, s.views_total AS views, s.likes_total AS likes, s.total_impact_score AS impact,"
        " s.last_used_at"
    ),
    from_=_sql("sounds_hot s"),
    id_expr=_sql("s.sound_id"),
    id_kind="text",
    sorts={
        "views": SortKey(_sql("s.views_total"), "dec"),
        "impact": SortKey(_sql("s.total_impact_score"), "dec"),
        "likes": SortKey(_sql("s.likes_total"), "dec"),
        "videos": SortKey(_sql("s.videos_count"), "int"),
        "recent": SortKey(_sql("s.last_used_at"), "ts", nullable=True),
        "alphabetical": SortKey(_sql("lower(coalesce(s.sound_title, ''))"), "text", False),
    },
    filters={
        # sounds are TikTok's (no YouTube source has one): platform=youtube lists none
        "platform": _sql("'tiktok'::text"),
        "impact": _sql("s.total_impact_score"),
        "time": _sql("s.last_used_at"),
        "search": _sql("(coalesce(s.sound_title, '') || ' ' || coalesce(s.sound_author, ''))"),
    },
)

_HASHTAG_TAIL = _sql(", h.first_seen_at, h.last_seen_at, h.hashtag AS id, h.hashtag AS tag, h.display_name")
HASHTAGS = ListSpec(
    name="hashtags",
    select=sql.Composed(
        [
            _sql("h.videos_count AS videos, h.creators_count AS creators, h.views_total AS views,"),
            _sql(" h.likes_total AS likes, h.total_impact_score AS impact, NULL::text AS platform, h.trend_score"),
            _HASHTAG_TAIL,
        ]
    ),
    from_=_sql("hashtags_hot h"),
    id_expr=_sql("h.hashtag"),
    id_kind="text",
    sorts={
        "views": SortKey(_sql("h.views_total"), "dec"),
        "impact": SortKey(_sql("h.total_impact_score"), "dec"),
        "likes": SortKey(_sql("h.likes_total"), "dec"),
        "videos": SortKey(_sql("h.videos_count"), "int"),
        "creators": SortKey(_sql("h.creators_count"), "int"),
        "trending": SortKey(_sql("h.trend_score"), "dec"),
        "recent": SortKey(_sql("h.last_seen_at"), "ts"),
        "alphabetical": SortKey(_sql("h.hashtag"), "text", False),
    },
    filters={"impact": _sql("h.total_impact_score"), "time": _sql("h.last_seen_at"), "search": _sql("h.hashtag")},
)

# GET /hashtags?platform=…: the platform's own totals (hashtag_platform_totals), never the blended ones.
PLATFORM_HASHTAGS = ListSpec(
    name="platform_hashtags",
    select=sql.Composed(
        [
            _sql("p.videos_count AS videos, p.creators_count AS creators, p.views_total AS views,"),
            _sql(" p.likes_total AS likes, p.total_impact_score AS impact, p.platform, p.trend_score"),
            _HASHTAG_TAIL,
        ]
    ),
    from_=_sql("hashtag_platform_totals p JOIN hashtags_hot h ON h.hashtag = p.hashtag"),
    id_expr=_sql("p.hashtag"),
    id_kind="text",
    sorts={
        "views": SortKey(_sql("p.views_total"), "dec"),
        "impact": SortKey(_sql("p.total_impact_score"), "dec"),
        "likes": SortKey(_sql("p.likes_total"), "dec"),
        "videos": SortKey(_sql("p.videos_count"), "int"),
        "creators": SortKey(_sql("p.creators_count"), "int"),
        "trending": SortKey(_sql("p.trend_score"), "dec"),  # the platform's own (sql/0017)
        "recent": SortKey(_sql("h.last_seen_at"), "ts"),
        "alphabetical": SortKey(_sql("p.hashtag"), "text", False),
    },
    filters={
        "platform": _sql("p.platform"),
        "impact": _sql("p.total_impact_score"),
        "time": _sql("h.last_seen_at"),
        "search": _sql("h.hashtag"),
    },
)

COMMUNITY_HASHTAGS = ListSpec(
    name="community_hashtags",
    select=_sql(
        "m.hashtag AS id, m.hashtag AS tag, h.display_name, m.video_count AS videos, m.total_views AS views,"
        " m.total_impact_score AS impact"
    ),
    from_=_sql("community_hashtag_memberships m JOIN hashtags_hot h ON h.hashtag = m.hashtag"),
    id_expr=_sql("m.hashtag"),
    id_kind="text",
    sorts={
        "views": SortKey(_sql("m.total_views"), "dec"),
        "impact": SortKey(_sql("m.total_impact_score"), "dec"),
        "videos": SortKey(_sql("m.video_count"), "int"),
    },
    skewed=True,
    parent=_sql("m.community_id = %s"),
    filters={"impact": _sql("m.total_impact_score"), "search": _sql("m.hashtag")},
)


def _communities(totals: str) -> ListSpec:
    # a few hundred rows at most: every sort is cheap, index or not
    t = sql.Identifier(totals)
    return ListSpec(
        name="communities" if totals == "c" else "platform_communities",
        select=sql.SQL(
            "c.id, c.slug, c.name, c.description, c.linked_hashtags, {t}.total_videos AS videos,"
            " {t}.total_creators AS creators, {t}.total_views AS views, {t}.total_likes AS likes,"
            " {t}.total_impact_score AS impact, {platform} AS platform"
        ).format(t=t, platform=sql.SQL("p.platform" if totals == "p" else "NULL::text")),
        from_=_sql(
            "communities c JOIN community_platform_totals p ON p.community_id = c.id"
            if totals == "p"
            else "communities c"
        ),
        id_expr=_sql("c.id"),
        id_kind="int",
        sorts={
            "views": SortKey(sql.SQL("{}.total_views").format(t), "dec"),
            "impact": SortKey(sql.SQL("{}.total_impact_score").format(t), "dec"),
            "likes": SortKey(sql.SQL("{}.total_likes").format(t), "dec"),
            "videos": SortKey(sql.SQL("{}.total_videos").format(t), "int"),
            "creators": SortKey(sql.SQL("{}.total_creators").format(t), "int"),
            "alphabetical": SortKey(_sql("lower(c.name)"), "text", False),
        },
        filters={
            **({"platform": _sql("p.platform")} if totals == "p" else {}),
            "impact": sql.SQL("{}.total_impact_score").format(t),
            "search": _sql("c.name"),
        },
    )


COMMUNITIES = _communities("c")
PLATFORM_COMMUNITIES = _communities("p")


# ------------------------------------------------------------------------------------------------------- pages
def _order(spec: ListSpec, key: SortKey) -> sql.Composed:
    direction = sql.SQL("DESC" if key.descending else "ASC")
    nulls = sql.SQL(" NULLS LAST" if key.nullable else "")
    return sql.SQL("ORDER BY {expr} {d}{nulls}, {id} {d}").format(
        expr=key.expr, d=direction, nulls=nulls, id=spec.id_expr
    )


def _select(
    spec: ListSpec, key: SortKey, conds: Sequence[sql.Composable], limit_placeholder: bool = True
) -> sql.Composed:
    where = sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE")
    return sql.SQL("SELECT {select}, {k} AS _k, {id} AS _id FROM {from_} WHERE {where} {order} LIMIT %s").format(
        select=spec.select, k=key.expr, id=spec.id_expr, from_=spec.from_, where=where, order=_order(spec, key)
    )


FollowersPlan = Literal["auto", "walk", "sort"]

# sort=followers of a nested creator list (see followers_plan): walk chunks grow from the first to the largest size
WALK_FIRST_CHUNK = 256
WALK_MAX_CHUNK = 4096
WALK_MIN_THRESHOLD = 1000  # parents with fewer creators are always sorted (cheap), whatever the catalogue size
WALK_BUDGET_FACTOR = 4  # a walk scans at most this many of its largest chunks before handing over to the sort plan
# a probe of the walk costs less than a row of the sort plan: measured at 1,000,000 videos (200,000 creators, load ~4),
# the two cross between 1,500 and 3,000 creators, below √((limit + 1) × N) ≈ 3,200
WALK_THRESHOLD_FACTOR = 0.6


def fetch_page(
    conn: psycopg.Connection[Any],
    spec: ListSpec,
    sort: str,
    filters: Sequence[Filter],
    after: Keyset | None,
    limit: int,
    *,
    from_params: tuple[Any, ...] = (),
    plan: FollowersPlan = "auto",
) -> PageRows:
    """One page of ``spec`` sorted by ``sort`` (a key of ``spec.sorts``), after ``after``.

    Parameters
    ----------
    conn
        The connection (inside the caller's read-only transaction).
    spec, sort
        The list and one of its whitelisted sorts (KeyError otherwise: the caller validated it).
    filters
        ``(fragment, params)`` pairs ANDed together; fragments come from this module's callers, never requests. For a
        list with a parent the first one is the parent's condition (``spec.parent``).
    after
        The keyset of the previous page's last row, or None for the first page.
    limit
        Rows per page (1-100).
    from_params
        Parameters of placeholders inside ``spec.from_`` (no list of this module has any now).
    plan
        For ``sort=followers`` of a nested creator list: ``walk``, ``sort`` or ``auto`` (chosen by the parent's size,
        :func:`followers_plan`); both give the same rows. Ignored by every other list and sort.

    Returns
    -------
    PageRows
        Up to ``limit`` rows, and the keyset to continue from when another row follows.
    """
    key = spec.sorts[sort]
    fetch = limit + 1
    if sort == "followers" and spec.pair_table is not None:
        if plan == "auto":
            plan = followers_plan(conn, spec, filters[0][1][0], limit)
        if plan == "walk":
            rows = _walk_followers(conn, spec, filters, after, fetch)
        else:
            rows = _sort_followers(conn, spec, filters, after, fetch)
    else:
        rows = _fetch_rows(conn, spec, key, filters, after, fetch, from_params)
    next_keyset = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_keyset = Keyset(rows[-1]["_k"], rows[-1]["_id"])
    for row in rows:
        del row["_k"], row["_id"]
    return PageRows(rows, next_keyset)


def _fetch_rows(
    conn: psycopg.Connection[Any],
    spec: ListSpec,
    key: SortKey,
    filters: Sequence[Filter],
    after: Keyset | None,
    fetch: int,
    from_params: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """Up to ``fetch`` rows after ``after`` in the order of ``key``, each with its keyset in ``_k`` and ``_id``."""
    conds = [f[0] for f in filters]
    params: list[Any] = [p for f in filters for p in f[1]]
    cmp = sql.SQL("<" if key.descending else ">")
    row_cmp = sql.SQL("({k}, {id}) {cmp} (%s, %s)").format(k=key.expr, id=spec.id_expr, cmp=cmp)
    if after is None:
        query: sql.Composed = _select(spec, key, conds)
        args = [*from_params, *params, fetch]
    elif key.nullable and after.value is None:
        null_cond = sql.SQL("{k} IS NULL AND {id} < %s").format(k=key.expr, id=spec.id_expr)
        query = _select(spec, key, [*conds, null_cond])
        args = [*from_params, *params, after.id, fetch]
    elif key.nullable:
        # the rest of the non-NULL range, then the NULLs: two index ranges in index order, the second read only when
        # the first runs out
        first = _select(spec, key, [*conds, row_cmp])
        second = _select(spec, key, [*conds, sql.SQL("{k} IS NULL").format(k=key.expr)])
        query = sql.SQL("({}) UNION ALL ({}) LIMIT %s").format(first, second)
        args = [*from_params, *params, after.value, after.id, fetch, *from_params, *params, fetch, fetch]
    else:
        query = _select(spec, key, [*conds, row_cmp])
        args = [*from_params, *params, after.value, after.id, fetch]
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, args, prepare=False if spec.skewed else None).fetchall()


def followers_plan(conn: psycopg.Connection[Any], spec: ListSpec, parent: Any, limit: int) -> Literal["walk", "sort"]:
    """How to serve ``sort=followers`` of a nested creator list for this parent: ``walk`` or ``sort``.

    The pair rows do not carry followers, so a page is either

    - ``sort``: every pair row of the parent joined to ``creators_hot`` and sorted (after the keyset) — work in
      proportion to the parent's creators, n; or
    - ``walk``: ``creators_hot`` read in follower order from the keyset (its index), each creator probed in the pair
      table's primary key — about (limit + 1) × N / n probes for N creators in all, whatever the depth.

    The two cost the same at n ≈ √((limit + 1) × N) (about 3,200 for a page of 50 among 200,000 creators; measured,
    a little lower: WALK_THRESHOLD_FACTOR): a parent with at least that many creators (counted up to there, so the
    count costs no more than the cheaper plan) is walked.
    """
    if spec.pair_table is None or spec.parent is None:
        raise ValueError(f"{spec.name} is not a nested creator list")
    total = conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'creators_hot'::regclass").fetchone()
    balance = math.isqrt(int((limit + 1) * max(float(total[0]) if total else 0.0, 0.0)))
    threshold = max(WALK_MIN_THRESHOLD, int(WALK_THRESHOLD_FACTOR * balance))
    count = conn.execute(
        sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} p WHERE {} LIMIT %s) x").format(
            sql.Identifier(spec.pair_table), spec.parent
        ),
        (parent, threshold),
        prepare=False,
    ).fetchone()
    return "walk" if count is not None and count[0] >= threshold else "sort"


def _sort_followers(
    conn: psycopg.Connection[Any], spec: ListSpec, filters: Sequence[Filter], after: Keyset | None, fetch: int
) -> list[dict[str, Any]]:
    """``sort=followers`` of a nested creator list by sorting the parent's pair rows joined to ``creators_hot`` (``sort``
    plan): the join is MATERIALIZED so that the planner cannot turn it into a walk of the followers index from its
    start (which a keyset condition on the joined column cannot bound)."""
    conds = [f[0] for f in filters]
    params: list[Any] = [p for f in filters for p in f[1]]
    if after is None:
        keyset: sql.Composable = sql.SQL("TRUE")
    elif after.value is None:
        keyset, params = sql.SQL("_k IS NULL AND _id < %s"), [*params, after.id]
    else:
        keyset, params = sql.SQL("((_k, _id) < (%s, %s) OR _k IS NULL)"), [*params, after.value, after.id]
    # each pair row's creator by its primary key (OFFSET 0 keeps the lateral subquery a per-row lookup: as a plain join
    # the planner hashes all of creators_hot for a few thousand pairs)
    query = sql.SQL(
        "WITH m AS MATERIALIZED (SELECT {select}, c.followers_count AS _k, c.creator_id AS _id FROM {pair} p"
        " CROSS JOIN LATERAL (SELECT * FROM creators_hot c WHERE c.creator_id = p.creator_id OFFSET 0) c"
        " WHERE {where}) SELECT * FROM m WHERE {keyset} ORDER BY _k DESC NULLS LAST, _id DESC LIMIT %s"
    ).format(
        select=spec.select,
        pair=sql.Identifier(spec.pair_table or ""),
        where=sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE"),
        keyset=keyset,
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, [*params, fetch], prepare=False).fetchall()


def _walk_followers(
    conn: psycopg.Connection[Any], spec: ListSpec, filters: Sequence[Filter], after: Keyset | None, fetch: int
) -> list[dict[str, Any]]:
    """``sort=followers`` of a nested creator list by walking ``creators_hot`` in follower order (``walk`` plan).

    Chunks of creators are read from the followers index after the keyset (growing from WALK_FIRST_CHUNK); each chunk's
    creators are probed in the pair table with the page's filters, in the chunk's order. A walk that has scanned its
    budget without filling the page (a parent whose creators are rare at this depth, or a selective filter) hands the
    rest over to the sort plan, continuing after the last creator it scanned: the rows are the same either way.
    """
    conds = [f[0] for f in filters]
    params: list[Any] = [p for f in filters for p in f[1]]
    # the pair key is probed first for every scanned creator (a MATERIALIZED CTE: the planner would otherwise fetch
    # every scanned creator's row before probing); only the members' rows are read
    probe = sql.SQL(
        "WITH m AS MATERIALIZED (SELECT w.creator_id, w.ord FROM unnest(%s::text[]) WITH ORDINALITY AS w(creator_id, ord)"
        " WHERE EXISTS (SELECT FROM {pair} p WHERE {parent} AND p.creator_id = w.creator_id))"
        " SELECT {select}, c.followers_count AS _k, c.creator_id AS _id"
        " FROM m JOIN ({from_}) ON p.creator_id = m.creator_id WHERE {where} ORDER BY m.ord LIMIT %s"
    ).format(
        pair=sql.Identifier(spec.pair_table or ""),
        parent=spec.parent or sql.SQL("TRUE"),
        select=spec.select,
        from_=spec.from_,
        where=sql.SQL(" AND ").join(conds) if conds else sql.SQL("TRUE"),
    )
    parent_params = list(filters[0][1]) if spec.parent is not None else []
    key = spec.sorts["followers"]
    rows: list[dict[str, Any]] = []
    chunk, scanned = WALK_FIRST_CHUNK, 0
    budget = WALK_BUDGET_FACTOR * WALK_MAX_CHUNK
    while True:
        creators = _fetch_rows(conn, _FOLLOWERS_SCAN, key, [], after, chunk)
        if creators:
            ids = [r["creator_id"] for r in creators]
            with conn.cursor(row_factory=dict_row) as cur:
                rows += cur.execute(probe, [ids, *parent_params, *params, fetch - len(rows)], prepare=False).fetchall()
            after = Keyset(creators[-1]["_k"], creators[-1]["_id"])
        if len(rows) >= fetch or len(creators) < chunk:
            return rows[:fetch]  # the page is full, or every creator has been read
        scanned += len(creators)
        if scanned >= budget:
            return rows + _sort_followers(conn, spec, filters, after, fetch - len(rows))
        chunk = min(2 * chunk, WALK_MAX_CHUNK)


def offset_page(
    conn: psycopg.Connection[Any], spec: ListSpec, sort: str, offset: int, limit: int
) -> list[dict[str, Any]]:
    """The OFFSET-paginated page the keyset cursor replaces (the benchmark's baseline only)."""
    key = spec.sorts[sort]
    query = sql.SQL("{} OFFSET %s").format(_select(spec, key, []))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, [limit, offset]).fetchall()


# ----------------------------------------------------------------------------------------------------- details
def _one(conn: psycopg.Connection[Any], query: sql.Composed | sql.SQL, params: Sequence[Any]) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row: dict[str, Any] | None = cur.execute(query, params).fetchone()
    return row


def fetch_video(conn: psycopg.Connection[Any], video_id: str) -> dict[str, Any] | None:
    """A video with its creator, hashtags, sound and communities; None when unknown."""
    return _one(
        conn,
        sql.SQL(
            "SELECT {select}, v.impact_version, v.first_seen_at, v.last_seen_at,"
            " s.sound_id AS sound_id, s.sound_title AS sound_title, s.sound_author AS sound_author,"
            " coalesce((SELECT jsonb_agg(jsonb_build_object('id', cm.id, 'slug', cm.slug, 'name', cm.name)"
            "  ORDER BY cm.slug) FROM community_video_memberships m JOIN communities cm ON cm.id = m.community_id"
            "  WHERE m.video_id = v.video_id), '[]'::jsonb) AS communities"
            " FROM videos_hot v LEFT JOIN creators_hot c ON c.creator_id = v.creator_id"
            " LEFT JOIN video_sound_facts sf ON sf.video_id = v.video_id"
            " LEFT JOIN sounds_hot s ON s.sound_id = sf.sound_id"
            " WHERE v.video_id = %s"
        ).format(select=VIDEO_SELECT),
        (video_id,),
    )


def fetch_creator(conn: psycopg.Connection[Any], creator_id: str) -> dict[str, Any] | None:
    """A creator; None when unknown."""
    return _one(
        conn,
        sql.SQL("SELECT {}, c.bio, c.first_seen_at, c.last_seen_at FROM creators_hot c WHERE c.creator_id = %s").format(
            CREATORS.select
        ),
        (creator_id,),
    )


def fetch_sound(conn: psycopg.Connection[Any], sound_id: str) -> dict[str, Any] | None:
    """A sound; None when unknown."""
    return _one(
        conn,
        sql.SQL("SELECT {}, s.play_url, s.first_seen_at FROM sounds_hot s WHERE s.sound_id = %s").format(SOUNDS.select),
        (sound_id,),
    )


def fetch_hashtag(conn: psycopg.Connection[Any], tag: str) -> dict[str, Any] | None:
    """A hashtag with each platform's own totals; None when unknown."""
    return _one(
        conn,
        sql.SQL(
            "SELECT {}, coalesce((SELECT jsonb_agg(jsonb_build_object('platform', p.platform,"
            " 'videos', p.videos_count, 'creators', p.creators_count, 'views', p.views_total, 'likes', p.likes_total,"
            " 'impact', p.total_impact_score, 'trend_score', p.trend_score) ORDER BY p.platform)"
            " FROM hashtag_platform_totals p"
            " WHERE p.hashtag = h.hashtag), '[]'::jsonb) AS platforms FROM hashtags_hot h WHERE h.hashtag = %s"
        ).format(HASHTAGS.select),
        (tag,),
    )


def fetch_community(
    conn: psycopg.Connection[Any], *, community_id: int | None, slug: str | None
) -> dict[str, Any] | None:
    """A community by id or by slug, with each platform's own totals; None when unknown."""
    return _one(
        conn,
        sql.SQL(
            "SELECT {}, coalesce((SELECT jsonb_agg(jsonb_build_object('platform', p.platform,"
            " 'videos', p.total_videos, 'creators', p.total_creators, 'views', p.total_views, 'likes', p.total_likes,"
            " 'impact', p.total_impact_score) ORDER BY p.platform) FROM community_platform_totals p"
            " WHERE p.community_id = c.id), '[]'::jsonb) AS platforms FROM communities c"
            " WHERE c.id = %s OR c.slug = %s LIMIT 1"
        ).format(COMMUNITIES.select),
        (community_id, slug),
    )


def exists(conn: psycopg.Connection[Any], table: Literal["hashtags", "sounds", "creators"], key: str) -> bool:
    """Whether the parent of a nested list exists (asked only when its page is empty)."""
    query = {
        "hashtags": _sql("SELECT 1 FROM hashtags_hot WHERE hashtag = %s"),
        "sounds": _sql("SELECT 1 FROM sounds_hot WHERE sound_id = %s"),
        "creators": _sql("SELECT 1 FROM creators_hot WHERE creator_id = %s"),
    }[table]
    return conn.execute(query, (key,)).fetchone() is not None


def fetch_history(
    conn: psycopg.Connection[Any], video_id: str, after: Any | None, limit: int
) -> tuple[list[dict[str, Any]], Any | None]:
    """A video's observations oldest first (the primary key's order), after ``after``; and the next keyset."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT observed_at, views_count AS views, likes_count AS likes, comments_count AS comments,"
            " shares_count AS shares, collect_count AS saves, source FROM video_metric_snapshots"
            " WHERE video_id = %s AND (%s::timestamptz IS NULL OR observed_at > %s::timestamptz)"
            " ORDER BY observed_at LIMIT %s",
            (video_id, after, after, limit + 1),
        ).fetchall()
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1]["observed_at"]
    return rows, None


def fetch_ingestion(conn: psycopg.Connection[Any], ingestion_id: int, rejections: int = 100) -> dict[str, Any] | None:
    """An ingestion row and its first ``rejections`` rejected records (``GET /admin/ingestions/{id}``)."""
    row = _one(
        conn,
        _sql(
            "SELECT ingestion_id, source, snapshot_id, trigger, object_bucket, object_key, status, received, accepted,"
            " rejected, new_videos, updated_videos, started_at, finished_at, duration_ms, error"
            " FROM ingestions WHERE ingestion_id = %s"
        ),
        (ingestion_id,),
    )
    if row is None:
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        row["rejections"] = cur.execute(
            "SELECT record_index AS index, video_id, reason FROM rejected_videos WHERE ingestion_id = %s"
            " ORDER BY record_index LIMIT %s",
            (ingestion_id, rejections),
        ).fetchall()
    return row
