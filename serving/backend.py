"""The real backend: the pipeline's model bundle, params, snapshot and scoring code.

This module is the one place serving touches the rest of the project:

- the model: ``models:/churn-lgbm@champion`` through :mod:`scoring.mlflow_model`, or a
  local bundle directory (:meth:`scoring.model.ChurnModel.load`) for development;
- the params: ``reasons``/``risk``/``score``/``features``/``rules``/``data`` sections of
  params.yaml, parsed with the same typed models as the pipeline stages;
- batch answers: :func:`scoring.score.score_snapshot` (the ``score`` stage's function,
  population references resolved on the whole snapshot) with ``reasons.top_k`` raised
  to the most reasons the API serves — reasons are ranked, so the first ``top_k`` equal
  the batch file's;
- online answers: :func:`features.ingest.validate_records` (ingest's row checks) ->
  :func:`features.online.build_online` (the batch feature SQL) ->
  :func:`scoring.results.score_customers` with the snapshot's references.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from features.catalog import BY_NAME
from features.config import DataParams, FeatureParams
from features.expressions import REQUIRED_COLUMNS
from features.ingest import validate_records
from features.online import build_online
from features.params import load_section, read_params
from scoring.config import ScoreConfig, load_score_config
from scoring.model import ChurnModel
from scoring.reasons import REASON_CODES_VERSION, resolve_reference
from scoring.results import score_customers
from scoring.rules import RULES_VERSION, RulesParams
from scoring.score import score_snapshot
from serving.service import InvalidOrders, Loaded
from serving.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineParams:
    """The params sections serving needs, parsed once per (re)load."""

    score: ScoreConfig
    rules: RulesParams
    features: FeatureParams
    data: DataParams

    @classmethod
    def read(cls, path: str) -> PipelineParams:
        raw = read_params(path)
        return cls(
            score=load_score_config(raw),
            rules=load_section(raw, "rules", RulesParams),
            features=load_section(raw, "features", FeatureParams),
            data=load_section(raw, "data", DataParams),
        )

    def with_top_k(self, top_k: int) -> ScoreConfig:
        """The score config with ``reasons.top_k`` replaced (frozen models are copied)."""
        reasons = self.score.reasons.model_copy(update={"top_k": top_k})
        return self.score.model_copy(update={"reasons": reasons})


@dataclass(frozen=True)
class PipelineScorer:
    """Scores with one model, the params it was loaded with and the snapshot references."""

    model: ChurnModel
    params: PipelineParams
    reference: Mapping[str, float]
    order_columns: frozenset[str]

    def score_batch(self, snapshot: pd.DataFrame, top_k: int) -> pd.DataFrame:
        batches = score_snapshot(
            self.model, snapshot, self.params.with_top_k(top_k), self.params.rules
        )
        return pd.concat(batches, ignore_index=True)

    def score_online(
        self, customer_id: str, orders: Sequence[Mapping[str, Any]], as_of: datetime, top_k: int
    ) -> pd.DataFrame:
        records = [_with_customer(customer_id, i, order) for i, order in enumerate(orders)]
        checked = validate_records(records, self.params.data)
        if checked.errors:
            details = [
                {"index": e.index, "field": e.field, "message": e.reason, "value": e.value}
                for e in checked.errors
            ]
            raise InvalidOrders(f"{len(details)} order(s) failed validation", details)
        try:
            features = build_online(
                checked.frame, as_of, self.params.features, columns=self.order_columns
            )
        except ValueError as exc:
            raise InvalidOrders(str(exc), [_detail(None, "orders", str(exc))]) from exc
        if features.empty:
            message = "no completed order before as_of: nothing to score"
            raise InvalidOrders(message, [_detail(None, "orders", message)])
        return score_customers(
            self.model, features, self.params.score, self.params.rules, top_k,
            reference=self.reference,
        )  # fmt: skip


def _with_customer(customer_id: str, index: int, order: Mapping[str, Any]) -> dict[str, Any]:
    """An order record carrying the request's customer id (a different id is an error)."""
    given = order.get("customer_id")
    if given is not None and str(given) != customer_id:
        message = f"order customer_id {given!r} differs from the request's {customer_id!r}"
        raise InvalidOrders(message, [_detail(index, "customer_id", message)])
    return {**order, "customer_id": customer_id}


def _detail(index: int | None, field: str, message: str) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def order_columns(feature_names: Sequence[str]) -> frozenset[str]:
    """Canonical order columns the model's features were built from."""
    optional = {col for name in feature_names for col in BY_NAME[name].requires}
    return frozenset(REQUIRED_COLUMNS) | optional


class PipelineBackend:
    """Loads params, the model (registry or local bundle) and the latest snapshot."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load(self) -> Loaded:
        params = PipelineParams.read(str(self.settings.params_path))
        model, info = self._model()
        snapshot = pd.read_parquet(self.settings.snapshot_path)
        reference = resolve_reference(model.reference, snapshot, model.feature_names)
        scorer = PipelineScorer(model, params, reference, order_columns(model.feature_names))
        return Loaded(scorer, snapshot, info, params.score.reasons.top_k)

    def _model(self) -> tuple[ChurnModel, dict[str, Any]]:
        s = self.settings
        if s.model_dir is not None:
            model = ChurnModel.load(s.model_dir)
            return model, model_info(model, uri=str(s.model_dir))
        from scoring.mlflow_model import load_registered_bundle  # mlflow only when needed

        name, alias = parse_alias_uri(s.model_uri)
        model, version = load_registered_bundle(s.mlflow_tracking_uri, name, alias)
        info = model_info(model, uri=s.model_uri, name=name, alias=alias)
        info["metrics"]["run"] = run_metrics(s.mlflow_tracking_uri, name, version)
        return model, info


def run_metrics(tracking_uri: str, name: str, version: str) -> dict[str, float] | None:
    """Test metrics of the model and every baseline, as logged on the version's MLflow run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        return None
    return dict(sorted(client.get_run(run_id).data.metrics.items()))


def parse_alias_uri(uri: str) -> tuple[str, str]:
    """``models:/<name>@<alias>`` -> (name, alias)."""
    prefix = "models:/"
    if not uri.startswith(prefix) or "@" not in uri:
        raise ValueError(f"model URI must look like models:/<name>@<alias>, got {uri!r}")
    name, alias = uri[len(prefix) :].split("@", 1)
    return name, alias


def model_info(
    model: ChurnModel, uri: str, name: str | None = None, alias: str | None = None
) -> dict[str, Any]:
    """What GET /v1/model reports, from the bundle metadata."""
    meta = model.metadata
    return {
        "name": name or meta.get("registered_model_name") or "churn-lgbm",
        "version": _str(meta.get("model_version")),
        "alias": alias or _str(meta.get("alias")),
        "uri": uri,
        "trained_at": _str(meta.get("trained_at")),
        "data_range": meta.get("data_range"),
        "metrics": {"model": meta.get("test_metrics"), "gate": meta.get("gate")},
        "feature_names": list(model.feature_names),
        "catalog_version": model.catalog_version,
        "reason_catalog_version": REASON_CODES_VERSION,
        "rules_version": RULES_VERSION,
    }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
