"""Typed params for the ``split``, ``train``, ``tuning``, ``baselines``, ``evaluate`` and
``registry`` sections of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from config.base import Frozen


class SplitParams(Frozen):
    """How labelled cutoffs are split into train / validation / test (by time only).

    ``strict`` (default): training label windows must also end at or before the
    validation cutoff (T + H <= T_val), so validation (early stopping, calibration) is
    out of time. Otherwise they need only end at or before the test cutoff (more
    training cutoffs, but training labels overlap the validation label window).

    ``degrade``: on a short history, fall back step by step instead of failing:
    strict -> overlapping (training labels overlap validation) -> customer holdout
    (validation = ``holdout_share`` of the customers of the only usable cutoff). Every
    fallback is recorded in the split's ``mode``.
    """

    strict: bool = True
    degrade: bool = True
    holdout_share: float = Field(default=0.2, gt=0, lt=1)
    max_train_cutoffs: int | None = Field(default=None, gt=0)
    # validation: train < validation < test (early stopping, calibration on validation);
    # all_labelled: train on every cutoff whose labels end by the test cutoff, a fixed
    # number of trees and no recalibration (train.calibration: identity)
    window: Literal["validation", "all_labelled"] = "validation"
    backtest_folds: int = Field(default=3, ge=0)


class TrainParams(Frozen):
    """LightGBM settings: defaults suit small, noisy tabular data (shallow, regularised)."""

    learning_rate: float = Field(default=0.03, gt=0, le=1)
    num_leaves: int = Field(default=7, ge=2)
    max_depth: int = Field(default=3, ge=-1)
    min_data_in_leaf: int = Field(default=100, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=10.0, ge=0)
    min_gain_to_split: float = Field(default=0.0, ge=0)
    num_boost_round: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=100, ge=1)
    num_threads: int = Field(default=2, ge=1)
    monotone: bool = True
    calibration: Literal["auto", "sigmoid", "isotonic", "identity"] = "auto"
    calibration_data: Literal["validation", "forward", "grouped_oof"] = "validation"
    calibration_folds: int = Field(default=5, ge=2)
    calibration_cutoffs: int = Field(default=3, ge=1)
    isotonic_eps: float = Field(default=1e-3, gt=0, lt=0.5)
    # the served margin is blend_weight * booster + (1 - blend_weight) * an L2 logistic
    # regression on symlog features (bundle/linear.py) with inverse strength linear_c
    blend_weight: float = Field(default=1.0, ge=0, le=1)
    linear_c: float = Field(default=0.1, gt=0)
    # each symlog input of the linear part is winsorised at this training quantile (and
    # 1 - it): a rare value cannot sit dozens of standard deviations out on a later cutoff
    linear_winsor: float = Field(default=0.005, ge=0, lt=0.5)


class TuningParams(Frozen):
    """Hyper-parameter choice without the test cutoff.

    ``method: backtest_grid`` refits every ``grid`` entry (updates of ``train:``) on the
    ``selection_folds`` rolling folds whose test cutoff is earlier than the run's test
    cutoff and keeps the best mean ``metric``; ``method: optuna`` runs a seeded TPE
    search scored on the validation cutoff only.
    """

    enabled: bool = True
    method: Literal["optuna", "backtest_grid"] = "optuna"
    grid: tuple[dict[str, float | int], ...] = ()
    # every grid entry is crossed with every combination of these train: values, e.g.
    # {blend_weight: [0, 0.5, 1], linear_c: [0.1, 1.0]} (fits are shared where they can be)
    cross: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    selection_folds: int = Field(default=3, ge=1)
    min_selection_folds: int = Field(default=2, ge=1)
    n_trials: int = Field(default=25, ge=1)
    metric: Literal["average_precision", "roc_auc", "logloss"] = "average_precision"
    num_leaves: tuple[int, int] = (3, 15)
    max_depth: tuple[int, int] = (2, 4)
    min_data_in_leaf: tuple[int, int] = (20, 400)
    learning_rate: tuple[float, float] = (0.01, 0.1)
    lambda_l2: tuple[float, float] = (0.1, 100.0)
    feature_fraction: tuple[float, float] = (0.5, 1.0)


class BaselineParams(Frozen):
    """Baselines fitted on the same training cutoffs as the model."""

    logreg_c: float = Field(default=1.0, gt=0)
    logreg_features: tuple[str, ...] = (
        "days_since_last_order",
        "orders_lifetime",
        "spend_lifetime",
    )
    bgnbd_time_unit_days: float = Field(default=1.0, gt=0)
    bgnbd_penalizer: float = Field(default=0.0, ge=0)


class EvaluateParams(Frozen):
    """Metric settings: ECE bins, top-k fractions, bootstrap size."""

    ece_bins: int = Field(default=10, ge=2)
    top_fractions: tuple[float, ...] = (0.05, 0.1, 0.2)
    bootstrap: int = Field(default=1000, ge=10)
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    ece_max: float = Field(default=0.05, gt=0)


class RegistryParams(Frozen):
    """MLflow settings; ``tracking_uri`` is used only when MLFLOW_TRACKING_URI is unset."""

    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "churn"
    model_name: str = "churn-lgbm"
    candidate_alias: str = "candidate"
    champion_alias: str = "champion"
    enabled: bool = True
