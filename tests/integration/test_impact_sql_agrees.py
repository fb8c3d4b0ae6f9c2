"""The SQL compute_impact and reelrank.scoring agree to the cent, and the videos_hot trigger keeps scores current."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reelrank.scoring import ImpactWeights, compute_impact

COUNT = st.one_of(st.none(), st.integers(min_value=0, max_value=2**62))
ROW = st.tuples(COUNT, COUNT, COUNT, COUNT, COUNT)


@given(rows=st.lists(ROW, min_size=1, max_size=50))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sql_compute_impact_agrees_with_python_to_the_cent(db: psycopg.Connection[Any], rows: list[tuple]) -> None:
    # Given arbitrary non-negative counts (NULLs included, up to 2^62)
    # When SQL scores them all in one query
    got = db.execute(
        """
        SELECT compute_impact(v, l, c, sh, sa)
        FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) AS t(v, l, c, sh, sa)
        """,
        [list(col) for col in zip(*rows, strict=True)],
    ).fetchall()
    # Then every score equals the Python one exactly
    assert [r[0] for r in got] == [compute_impact(*row) for row in rows]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((100_000, 1000, 50, 10, 20), "5005.00"),
        ((None, None, 10, None, None), "1000.00"),
        ((None, None, None, None, None), "0.00"),
        ((123, 456, 7, 8, 9), "702.16"),
    ],
)
def test_sql_compute_impact_examples(db: psycopg.Connection[Any], counts: tuple, expected: str) -> None:
    assert db.execute("SELECT compute_impact(%s, %s, %s, %s, %s)", counts).fetchone() == (Decimal(expected),)


def _insert_video(db: psycopg.Connection[Any], video_id: str, **counts: int) -> None:
    cols = ", ".join(["video_id", "platform", *counts])
    marks = ", ".join(["%s"] * (2 + len(counts)))
    db.execute(f"INSERT INTO videos_hot ({cols}) VALUES ({marks})", [video_id, "tiktok", *counts.values()])


def _score(db: psycopg.Connection[Any], video_id: str) -> tuple[Decimal, int]:
    row = db.execute("SELECT impact_score, impact_version FROM videos_hot WHERE video_id = %s", (video_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_trigger_scores_on_insert_and_on_every_count_change(db: psycopg.Connection[Any]) -> None:
    # Given a new video with counts above 2^31
    _insert_video(db, "7481203345566778890", views_count=2_311_874_906, comments_count=233_190)
    assert _score(db, "7481203345566778890") == (compute_impact(views=2_311_874_906, comments=233_190), 1)
    # When one count changes
    db.execute("UPDATE videos_hot SET collect_count = 2904518 WHERE video_id = '7481203345566778890'")
    # Then the score follows
    assert _score(db, "7481203345566778890")[0] == compute_impact(
        views=2_311_874_906, comments=233_190, saves=2_904_518
    )
    # And an update touching no count leaves impact_updated_at alone
    before = db.execute("SELECT impact_updated_at FROM videos_hot").fetchone()
    db.execute("UPDATE videos_hot SET caption = 'x', views_count = views_count")
    assert db.execute("SELECT impact_updated_at FROM videos_hot").fetchone() == before


def test_new_active_weights_score_new_and_changed_rows_and_leave_others_stale(db: psycopg.Connection[Any]) -> None:
    # Given two videos scored with version 1
    _insert_video(db, "100000000001", views_count=100_000, comments_count=1)
    _insert_video(db, "100000000002", views_count=100_000, comments_count=1)
    # When version 2 (comments weigh 200) becomes the active version, in one transaction
    with db.transaction():
        db.execute("UPDATE impact_weights SET active = false WHERE active")
        db.execute(
            "INSERT INTO impact_weights (version, w_views, w_likes, w_comments, w_shares, w_saves, active)"
            " VALUES (2, 0.00001, 0.001, 200, 0.1, 0.1, true)"
        )
    db.execute("UPDATE videos_hot SET likes_count = 1000 WHERE video_id = '100000000001'")
    _insert_video(db, "100000000003", comments_count=1)
    # Then the changed and the new video use version 2; the untouched one is stale on version 1
    v2 = ImpactWeights(comments=Decimal(200), version=2)
    assert _score(db, "100000000001") == (compute_impact(views=100_000, likes=1000, comments=1, weights=v2), 2)
    assert _score(db, "100000000003") == (Decimal("200.00"), 2)
    assert _score(db, "100000000002") == (Decimal("101.00"), 1)
    assert db.execute("SELECT compute_impact(0, 0, 1, 0, 0), active_impact_version()").fetchone() == (
        Decimal("200.00"),
        2,
    )


def test_exactly_one_active_weights_version_is_enforced(db: psycopg.Connection[Any]) -> None:
    # A second active version is refused at once
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "INSERT INTO impact_weights (version, w_views, w_likes, w_comments, w_shares, w_saves, active)"
            " VALUES (3, 1, 1, 1, 1, 1, true)"
        )
    # and leaving none active is refused at commit
    with pytest.raises(psycopg.errors.CheckViolation, match="exactly one active version"):
        db.execute("UPDATE impact_weights SET active = false")
    assert db.execute("SELECT count(*) FROM impact_weights WHERE active").fetchone() == (1,)
