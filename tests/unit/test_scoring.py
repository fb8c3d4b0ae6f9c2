from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelrank.scoring import DEFAULT_WEIGHTS, ImpactWeights, compute_impact

COUNT = st.one_of(st.none(), st.integers(min_value=0, max_value=2**63 - 1))


def reference_impact(views, likes, comments, shares, saves) -> Decimal:
    """An independent rendering of DESIGN §2 in exact rationals, rounded half-up to cents by integer arithmetic."""
    v, li, c, sh, sa = (Fraction(x or 0) for x in (views, likes, comments, shares, saves))
    exact = 100 * c + Fraction(1, 10) * sh + Fraction(1, 1000) * li + v / 100_000 + Fraction(1, 10) * sa
    cents = (exact * 100 + Fraction(1, 2)).__floor__()  # half-up for non-negative values
    return Decimal(cents).scaleb(-2)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # DESIGN §2's worked example: 50 comments, 10 shares, 1000 likes, 100000 views, 20 saves
        ({"views": 100_000, "likes": 1000, "comments": 50, "shares": 10, "saves": 20}, "5005.00"),
        ({"comments": 10}, "1000.00"),
        ({}, "0.00"),
        ({"views": 123, "likes": 456, "comments": 7, "shares": 8, "saves": 9}, "702.16"),
        # half-up at the cent: 0.005 -> 0.01 (views 500 -> 0.005), 0.0049999 -> 0.00
        ({"views": 500}, "0.01"),
        ({"views": 499}, "0.00"),
        ({"views": 1500}, "0.02"),
        # above 2^31 and 2^53 stays exact
        ({"views": 2_311_874_906}, "23118.75"),
        ({"views": 2**62}, "46116860184273.88"),
    ],
)
def test_compute_impact_matches_worked_examples(counts: dict[str, int], expected: str) -> None:
    # Given the counts of one video / When it is scored / Then the score is exact to the cent
    assert compute_impact(**counts) == Decimal(expected)


def test_compute_impact_returns_two_decimal_places() -> None:
    assert compute_impact(comments=1).as_tuple().exponent == -2


@given(views=COUNT, likes=COUNT, comments=COUNT, shares=COUNT, saves=COUNT)
def test_compute_impact_equals_exact_rational_reference(views, likes, comments, shares, saves) -> None:
    assert compute_impact(views, likes, comments, shares, saves) == reference_impact(
        views, likes, comments, shares, saves
    )


@pytest.mark.parametrize("bad", [-1, 1.5, 2.0, True, "10"])
def test_compute_impact_refuses_negative_and_non_integer_counts(bad: object) -> None:
    with pytest.raises(ValueError, match="comments"):
        compute_impact(comments=bad)  # type: ignore[arg-type]


def test_compute_impact_uses_the_given_weights_version() -> None:
    # Given weights that only count likes
    likes_only = ImpactWeights(
        views=Decimal(0), likes=Decimal(1), comments=Decimal(0), shares=Decimal(0), saves=Decimal(0), version=2
    )
    # Then the score is the likes, and the default weights still give DESIGN's value
    assert compute_impact(views=10, likes=7, comments=3, weights=likes_only) == Decimal("7.00")
    assert compute_impact(views=10, likes=7, comments=3, weights=DEFAULT_WEIGHTS) == Decimal("300.01")
