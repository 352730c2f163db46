"""The params root: one typed model of the whole ``params.yaml``.

Every stage, the CLI, the API and the test that validates params files parse the file
through :func:`load_params`, so there is one map of sections and one error format
("``section.key: message``"). Sections whose keys all have defaults may be omitted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from config.alerts import AlertsParams
from config.base import Frozen, ParamsError, read_params
from config.data import DataParams
from config.features import FeatureParams
from config.report import ReportParams
from config.scoring import ReasonsParams, RiskParams, RulesParams, ScoreParams
from config.signals import SignalsParams
from config.training import (
    BaselineParams,
    EvaluateParams,
    RegistryParams,
    SplitParams,
    TrainParams,
    TuningParams,
)


class Params(Frozen):
    """Every section of params.yaml, in pipeline order (``extra=forbid``: a typo is an error)."""

    seed: int = Field(strict=True)
    data: DataParams
    signals: SignalsParams = SignalsParams()
    features: FeatureParams
    split: SplitParams = SplitParams()
    train: TrainParams = TrainParams()
    tuning: TuningParams = TuningParams()
    baselines: BaselineParams = BaselineParams()
    rules: RulesParams = RulesParams()
    evaluate: EvaluateParams = EvaluateParams()
    registry: RegistryParams = RegistryParams()
    reasons: ReasonsParams = ReasonsParams()
    risk: RiskParams
    score: ScoreParams = ScoreParams()
    report: ReportParams = ReportParams()
    alerts: AlertsParams = AlertsParams()


SECTIONS: tuple[str, ...] = tuple(name for name in Params.model_fields if name != "seed")


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_params(raw: dict[str, Any], source: str = "params.yaml") -> Params:
    """Validate a parsed params mapping; the error names every bad ``section.key``."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ParamsError(f"invalid params in {source}: {problems}") from exc


def load_params(path: str | Path) -> Params:
    """Read and validate the params file at ``path``."""
    return parse_params(read_params(path), str(path))
