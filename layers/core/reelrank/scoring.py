"""The comment-weighted Impact Score (DESIGN §2), in exact decimal arithmetic.

Impact = 100 × comments + 0.1 × shares + 0.001 × likes + views ÷ 100000 + 0.1 × saves,
rounded half-up to two decimals; a missing (None) count counts as 0.

The SQL twin is ``compute_impact(views, likes, comments, shares, saves)`` in ``sql/0002_impact.sql``;
``tests/integration/test_impact_sql_agrees.py`` proves the two agree to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal

CENT = Decimal("0.01")

# Counts reach 2**63 and weights carry up to 5 decimals; 60 significant digits is far more than the exact result needs,
# so no intermediate value is ever rounded by the context.
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ImpactWeights:
    """One version of the Impact weights (a row of ``impact_weights``)."""

    views: Decimal = Decimal("0.00001")
    likes: Decimal = Decimal("0.001")
    comments: Decimal = Decimal("100")
    shares: Decimal = Decimal("0.1")
    saves: Decimal = Decimal("0.1")
    version: int = 1


DEFAULT_WEIGHTS = ImpactWeights()


def compute_impact(
    views: int | None = None,
    likes: int | None = None,
    comments: int | None = None,
    shares: int | None = None,
    saves: int | None = None,
    weights: ImpactWeights = DEFAULT_WEIGHTS,
) -> Decimal:
    """Compute the Impact Score of one video.

    Parameters
    ----------
    views, likes, comments, shares, saves
        Non-negative counts; ``None`` counts as 0.
    weights
        The weights version to apply (the shipped version 1 by default).

    Returns
    -------
    Decimal
        The score rounded half-up to cents, e.g. ``Decimal("5005.00")`` for
        50 comments, 10 shares, 1000 likes, 100000 views and 20 saves.

    Raises
    ------
    ValueError
        If a count is negative, or not an integer (``bool`` and ``float`` are refused so that no binary float
        ever reaches the arithmetic).
    """
    counts = (views, likes, comments, shares, saves)
    for name, value in zip(("views", "likes", "comments", "shares", "saves"), counts, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer count, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    v, li, c, sh, sa = (Decimal(value or 0) for value in counts)
    total = _EXACT.add(
        _EXACT.add(
            _EXACT.add(_EXACT.multiply(weights.comments, c), _EXACT.multiply(weights.shares, sh)),
            _EXACT.add(_EXACT.multiply(weights.likes, li), _EXACT.multiply(weights.views, v)),
        ),
        _EXACT.multiply(weights.saves, sa),
    )
    return total.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)
