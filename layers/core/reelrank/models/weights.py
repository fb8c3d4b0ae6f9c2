"""Impact weights versions (DESIGN §2): the operator's request to add and activate one, and what it returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

# impact_weights columns are numeric(20, 10): up to 10 digits before the point and 10 after, never negative
Weight = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=10, allow_inf_nan=False)]


class ImpactWeightValues(BaseModel):
    """The five weights of the Impact formula, named after the counts they multiply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    views: Weight
    likes: Weight
    comments: Weight
    shares: Weight
    saves: Weight

    @model_validator(mode="after")
    def _not_all_zero(self) -> ImpactWeightValues:
        if not any((self.views, self.likes, self.comments, self.shares, self.saves)):
            raise ValueError("at least one of views, likes, comments, shares, saves must be above 0")
        return self


class ImpactWeightsRequest(ImpactWeightValues):
    """``POST /admin/impact-weights`` body and ``reelrank weights set``: a new version, activated at once."""

    note: str | None = Field(default=None, max_length=500)


class ImpactWeightsResponse(BaseModel):
    """A weights version as stored."""

    model_config = ConfigDict(frozen=True)

    version: int
    weights: ImpactWeightValues
    active: bool
    note: str | None = None
    created_at: datetime
    activated_at: datetime | None
