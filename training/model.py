"""LightGBM fitting: monotone constraints from the catalog, early stopping on the
validation cutoff, and a small seeded Optuna search on the validation cutoff only.

Determinism: ``deterministic=True``, ``force_row_wise=True``, a fixed thread count and
every LightGBM seed derived from the one params seed, so two runs on the same data give
the same booster (LightGBM docs, "deterministic").
"""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from config.training import TrainParams, TuningParams
from features.catalog import BY_NAME
from training.metrics import pr_auc, roc_auc

logger = logging.getLogger(__name__)


def monotone_constraints(feature_names: list[str] | tuple[str, ...]) -> list[int]:
    """LightGBM constraint per feature from the catalog ``direction`` (+1, -1 or 0)."""
    unknown = [n for n in feature_names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"features not in the catalog: {unknown}")
    return [BY_NAME[n].direction for n in feature_names]


def lgb_params(
    params: TrainParams, seed: int, feature_names: list[str] | tuple[str, ...]
) -> dict[str, Any]:
    """The LightGBM parameter dict for ``params`` (seeded, deterministic)."""
    out: dict[str, Any] = {
        "objective": "binary",
        "metric": "binary_logloss",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": params.bagging_freq,
        "lambda_l2": params.lambda_l2,
        "min_gain_to_split": params.min_gain_to_split,
        "num_threads": params.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    if params.monotone:
        out["monotone_constraints"] = monotone_constraints(feature_names)
        out["monotone_constraints_method"] = "intermediate"
    return out


def _dataset(frame: pd.DataFrame, names: list[str], reference: lgb.Dataset | None = None):
    return lgb.Dataset(
        frame.loc[:, names].to_numpy(dtype=np.float64),
        label=frame["label"].to_numpy(),
        feature_name=names,
        reference=reference,
        free_raw_data=False,
    )


def fit_booster(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    feature_names: list[str],
    params: TrainParams,
    seed: int,
) -> lgb.Booster:
    """Train on ``train`` with early stopping on ``valid`` (binary log loss).

    The returned booster keeps only the trees up to the best iteration.
    """
    dtrain = _dataset(train, feature_names)
    dvalid = _dataset(valid, feature_names, reference=dtrain)
    booster = lgb.train(
        lgb_params(params, seed, feature_names),
        dtrain,
        num_boost_round=params.num_boost_round,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    logger.info("LightGBM stopped at %d trees", best)
    # Re-serialise with only the best trees so predict() never uses the overfit tail.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def fit_fixed(
    train: pd.DataFrame,
    feature_names: list[str],
    params: TrainParams,
    seed: int,
    n_trees: int,
) -> lgb.Booster:
    """Train exactly ``n_trees`` rounds on ``train`` (no early stopping, no held-out set).

    Used for the helper models whose out-of-sample margins fit the calibrator: they
    reuse the main model's tree count so their margins have the same scale, and they
    never look at the rows they will predict.
    """
    booster = lgb.train(
        lgb_params(params, seed, feature_names),
        _dataset(train, feature_names),
        num_boost_round=max(1, n_trees),
    )
    return booster


def _score(metric: str, y: np.ndarray, margin: np.ndarray) -> float:
    """Validation objective to maximise."""
    if metric == "roc_auc":
        return roc_auc(y, margin)
    if metric == "average_precision":
        return pr_auc(y, margin)
    p = np.clip(1.0 / (1.0 + np.exp(-margin)), 1e-6, 1 - 1e-6)
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _suggest(trial: optuna.trial.BaseTrial, base: TrainParams, space: TuningParams) -> TrainParams:
    update = {
        "num_leaves": trial.suggest_int("num_leaves", *space.num_leaves),
        "max_depth": trial.suggest_int("max_depth", *space.max_depth),
        "min_data_in_leaf": trial.suggest_int(
            "min_data_in_leaf", *space.min_data_in_leaf, log=True
        ),
        "learning_rate": trial.suggest_float("learning_rate", *space.learning_rate, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", *space.lambda_l2, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", *space.feature_fraction),
    }
    return base.model_copy(update=update)


def tune(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    feature_names: list[str],
    base: TrainParams,
    space: TuningParams,
    seed: int,
) -> tuple[TrainParams, float]:
    """Seeded TPE search over ``space``, scored on the validation cutoff.

    The first trial is ``base`` itself, so tuning can only keep or improve the default
    on validation. Returns the best params and their validation score.
    """
    y_valid = valid["label"].to_numpy()
    x_valid = valid.loc[:, feature_names].to_numpy(dtype=np.float64)

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, base, space)
        booster = fit_booster(train, valid, feature_names, params, seed)
        return _score(space.metric, y_valid, np.asarray(booster.predict(x_valid, raw_score=True)))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(
        {
            k: getattr(base, k)
            for k in (
                "num_leaves",
                "max_depth",
                "min_data_in_leaf",
                "learning_rate",
                "lambda_l2",
                "feature_fraction",
            )
        },
        skip_if_exists=True,
    )
    study.optimize(objective, n_trials=space.n_trials)
    best = _suggest(optuna.trial.FixedTrial(study.best_params), base, space)
    logger.info("tuning: best %s = %.4f with %s", space.metric, study.best_value, study.best_params)
    return best, float(study.best_value)
