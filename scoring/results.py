"""Score customers: probability, risk level, revenue at risk, reasons, triggered rules.

:func:`score_customers` is the one function batch scoring (``scoring.score``) and the
API (serving) call, so both return identical rows for the same model and features.

Output columns (one row per input row, input order kept):

``customer_id``, ``churn_probability`` (calibrated), ``risk_level`` (low/medium/high),
``value_tier`` (low/medium/high), ``revenue_at_risk``, ``reasons``, ``triggered_rules``,
``as_of`` (the snapshot cutoff), ``model_version``, then for audit
``base_probability`` and ``impact_<FAMILY>`` (probability points; base + impacts ==
churn_probability) and ``reason_codes_version``.

``reasons`` and ``triggered_rules`` are Arrow-backed list-of-struct columns (compact for
millions of rows); reading one cell gives a plain ``list[dict]``:
reasons ``{code, family, impact, feature, value, reference, text_en, text_zh}``,
rules ``{code, text_en, text_zh}``. ``value``/``reference`` are ``None`` when missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from bundle.model import ChurnModel
from bundle.rules import BY_CODE, fired_rules, render_rule
from config.scoring import RulesParams
from features.reason_codes import PROTECTIVE_CODES, REASON_CODES, REASON_CODES_VERSION
from scoring.config import ScoreConfig
from scoring.contributions import tree_contributions
from scoring.reasons import (
    FamilyMap,
    ReasonTable,
    family_contributions,
    family_map,
    reference_matrix,
    resolve_reference,
    select_reasons,
)
from scoring.risk import revenue_at_risk, risk_levels, tier_names
from scoring.sentences import render_many
from scoring.shapley import shapley_impacts

logger = logging.getLogger(__name__)

REASON_TYPE = pa.struct(
    [
        ("code", pa.string()),
        ("family", pa.string()),
        ("impact", pa.float64()),
        ("feature", pa.string()),
        ("value", pa.float64()),
        ("reference", pa.float64()),
        ("text_en", pa.string()),
        ("text_zh", pa.string()),
    ]
)
RULE_TYPE = pa.struct([("code", pa.string()), ("text_en", pa.string()), ("text_zh", pa.string())])
_PROTECTIVE_PREFIX = {"en": "Lowers risk: ", "zh-CN": "降低风险："}
REQUIRED_COLUMNS = ("customer_id", "cutoff", "spend_365d", "value_tier")


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long one phase of scoring took (DEBUG; the benchmark collects these)."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    logger.debug("phase %s took %.3f s", name, seconds, extra={"phase": name, "seconds": seconds})


def _check_columns(snapshot: pd.DataFrame, model: ChurnModel) -> None:
    if snapshot.empty:
        raise ValueError("snapshot has no rows: nothing to score")
    missing = [c for c in (*REQUIRED_COLUMNS, *model.feature_names) if c not in snapshot]
    if missing:
        raise KeyError(f"snapshot lacks required columns: {missing}")


def _texts(
    table: ReasonTable,
    flat: tuple[NDArray[np.intp], ...],
    names: tuple[str, ...],
    lang: str,
    currency: str | None,
) -> NDArray[np.object_]:
    """Sentences of the selected reasons, rendered one feature at a time."""
    feat, values, refs = table.feature[flat], table.value[flat], table.reference[flat]
    out = np.empty(len(feat), dtype=object)
    for j in np.unique(feat):
        sel = feat == j
        out[sel] = render_many(names[j], values[sel], refs[sel], lang, currency)
    prot = table.protective[flat[0]]
    if prot.any():
        out[prot] = [_PROTECTIVE_PREFIX[lang] + t for t in out[prot]]
    return out


def reasons_column(
    table: ReasonTable, fmap: FamilyMap, names: tuple[str, ...], currency: str | None = None
) -> pa.ListArray:
    """The reasons as an Arrow list<struct> column (row-major, best reason first)."""
    flat = np.nonzero(table.family >= 0)  # row-major, so each row's reasons stay in order
    fam = table.family[flat]
    prot = table.protective[flat[0]]
    fam_names = np.array([f.value for f in fmap.families], dtype=object)
    risk_codes = np.array([REASON_CODES[f] for f in fmap.families], dtype=object)
    prot_codes = np.array([PROTECTIVE_CODES[f] for f in fmap.families], dtype=object)
    codes = np.where(prot, prot_codes[fam], risk_codes[fam]) if len(fam) else fam.astype(object)
    structs = pa.StructArray.from_arrays(
        [
            pa.array(codes, pa.string()),
            pa.array(fam_names[fam], pa.string()),
            pa.array(table.impact[flat], pa.float64()),
            pa.array(np.asarray(names, dtype=object)[table.feature[flat]], pa.string()),
            pa.array(table.value[flat], pa.float64(), from_pandas=True),
            pa.array(table.reference[flat], pa.float64(), from_pandas=True),
            pa.array(_texts(table, flat, names, "en", currency), pa.string()),
            pa.array(_texts(table, flat, names, "zh-CN", currency), pa.string()),
        ],
        fields=list(REASON_TYPE),
    )
    counts = (table.family >= 0).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), structs)


def _distinct_rows(frame: pd.DataFrame) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(first row of each distinct row, distinct-row id of every row); floats compared
    bit for bit, so rows sharing an id render the same sentence."""
    keys = []
    for name in frame.columns:
        col = frame[name].to_numpy()
        if col.dtype.kind == "f":
            keys.append(np.ascontiguousarray(col, dtype=np.float64).view(np.int64))
        else:
            keys.append(pd.factorize(col, use_na_sentinel=False)[0].astype(np.int64))
    _, first, codes = np.unique(
        np.stack(keys, axis=1), axis=0, return_index=True, return_inverse=True
    )
    return first, codes.ravel()


def rules_column(snapshot: pd.DataFrame, rules_params: RulesParams) -> pa.ListArray:
    """Triggered vendor rules per row as an Arrow list<struct<code, text_en, text_zh>>.

    Rules are listed in rule order; each rule's sentences are rendered once per
    distinct row of the features it reads.
    """
    fired = fired_rules(snapshot, rules_params)
    rows, codes, en, zh = [], [], [], []
    for k, (code, flags) in enumerate(fired.items()):
        positions = np.flatnonzero(flags)
        if not len(positions):
            continue
        values = snapshot.iloc[positions][list(BY_CODE[code].requires)]
        first, which = _distinct_rows(values)
        records: list[dict[str, Any]] = [
            {str(c): v for c, v in rec.items()} for rec in values.iloc[first].to_dict("records")
        ]
        langs = ("en", "zh-CN")
        texts = np.array(
            [[render_rule(code, r, rules_params, lang) for lang in langs] for r in records],
            dtype=object,
        ).reshape(-1, 2)
        rows.append(positions)
        codes.append(np.full(len(positions), k))
        en.append(texts[which, 0])
        zh.append(texts[which, 1])
    names = np.array(list(fired), dtype=object)
    if rows:
        row, code_i = np.concatenate(rows), np.concatenate(codes)
        order = np.lexsort((code_i, row))  # by row, then rule order
        row, code_i = row[order], code_i[order]
        text_en, text_zh = np.concatenate(en)[order], np.concatenate(zh)[order]
    else:
        row = code_i = np.empty(0, dtype=np.int64)
        text_en = text_zh = np.empty(0, dtype=object)
    structs = pa.StructArray.from_arrays(
        [
            pa.array(names[code_i], pa.string()),
            pa.array(text_en, pa.string()),
            pa.array(text_zh, pa.string()),
        ],
        fields=list(RULE_TYPE),
    )
    offsets = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=len(snapshot)))])
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), structs)


def score_customers(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    params: ScoreConfig,
    rules_params: RulesParams,
    top_k: int,
    *,
    reference: Mapping[str, float] | None = None,
    num_threads: int = 0,
) -> pd.DataFrame:
    """Score every row of ``snapshot`` (customer_id, cutoff, catalog features).

    The parameters are those of :func:`score_columns`; the columns are described in
    the module docstring.
    """
    columns = score_columns(
        model, snapshot, params, rules_params, top_k, reference=reference,
        num_threads=num_threads,
    )  # fmt: skip
    for name in ("reasons", "triggered_rules"):
        columns[name] = pd.arrays.ArrowExtensionArray(columns[name])
    # one constructor call: inserting columns one by one cost more than scoring one row
    return pd.DataFrame(columns, index=pd.RangeIndex(len(snapshot)))


def score_records(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    params: ScoreConfig,
    rules_params: RulesParams,
    top_k: int,
    *,
    reference: Mapping[str, float] | None = None,
    num_threads: int = 0,
) -> list[dict[str, Any]]:
    """:func:`score_customers` as one dict per row, without building a DataFrame.

    The same values as ``score_customers(...).to_dict("records")`` (numpy scalars
    where pandas gives Python ones; reasons and rules as lists of dicts). The API
    scores one customer per request, where making the frame and reading it back cost
    more than the scoring.
    """
    columns = score_columns(
        model, snapshot, params, rules_params, top_k, reference=reference,
        num_threads=num_threads,
    )  # fmt: skip
    values = {
        name: column.to_pylist() if isinstance(column, pa.Array) else column
        for name, column in columns.items()
    }
    return [
        {name: column if isinstance(column, str) else column[i] for name, column in values.items()}
        for i in range(len(snapshot))
    ]


def score_columns(
    model: ChurnModel,
    snapshot: pd.DataFrame,
    params: ScoreConfig,
    rules_params: RulesParams,
    top_k: int,
    *,
    reference: Mapping[str, float] | None = None,
    num_threads: int = 0,
) -> dict[str, Any]:
    """The score columns of every row of ``snapshot``: numpy arrays, the reasons and
    rules as Arrow list arrays, and the two version strings as scalars.

    Parameters
    ----------
    model:
        The loaded bundle.
    snapshot:
        Feature rows as written by the features stage (``latest.parquet``) or by the
        online feature code; needs ``customer_id``, ``cutoff``, the model's features,
        ``spend_365d`` and ``value_tier``.
    params:
        :class:`scoring.config.ScoreConfig` (``reasons``, ``risk``, ``score`` sections).
    rules_params:
        The ``rules`` section (:class:`bundle.rules.RulesParams`).
    top_k:
        Maximum number of reasons per customer.
    reference:
        Population reference values; defaults to the bundle's medians completed from
        ``snapshot``. Pass :func:`scoring.reasons.resolve_reference` of the full batch
        when scoring a handful of customers, so their sentences cite the same medians.
    num_threads:
        LightGBM threads for the prediction and TreeSHAP (0: OpenMP's default). The
        API passes 1: a request scores one customer, and waking a second OpenMP thread
        for one row costs more than the row (milliseconds when the cores are busy);
        the server's parallelism is its workers. Results are identical either way.
    """
    _check_columns(snapshot, model)
    snapshot = model.conform(snapshot)  # value tiers of the bundle, not of params.yaml
    names = model.feature_names
    x = model.matrix(snapshot)
    with _phase("probability"):  # predict, not the SHAP sum: bit-identical on every path
        margin = model.blend(
            np.asarray(model.booster.predict(x, raw_score=True, num_threads=num_threads)), x
        )
        probability = model.calibrator.transform(margin)
    with _phase("contributions"):  # TreeSHAP of the booster + exact linear terms
        contrib = model.blend_contributions(
            tree_contributions(
                model.booster,
                x,
                params.score.contrib_method,
                params.score.dedup_min_rows,
                num_threads,
            ),
            x,
        )
    fmap = family_map(names)
    with _phase("impacts"):
        impacts, base = shapley_impacts(
            family_contributions(contrib, fmap),
            contrib[:, -1],
            model.calibrator,
            params.score.impact_chunk_rows,
            params.score.shapley_max_players,
        )
    tiers = tier_names(snapshot["value_tier"])
    levels = risk_levels(probability, tiers, params.risk)
    population = (
        reference if reference is not None else resolve_reference(model.reference, snapshot, names)
    )
    with _phase("reasons"):
        table = select_reasons(
            impacts,
            contrib,
            x,
            reference_matrix(snapshot, names, population),
            fmap,
            low_risk=levels == "low",
            top_k=top_k,
            min_impact=params.reasons.min_impact,
            protective=params.reasons.low_risk_mode == "protective",
        )
        reasons = reasons_column(table, fmap, names, params.currency)
    with _phase("rules"):
        rules = rules_column(snapshot, rules_params)
    columns: dict[str, Any] = {
        "customer_id": snapshot["customer_id"].astype(str).to_numpy(),
        "churn_probability": probability,
        "risk_level": levels,
        "value_tier": tiers,
        "revenue_at_risk": revenue_at_risk(
            probability,
            snapshot["spend_365d"].to_numpy(float),
            snapshot["return_rate_365d"].to_numpy(float),
            params.horizon_days,
        ),
        "reasons": reasons,
        "triggered_rules": rules,
        "as_of": pd.to_datetime(snapshot["cutoff"]).to_numpy(),
        "model_version": str(model.metadata.get("model_version") or "unregistered"),
        "base_probability": base,
    }
    for i, fam in enumerate(fmap.families):
        columns[f"impact_{fam.value}"] = impacts[:, i]
    columns["reason_codes_version"] = REASON_CODES_VERSION
    return columns


def _arrow_lists(dtype: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(dtype) if pa.types.is_list(dtype) else None


def write_scores(scores: pd.DataFrame, path: str) -> None:
    """Write a scores frame to Parquet (list columns stay list<struct>)."""
    table = pa.Table.from_pandas(scores, preserve_index=False)
    pq.write_table(table.replace_schema_metadata(None), path)


def read_scores(path: str) -> pd.DataFrame:
    """Read a scores Parquet file; ``reasons``/``triggered_rules`` cells are list[dict]."""
    return pq.read_table(path).to_pandas(types_mapper=_arrow_lists)
