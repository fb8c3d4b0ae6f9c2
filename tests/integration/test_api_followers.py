"""``sort=followers`` of the nested creator lists: the walk plan (creators_hot in follower order, each creator probed in
the pair table) and the sort plan (the parent's pairs joined and sorted) give the same pages, across cursors, NULL
follower counts and every filter; the automatic choice follows the parent's size."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from reelrank.db import rankings as q
from reelrank.services.rankings import ListQuery, _filters
from tests.conftest import create_test_database, drop_test_database
from tests.integration.api_helpers import ApiClient, api_environment, seed_catalogue


@pytest.fixture(scope="module")
def catalogue_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    url = create_test_database(pg_admin_url, template_db)
    seed_catalogue(url, 400)
    with psycopg.connect(url, autocommit=True) as conn:
        # unknown follower counts among the biggest parents' creators: pages must cross into the NULLs
        conn.execute(
            "UPDATE creators_hot SET followers_count = NULL WHERE creator_id IN"
            " (SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'tag0' ORDER BY creator_id LIMIT 4)"
        )
        # ties on the follower count: the id breaks them, in both plans
        conn.execute(
            "UPDATE creators_hot SET followers_count = 1000 WHERE creator_id IN"
            " (SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'tag0' ORDER BY creator_id DESC LIMIT 3)"
        )
    yield url
    drop_test_database(pg_admin_url, url)


@pytest.fixture
def conn(catalogue_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(catalogue_url, autocommit=True) as c:
        yield c


def _parents(conn: psycopg.Connection[Any]) -> list[tuple[q.ListSpec, Any, str]]:
    """(list, its biggest parent, the SQL of its creators in follower order) for the three nested creator lists."""
    sound = conn.execute(
        "SELECT sound_id FROM sound_creator_counts GROUP BY sound_id ORDER BY count(*) DESC, sound_id LIMIT 1"
    ).fetchone()
    community = conn.execute("SELECT id FROM communities WHERE slug = 'phonk-edits'").fetchone()
    assert sound is not None
    assert community is not None
    order = " ORDER BY c.followers_count DESC NULLS LAST, c.creator_id DESC"
    return [
        (
            q.HASHTAG_CREATORS,
            "tag0",
            "SELECT p.creator_id FROM hashtag_creator_counts p JOIN creators_hot c USING (creator_id)"
            " WHERE p.hashtag = %s" + order,
        ),
        (
            q.SOUND_CREATORS,
            sound[0],
            "SELECT p.creator_id FROM sound_creator_counts p JOIN creators_hot c USING (creator_id)"
            " WHERE p.sound_id = %s" + order,
        ),
        (
            q.COMMUNITY_CREATORS,
            community[0],
            "SELECT p.creator_id FROM community_creator_memberships p JOIN creators_hot c USING (creator_id)"
            " WHERE p.community_id = %s" + order,
        ),
    ]


def _walk_pages(
    conn: psycopg.Connection[Any], spec: q.ListSpec, parent: Any, query: ListQuery, plan: q.FollowersPlan
) -> list[list[str]]:
    """Every page of the list, following the keyset, with the given plan."""
    pages: list[list[str]] = []
    after = None
    while True:
        page = q.fetch_page(conn, spec, "followers", _filters(spec, query, parent), after, query.limit, plan=plan)
        pages.append([row["id"] for row in page.rows])
        if page.next_keyset is None:
            return pages
        after = page.next_keyset
        assert len(pages) < 1000


FILTERS = [
    {},
    {"platform": "tiktok"},
    {"platform": "youtube"},
    {"impact_min": Decimal("50")},
    {"impact_max": Decimal("5000")},
    {"search": "a"},
]


@pytest.mark.parametrize("chunks", ["default", "tiny"])
@pytest.mark.parametrize("limit", [1, 4, 50])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_walk_and_sort_plans_give_the_same_pages(
    conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch, chunks: str, limit: int, filters: dict[str, Any]
) -> None:
    # Given each nested creator list's biggest parent; with "tiny" chunks the walk reads 1-2 creators at a time and
    # hands over to the sort plan after 2, so every page mixes both plans
    if chunks == "tiny":
        monkeypatch.setattr(q, "WALK_FIRST_CHUNK", 1)
        monkeypatch.setattr(q, "WALK_MAX_CHUNK", 2)
        monkeypatch.setattr(q, "WALK_BUDGET_FACTOR", 1)
    query = ListQuery(sort="followers", limit=limit, **filters)
    for spec, parent, expected_sql in _parents(conn):
        # When every page is read with each plan
        walked = _walk_pages(conn, spec, parent, query, "walk")
        sorted_ = _walk_pages(conn, spec, parent, query, "sort")
        # Then the pages are the same, page by page
        assert walked == sorted_, spec.name
        # and, unfiltered, they are the parent's creators in follower order (unknown last), each once
        if not filters:
            expected = [r[0] for r in conn.execute(expected_sql, (parent,)).fetchall()]
            assert len(expected) > 10, spec.name
            assert [i for page in walked for i in page] == expected, spec.name


def test_the_plan_follows_the_parents_size(conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a walk threshold of 5 creators (the test catalogue is small)
    monkeypatch.setattr(q, "WALK_MIN_THRESHOLD", 5)
    monkeypatch.setattr(q.math, "isqrt", lambda _: 0)
    small = conn.execute(
        "SELECT hashtag FROM hashtag_creator_counts GROUP BY hashtag HAVING count(*) < 5 ORDER BY hashtag LIMIT 1"
    ).fetchone()
    assert small is not None
    # When / Then: tag0 (dozens of creators) is walked, a hashtag with fewer than 5 creators is sorted
    assert q.followers_plan(conn, q.HASHTAG_CREATORS, "tag0", 50) == "walk"
    assert q.followers_plan(conn, q.HASHTAG_CREATORS, small[0], 50) == "sort"
    # and the default threshold is at least WALK_MIN_THRESHOLD creators
    monkeypatch.undo()
    assert q.followers_plan(conn, q.HASHTAG_CREATORS, "tag0", 50) == "sort"


@pytest.mark.parametrize("walk_threshold", [1, 10**9])
def test_followers_pages_through_the_api_with_either_plan(
    catalogue_url: str, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch, walk_threshold: int
) -> None:
    # Given the automatic choice forced to one plan
    monkeypatch.setattr(q, "WALK_MIN_THRESHOLD", walk_threshold)
    community = conn.execute("SELECT slug FROM communities WHERE slug = 'phonk-edits'").fetchone()
    sound = _parents(conn)[1][1]
    with api_environment(catalogue_url):
        api = ApiClient()
        for (spec, parent, expected_sql), path in zip(
            _parents(conn),
            ["/hashtags/tag0/creators", f"/sounds/{sound}/creators", f"/communities/{community[0]}/creators"],  # type: ignore[index]
            strict=True,
        ):
            # When the list is walked by cursor through the handler
            items = api.walk(path, sort="followers", limit=6)
            # Then it is the full order, each item showing the creator's followers
            expected = [r[0] for r in conn.execute(expected_sql, (parent,)).fetchall()]
            assert [i["id"] for i in items] == expected, spec.name
            followers = dict(conn.execute("SELECT creator_id, followers_count FROM creators_hot").fetchall())
            assert [i["followers"] for i in items] == [followers[i["id"]] for i in items]
