"""The read routes through RankingApiFunction's handler, on a catalogue ingested through the real ingest path."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import create_test_database, drop_test_database
from tests.integration.api_helpers import ApiClient, api_environment, seed_catalogue

GENERATED = 300


@pytest.fixture(scope="module")
def catalogue_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    url = create_test_database(pg_admin_url, template_db)
    seed_catalogue(url, GENERATED)
    yield url
    drop_test_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def api(catalogue_url: str) -> Iterator[ApiClient]:
    with api_environment(catalogue_url):
        yield ApiClient()


@pytest.fixture
def sql(catalogue_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(catalogue_url, autocommit=True) as conn:
        yield conn


# (list path, sort, the SQL giving the full expected order of ids)
ORDERS = [
    ("/videos", "views", "SELECT video_id FROM videos_hot ORDER BY views_count DESC, video_id DESC"),
    ("/videos", "impact", "SELECT video_id FROM videos_hot ORDER BY impact_score DESC, video_id DESC"),
    ("/videos", "likes", "SELECT video_id FROM videos_hot ORDER BY likes_count DESC, video_id DESC"),
    ("/videos", "recent", "SELECT video_id FROM videos_hot ORDER BY created_at DESC NULLS LAST, video_id DESC"),
    ("/creators", "views", "SELECT creator_id FROM creators_hot ORDER BY total_play_count DESC, creator_id DESC"),
    ("/creators", "impact", "SELECT creator_id FROM creators_hot ORDER BY total_impact_score DESC, creator_id DESC"),
    ("/creators", "likes", "SELECT creator_id FROM creators_hot ORDER BY likes_total DESC, creator_id DESC"),
    (
        "/creators",
        "followers",
        "SELECT creator_id FROM creators_hot ORDER BY followers_count DESC NULLS LAST, creator_id DESC",
    ),
    ("/creators", "videos", "SELECT creator_id FROM creators_hot ORDER BY videos_count DESC, creator_id DESC"),
    (
        "/creators",
        "alphabetical",
        "SELECT creator_id FROM creators_hot ORDER BY lower(coalesce(username, display_name, creator_id)), creator_id",
    ),
    ("/sounds", "views", "SELECT sound_id FROM sounds_hot ORDER BY views_total DESC, sound_id DESC"),
    ("/sounds", "impact", "SELECT sound_id FROM sounds_hot ORDER BY total_impact_score DESC, sound_id DESC"),
    ("/sounds", "videos", "SELECT sound_id FROM sounds_hot ORDER BY videos_count DESC, sound_id DESC"),
    ("/sounds", "recent", "SELECT sound_id FROM sounds_hot ORDER BY last_used_at DESC NULLS LAST, sound_id DESC"),
    ("/sounds", "alphabetical", "SELECT sound_id FROM sounds_hot ORDER BY lower(coalesce(sound_title, '')), sound_id"),
    ("/hashtags", "views", "SELECT hashtag FROM hashtags_hot ORDER BY views_total DESC, hashtag DESC"),
    ("/hashtags", "creators", "SELECT hashtag FROM hashtags_hot ORDER BY creators_count DESC, hashtag DESC"),
    ("/hashtags", "trending", "SELECT hashtag FROM hashtags_hot ORDER BY trend_score DESC, hashtag DESC"),
    ("/hashtags", "alphabetical", "SELECT hashtag FROM hashtags_hot ORDER BY hashtag"),
    ("/communities", "views", "SELECT id::text FROM communities ORDER BY total_views DESC, id DESC"),
    ("/communities", "alphabetical", "SELECT id::text FROM communities ORDER BY lower(name), id"),
    (
        "/hashtags/tag0/videos",
        "views",
        "SELECT video_id FROM video_hashtag_facts WHERE hashtag = 'tag0' ORDER BY views_count DESC, video_id DESC",
    ),
    (
        "/hashtags/tag0/videos",
        "recent",
        "SELECT video_id FROM video_hashtag_facts WHERE hashtag = 'tag0'"
        " ORDER BY created_at DESC NULLS LAST, video_id DESC",
    ),
    (
        "/hashtags/tag0/creators",
        "videos",
        "SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'tag0' ORDER BY video_count DESC, creator_id DESC",
    ),
    (
        "/hashtags/tag0/creators",
        "views",
        "SELECT creator_id FROM hashtag_creator_counts WHERE hashtag = 'tag0' ORDER BY total_views DESC, creator_id DESC",
    ),
    (
        "/hashtags/tag0/creators",
        "followers",
        "SELECT h.creator_id FROM hashtag_creator_counts h JOIN creators_hot c USING (creator_id)"
        " WHERE h.hashtag = 'tag0' ORDER BY c.followers_count DESC NULLS LAST, h.creator_id DESC",
    ),
    (
        "/communities/phonk-edits/videos",
        "impact",
        "SELECT m.video_id FROM community_video_memberships m JOIN communities c ON c.id = m.community_id"
        " WHERE c.slug = 'phonk-edits' ORDER BY m.impact_score DESC, m.video_id DESC",
    ),
    (
        "/communities/phonk-edits/creators",
        "views",
        "SELECT m.creator_id FROM community_creator_memberships m JOIN communities c ON c.id = m.community_id"
        " WHERE c.slug = 'phonk-edits' ORDER BY m.total_views DESC, m.creator_id DESC",
    ),
    (
        "/communities/car-culture/hashtags",
        "videos",
        "SELECT m.hashtag FROM community_hashtag_memberships m JOIN communities c ON c.id = m.community_id"
        " WHERE c.slug = 'car-culture' ORDER BY m.video_count DESC, m.hashtag DESC",
    ),
]


@pytest.mark.parametrize(("path", "sort", "expected_sql"), ORDERS)
@pytest.mark.parametrize("limit", [7, 100])
def test_walking_every_page_gives_the_full_order_once(
    api: ApiClient, sql: psycopg.Connection[Any], path: str, sort: str, expected_sql: str, limit: int
) -> None:
    # Given the full order straight from the tables
    expected = [str(r[0]) for r in sql.execute(expected_sql).fetchall()]
    assert expected, "the catalogue must have rows for this list"
    # When every page is fetched by following next_cursor
    items = api.walk(path, sort=sort, limit=limit)
    # Then the pages concatenate to exactly that order: no row lost, none repeated, even across NULLs
    assert [str(i["id"]) for i in items] == expected


def test_sound_creators_are_the_creators_figures_within_the_sound(api: ApiClient, sql: psycopg.Connection[Any]) -> None:
    sound_id, _ = sql.execute(
        "SELECT sound_id, count(*) FROM video_sound_facts GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone() or (None, None)
    expected = sql.execute(
        "SELECT creator_id, count(*), sum(views_count) FROM video_sound_facts WHERE sound_id = %s"
        " GROUP BY 1 ORDER BY sum(views_count) DESC, creator_id DESC",
        (sound_id,),
    ).fetchall()
    items = api.walk(f"/sounds/{sound_id}/creators", limit=3)
    assert [(i["id"], i["videos"], i["views"]) for i in items] == [(c, n, int(v)) for c, n, v in expected]


def test_hashtag_creators_show_and_sort_by_their_figures_within_the_hashtag(
    api: ApiClient, sql: psycopg.Connection[Any]
) -> None:
    # The figures an item shows are the ones it is sorted by: the creator's videos, views and likes carrying the tag
    expected = sql.execute(
        "SELECT f.creator_id, count(*), sum(v.views_count), sum(v.likes_count) FROM video_hashtag_facts f"
        " JOIN videos_hot v USING (video_id) WHERE f.hashtag = 'tag0' AND f.creator_id IS NOT NULL"
        " GROUP BY 1 ORDER BY sum(v.views_count) DESC, f.creator_id DESC"
    ).fetchall()
    assert expected
    items = api.walk("/hashtags/tag0/creators", sort="views", limit=5)
    assert [(i["id"], i["videos"], i["views"], i["likes"]) for i in items] == [
        (c, n, int(v), int(lk)) for c, n, v, lk in expected
    ]


def test_list_envelope_items_and_cache_control(api: ApiClient, sql: psycopg.Connection[Any]) -> None:
    response = api.get("/videos", limit=5)
    assert response.status == 200
    assert set(response.body) == {"data", "next_cursor", "limit"}
    assert response.body["limit"] == 5
    first = response.body["data"][0]
    row = sql.execute(
        "SELECT video_id, views_count, impact_score, creator_id FROM videos_hot ORDER BY views_count DESC, video_id DESC"
    ).fetchone()
    assert row is not None
    assert (first["id"], first["views"], Decimal(str(first["impact"])), first["creator"]["id"]) == (
        row[0],
        row[1],
        row[2],
        row[3],
    )
    assert {"postId", "title", "thumbnail", "duration", "likes", "comments", "shares", "saves", "createdAt"} <= set(
        first
    )
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert "s-maxage=" in response.headers["Cache-Control"]


def test_limit_defaults_to_50(api: ApiClient) -> None:
    response = api.get("/videos")
    assert (response.body["limit"], len(response.body["data"])) == (50, 50)


@pytest.mark.parametrize(
    ("query", "parameter", "fragment"),
    [
        ({"sort": "followers"}, "sort", "views, impact, likes, recent"),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "101"}, "limit", "less than or equal to 100"),
        ({"limit": "ten"}, "limit", "integer"),
        ({"platform": "instagram"}, "platform", "tiktok, youtube"),
        ({"time_range": "2w"}, "time_range", "24h, 7d, 30d, 1y, all"),
        ({"impact_min": "-1"}, "impact_min", "greater than or equal to 0"),
        ({"impact_min": "nan"}, "impact_min", ""),
        ({"impact_min": "5", "impact_max": "1"}, "impact_min", "impact_max"),
        ({"order": "asc"}, "order", "this route takes cursor, impact_max"),
        ({"search": "x" * 101}, "search", "at most 100"),
        ({"cursor": "garbage"}, "cursor", "not a cursor"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    api: ApiClient, query: dict[str, str], parameter: str, fragment: str
) -> None:
    response = api.call("GET", "/videos", query)
    assert response.status == 400, response.body
    assert response.body["parameter"] == parameter
    assert response.body["message"].startswith(f"{parameter}:")
    assert fragment in response.body["message"]
    assert response.headers["Cache-Control"] == "no-store"


def test_a_parameter_given_twice_is_400(api: ApiClient) -> None:
    response = api.call("GET", "/videos", [("sort", "views"), ("sort", "impact")])
    assert response.status == 400
    assert response.body["parameter"] == "sort"


def test_tampered_and_foreign_cursors_are_400(api: ApiClient) -> None:
    cursor = api.get("/videos", limit=2).body["next_cursor"]
    body, mac = cursor.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload[2] = "0"  # move the keyset
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode() + "." + mac
    assert api.get("/videos", cursor=forged).status == 400
    # a genuine cursor of another sort, filter or list is foreign
    assert api.get("/videos", cursor=cursor, sort="impact").status == 400
    assert api.get("/videos", cursor=cursor, platform="tiktok").status == 400
    assert api.get("/creators", cursor=cursor).body["message"].startswith("cursor: it belongs to another list")
    # and the genuine one continues
    assert api.get("/videos", cursor=cursor, limit=2).status == 200


def test_platform_filter_gives_that_platforms_own_totals(api: ApiClient, sql: psycopg.Connection[Any]) -> None:
    items = api.walk("/hashtags", platform="youtube", limit=10)
    expected = {
        tag: int(views)
        for tag, views in sql.execute(
            "SELECT hashtag, views_total FROM hashtag_platform_totals WHERE platform = 'youtube'"
        ).fetchall()
    }
    assert expected, "the YouTube fixture must have hashtags"
    assert {i["id"]: i["views"] for i in items} == expected
    assert {i["platform"] for i in items} == {"youtube"}
    videos = api.walk("/videos", platform="youtube")
    assert videos
    assert {v["platform"] for v in videos} == {"youtube"}
    assert api.get("/sounds", platform="youtube").body["data"] == []


@pytest.mark.parametrize("search", ["%", "_", "\\", "synthetic video 1", "SYNTHETIC", "#tag0", "ネオン"])
def test_search_matches_text_literally(api: ApiClient, sql: psycopg.Connection[Any], search: str) -> None:
    expected = {
        vid for vid, caption in sql.execute("SELECT video_id, caption FROM videos_hot").fetchall()
        if caption is not None and search.lower() in caption.lower()
    }  # fmt: skip
    assert {v["id"] for v in api.walk("/videos", search=search, limit=100)} == expected


def test_impact_and_time_filters(api: ApiClient, sql: psycopg.Connection[Any]) -> None:
    rows = sql.execute("SELECT video_id FROM videos_hot WHERE impact_score BETWEEN 10 AND 500").fetchall()
    got = api.walk("/videos", impact_min="10", impact_max="500", sort="impact")
    assert {v["id"] for v in got} == {r[0] for r in rows}
    assert all(10 <= v["impact"] <= 500 for v in got)
    recent = {
        r[0] for r in sql.execute("SELECT video_id FROM videos_hot WHERE created_at >= now() - interval '365 days'")
    }
    assert {v["id"] for v in api.walk("/videos", time_range="1y")} == recent


@pytest.mark.parametrize(
    "path",
    [
        "/videos/0000000000000",
        "/videos/nope",
        "/creators/nobody-here",
        "/sounds/42",
        "/hashtags/neverused",
        "/hashtags/%23",
        "/communities/999",
        "/communities/no-such-slug",
        "/hashtags/neverused/videos",
        "/hashtags/neverused/creators",
        "/sounds/42/videos",
        "/sounds/42/creators",
        "/communities/999/videos",
        "/communities/nope/creators",
        "/communities/nope/hashtags",
        "/videos/nope/history",
        "/videos/a\x00b",
    ],
)
def test_unknown_entities_are_404(api: ApiClient, path: str) -> None:
    response = api.get(path)
    assert response.status == 404, response.body
    assert response.body["error"] == "not_found"


def test_detail_routes(api: ApiClient, sql: psycopg.Connection[Any]) -> None:
    video = api.get("/videos/7506612233445566778").body
    assert video["creator"]["id"] == "nightdrive.edits"
    assert "phonk" in video["hashtags"]
    assert {c["slug"] for c in video["communities"]} == {"car-culture", "phonk-edits"}  # #phonk and #edit
    assert video["sound"] is not None
    history = api.get("/videos/7506612233445566778/history").body
    assert history["videoId"] == "7506612233445566778"
    assert history["data"][0]["views"] == video["views"]
    creator = api.get("/creators/NightDrive.Edits").body  # a handle in any case
    assert creator["id"] == "nightdrive.edits"
    assert creator["views"] == int(
        sql.execute("SELECT total_play_count FROM creators_hot WHERE creator_id = 'nightdrive.edits'").fetchone()[0]  # type: ignore[index]
    )
    hashtag = api.get("/hashtags/%23Phonk".replace("%23", "")).body
    assert hashtag["id"] == "phonk"
    assert {p["platform"] for p in hashtag["platforms"]} == {"tiktok"}
    community = api.get("/communities/phonk-edits").body
    by_id = api.get(f"/communities/{community['id']}").body
    assert by_id == community
    assert community["videos"] >= 1
    sound_id = video["sound"]["id"]
    assert api.get(f"/sounds/{sound_id}").body["id"] == sound_id


def test_read_routes_run_as_the_read_only_role(catalogue_url: str) -> None:
    from reelrank.services.rankings import read_only

    with psycopg.connect(catalogue_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), read_only(conn):
            conn.execute("UPDATE videos_hot SET views_count = 0")
        with read_only(conn):
            assert conn.execute("SELECT current_user").fetchone() == ("reelrank_reader",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), read_only(conn):
            conn.execute("SELECT count(*) FROM ingestions")
        # the role lasts one transaction: the login role is back afterwards
        assert conn.execute("SELECT current_user").fetchone() != ("reelrank_reader",)


SORTS = {"/videos": ["views", "impact", "likes", "recent"], "/creators": ["views", "impact", "followers", "videos"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(sorted(SORTS)),
    data=st.data(),
    limit=st.integers(1, 60),
    platform=st.sampled_from([None, "tiktok", "youtube"]),
    impact_min=st.sampled_from([None, "0", "1", "50.5", "1000"]),
    search=st.sampled_from([None, "1", "creator 2", "%", "edit"]),
)
def test_any_filtered_walk_equals_the_filtered_order(
    api: ApiClient,
    sql: psycopg.Connection[Any],
    path: str,
    data: st.DataObject,
    limit: int,
    platform: str | None,
    impact_min: str | None,
    search: str | None,
) -> None:
    # Invariant: for any sort, page size and filters, following cursors yields exactly the filtered full order
    sort = data.draw(st.sampled_from(SORTS[path]))
    items = api.walk(path, sort=sort, limit=limit, platform=platform, impact_min=impact_min, search=search)
    if path == "/videos":
        column = {"views": "views_count", "impact": "impact_score", "likes": "likes_count", "recent": "created_at"}[
            sort
        ]
        rows = sql.execute(
            f"SELECT video_id FROM videos_hot WHERE (%(p)s::text IS NULL OR platform = %(p)s)"
            f" AND (%(i)s::numeric IS NULL OR impact_score >= %(i)s::numeric)"
            f" AND (%(s)s::text IS NULL OR strpos(lower(caption), lower(%(s)s)) > 0)"
            f" ORDER BY {column} DESC NULLS LAST, video_id DESC",
            {"p": platform, "i": impact_min, "s": search},
        ).fetchall()
    else:
        column = {"views": "total_play_count", "impact": "total_impact_score", "followers": "followers_count",
                  "videos": "videos_count"}[sort]  # fmt: skip
        rows = sql.execute(
            f"SELECT creator_id FROM creators_hot WHERE (%(p)s::text IS NULL OR platform = %(p)s)"
            f" AND (%(i)s::numeric IS NULL OR total_impact_score >= %(i)s::numeric)"
            f" AND (%(s)s::text IS NULL OR strpos(lower(coalesce(username, '') || ' ' || coalesce(display_name, '')),"
            f" lower(%(s)s)) > 0) ORDER BY {column} DESC NULLS LAST, creator_id DESC",
            {"p": platform, "i": impact_min, "s": search},
        ).fetchall()
    assert [i["id"] for i in items] == [r[0] for r in rows]
