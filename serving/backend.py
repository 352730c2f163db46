"""The real backend: the pipeline's model bundle, params, snapshot and scoring code.

This module is the one place serving touches the rest of the project:

- the model: ``models:/churn-lgbm@champion`` through :mod:`bundle.pyfunc`, or a
  local bundle directory (:meth:`bundle.model.ChurnModel.load`) for development;
- the params: ``reasons``/``risk``/``score``/``features``/``rules``/``data`` sections of
  params.yaml, parsed with the same typed models as the pipeline stages;
- batch answers: :func:`scoring.score.score_snapshot` (the ``score`` stage's function,
  population references resolved on the whole snapshot) with ``reasons.top_k`` raised
  to the most reasons the API serves — reasons are ranked, so the first ``top_k`` equal
  the batch file's;
- online answers: :func:`ingest.ingest.validate_records` (ingest's row checks) ->
  :func:`features.online.build_online` (the batch feature definitions, in-process) ->
  :func:`scoring.results.score_customers` with the snapshot's references.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bundle.model import ChurnModel
from config.data import DataParams
from config.features import FeatureParams
from config.root import Params, load_params
from config.scoring import RulesParams
from features.catalog import BY_NAME
from features.online import build_online
from ingest.ingest import validate_records
from ingest.schema import REQUIRED_COLUMNS
from scoring.config import ScoreConfig, score_config
from scoring.reasons import resolve_reference
from scoring.results import score_records
from scoring.score import score_snapshot
from serving.service import InvalidOrders, Loaded
from serving.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineParams:
    """What serving needs from params.yaml and the bundle, fixed once per (re)load.

    The horizon (revenue at risk) and the value tiers (online features) come from the
    model bundle, never from params.yaml: ``mismatch`` lists where the two disagree so
    ``/v1/model`` can report it.
    """

    score: ScoreConfig
    rules: RulesParams
    features: FeatureParams
    data: DataParams
    mismatch: tuple[str, ...] = ()

    @classmethod
    def for_model(cls, params: Params, model: ChurnModel) -> PipelineParams:
        return cls(
            score=score_config(params, model.horizon_days),
            rules=params.rules,
            features=model.feature_params(params.features),
            data=params.data,
            mismatch=tuple(model.params_mismatch(params.features)),
        )


@dataclass(frozen=True)
class PipelineScorer:
    """Scores with one model, the params it was loaded with and the snapshot references."""

    model: ChurnModel
    params: PipelineParams
    reference: Mapping[str, float]
    order_columns: frozenset[str]

    def score_batch(self, snapshot: pd.DataFrame, top_k: int) -> pd.DataFrame:
        batches = score_snapshot(self.model, snapshot, self.params.score, self.params.rules, top_k)
        return pd.concat(batches, ignore_index=True)

    def score_online(
        self,
        customer_id: str,
        orders: Sequence[Mapping[str, Any]],
        as_of: datetime,
        top_k: int,
        signals: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> list[dict[str, Any]]:
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
                checked.frame,
                as_of,
                self.params.features,
                columns=self.order_columns,
                signals=_own_rows(customer_id, signals),
            )
        except ValueError as exc:
            raise InvalidOrders(str(exc), [_detail(None, "orders", str(exc))]) from exc
        if features.empty:
            message = "no completed order before as_of: nothing to score"
            raise InvalidOrders(message, [_detail(None, "orders", message)])
        return score_records(
            self.model, features, self.params.score, self.params.rules, top_k,
            reference=self.reference, num_threads=1,  # one customer: no OpenMP fan-out
        )  # fmt: skip


def _own_rows(
    customer_id: str, signals: Mapping[str, Sequence[Mapping[str, Any]]] | None
) -> dict[str, list[dict[str, Any]]] | None:
    """Signal rows carrying the request's customer id (a different id is an error)."""
    if signals is None:
        return None
    out: dict[str, list[dict[str, Any]]] = {}
    for table, rows in signals.items():
        out[table] = []
        for index, row in enumerate(rows):
            given = row.get("customer_id")
            if given is not None and str(given) != customer_id:
                message = f"signals.{table} row customer_id {given!r} differs from {customer_id!r}"
                raise InvalidOrders(message, [_detail(index, f"signals.{table}", message)])
            out[table].append({**row, "customer_id": customer_id})
    return out


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
        model, info = self._model()
        params = PipelineParams.for_model(load_params(self.settings.params_path), model)
        info["params_mismatch"] = list(params.mismatch)
        for problem in params.mismatch:
            logger.warning("params.yaml disagrees with the served bundle: %s", problem)
        snapshot = read_snapshot(self.settings.snapshot_path)
        reference = resolve_reference(model.reference, snapshot, model.feature_names)
        scorer = PipelineScorer(model, params, reference, order_columns(model.feature_names))
        return Loaded(scorer, snapshot, info, params.score.reasons.top_k)

    def _model(self) -> tuple[ChurnModel, dict[str, Any]]:
        s = self.settings
        if s.model_dir is not None:
            model = ChurnModel.load(s.model_dir)
            return model, model_info(model, uri=str(s.model_dir))
        from bundle.pyfunc import load_registered_bundle  # mlflow only when needed

        name, alias = parse_alias_uri(s.model_uri)
        model, version = load_registered_bundle(s.mlflow_tracking_uri, name, alias)
        info = model_info(model, uri=s.model_uri, name=name, alias=alias)
        info["metrics"]["run"] = run_metrics(s.mlflow_tracking_uri, name, version)
        return model, info


class SnapshotError(RuntimeError):
    """The snapshot file is missing, partial or not a feature snapshot."""


def read_snapshot(path: Path) -> pd.DataFrame:
    """The latest feature snapshot, or :class:`SnapshotError` naming the file.

    The ``features`` stage writes it to a temporary name and renames it into place, so
    a reader sees the old or the new file; a truncated copy (no Parquet footer) or a
    file of another kind is refused here, before anything is scored from it.
    """
    try:
        snapshot = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for broken files
        raise SnapshotError(f"snapshot {path}: unreadable ({exc})") from exc
    missing = [c for c in ("customer_id", "cutoff") if c not in snapshot.columns]
    if missing:
        raise SnapshotError(f"snapshot {path}: not a feature snapshot (no column {missing})")
    return snapshot


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
        "reason_catalog_version": model.reason_codes_version,
        "rules_version": model.rules_version,
        "horizon_days": model.horizon_days,
        "value_tiers": model.value_tiers.model_dump(),
        "params_mismatch": [],
    }


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
