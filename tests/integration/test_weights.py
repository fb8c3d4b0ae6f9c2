"""Impact weights versions: activation, the scoring trigger following it at once, and validation naming the field."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from reelrank.errors import InvalidWeightsError
from reelrank.models.weights import ImpactWeightsRequest
from reelrank.scoring import ImpactWeights, compute_impact
from reelrank.services.weights import get_active_weights, list_weights_versions, set_impact_weights
from tests.integration.backfill_helpers import build_catalogue, catalogue_records, ingest_records

BODY = {"views": "0.00002", "likes": "0.002", "comments": "50", "shares": "0.5", "saves": "0.2"}


def test_setting_weights_adds_the_next_version_and_makes_it_the_only_active_one(db: psycopg.Connection[Any]) -> None:
    # Given the launch weights (version 1)
    assert get_active_weights(db).version == 1
    # When an operator posts new weights
    created = set_impact_weights(db, {**BODY, "note": "comments matter less"})
    # Then version 2 is active with exactly those weights, and version 1 is not
    assert (created.version, created.active, created.note) == (2, True, "comments matter less")
    assert created.weights.comments == Decimal("50")
    assert created.activated_at is not None
    assert get_active_weights(db) == created
    assert [(v.version, v.active) for v in list_weights_versions(db)] == [(2, True), (1, False)]
    assert db.execute("SELECT active_impact_version()").fetchone() == (2,)


def test_new_and_updated_videos_are_scored_with_new_weights_at_once_and_the_rest_is_stale(
    db: psycopg.Connection[Any],
) -> None:
    # Given 20 videos scored with version 1
    build_catalogue(db, n=20)
    # When new weights are activated and one video is re-ingested with new counts, and one new video arrives
    set_impact_weights(db, BODY)
    changed = catalogue_records(1, seed=1)[0] | {"view_count": 12345, "comment_count": 7}
    fresh = catalogue_records(1, seed=5, first_id=7_690_000_000_000_000_000)[0]
    ingest_records(db, [changed, fresh])
    # Then those two are on version 2 with the new formula's score; the other 19 are stale on version 1
    rows = db.execute(
        "SELECT video_id, impact_version, impact_score, views_count, likes_count, comments_count, shares_count,"
        " collect_count FROM videos_hot WHERE impact_version = 2 ORDER BY video_id"
    ).fetchall()
    assert [r[0] for r in rows] == [str(changed["id"]), str(fresh["id"])]
    weights = ImpactWeights(**{k: Decimal(v) for k, v in BODY.items()}, version=2)
    for _, _, score, views, likes, comments, shares, saves in rows:
        assert score == compute_impact(
            views=views, likes=likes, comments=comments, shares=shares, saves=saves, weights=weights
        )
    assert db.execute("SELECT count(*) FROM videos_hot WHERE impact_version = 1").fetchone() == (19,)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "comments": "-1"}, "comments"),
        ({k: v for k, v in BODY.items() if k != "saves"}, "saves"),
        ({**BODY, "likes": "0.00000000001"}, "likes"),
        ({**BODY, "views": "12345678901"}, "views"),
        ({**BODY, "shares": "NaN"}, "shares"),
        ({**BODY, "shares": "a lot"}, "shares"),
        ({**BODY, "bonus": "1"}, "bonus"),
        (dict.fromkeys(BODY, "0"), "at least one of views"),
    ],
)
def test_invalid_weights_are_a_domain_error_naming_the_field_and_change_nothing(
    db: psycopg.Connection[Any], body: dict[str, Any], field: str
) -> None:
    # When invalid weights are posted / Then the error names the field and version 1 stays active
    with pytest.raises(InvalidWeightsError, match=field):
        set_impact_weights(db, body)
    assert get_active_weights(db).version == 1
    assert db.execute("SELECT count(*) FROM impact_weights").fetchone() == (1,)


def test_a_validated_model_is_accepted_as_is(db: psycopg.Connection[Any]) -> None:
    created = set_impact_weights(db, ImpactWeightsRequest.model_validate(BODY))
    assert created.version == 2


def test_concurrent_operators_get_consecutive_versions_and_one_active(db_url: str) -> None:
    # Given four operators setting weights at the same moment
    errors: list[BaseException] = []
    versions: list[int] = []
    barrier = threading.Barrier(4)

    def set_weights(i: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                versions.append(set_impact_weights(conn, {**BODY, "comments": str(10 + i)}).version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=set_weights, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Then none failed, they got versions 2-5, and exactly the last one is active
    assert errors == []
    assert sorted(versions) == [2, 3, 4, 5]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT version FROM impact_weights WHERE active").fetchall() == [(5,)]
