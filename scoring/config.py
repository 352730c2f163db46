"""What :func:`scoring.results.score_customers` needs besides the model.

:class:`ScoreConfig` bundles the three scoring sections of params.yaml with the label
horizon *of the model bundle* (it defines the revenue-at-risk window), so batch scoring
and the API read one object and never mix a params horizon with a bundle's.
"""

from __future__ import annotations

from pydantic import Field

from config.base import Frozen, ParamsError
from config.root import Params
from config.scoring import ReasonsParams, RiskParams, ScoreParams
from features.reason_codes import MAX_REASONS


class ScoreConfig(Frozen):
    """Everything :func:`scoring.results.score_customers` needs besides the model."""

    reasons: ReasonsParams
    risk: RiskParams
    score: ScoreParams
    horizon_days: int = Field(gt=0)
    currency: str | None = None  # data.currency: ISO code of the amounts in sentences


def score_config(params: Params, horizon_days: int) -> ScoreConfig:
    """Build :class:`ScoreConfig` from the params root and the bundle's horizon."""
    if params.reasons.top_k > MAX_REASONS:
        raise ParamsError(
            f"invalid params: reasons.top_k: {params.reasons.top_k} exceeds the "
            f"{MAX_REASONS} reason families"
        )
    return ScoreConfig(
        reasons=params.reasons,
        risk=params.risk,
        score=params.score,
        horizon_days=horizon_days,
        currency=params.data.currency,
    )
