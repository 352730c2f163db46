"""The analyst report: what drives churn, who is at risk and why, what is at stake.

:func:`build_report` turns already loaded inputs (the model, a labelled test cutoff,
the scored customers, evaluation metrics) into one self-contained HTML page: figures
are embedded as base64 PNG, styles are inline, nothing is fetched. Headings and
sentences follow ``report.lang`` (``en`` or ``zh-CN``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bundle.model import ChurnModel
from config.report import ReportParams
from features.catalog import BY_NAME
from features.wording import FAMILY_LABELS, FEATURE_LABELS, TIER_LABELS, label
from report import plots
from report.alerts_section import alerts_section
from report.webfont import with_font_face
from scoring.contributions import tree_contributions
from scoring.reasons import FamilyMap, family_contributions, family_map
from scoring.shapley import shapley_impacts

Array = NDArray[np.float64]
TEMPLATES = Path(__file__).parent / "templates"
AT_RISK = ("medium", "high")
NO_REASON = "NO_REASON"
LEVEL_ZH = {"low": "低", "medium": "中", "high": "高"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Churn early-warning report", "data": "Data and model",
        "metrics": "Model vs baselines (held-out cutoff)", "reliability": "Calibration",
        "drivers": "What drives churn overall", "by_feature": "Mean |impact| by feature",
        "by_family": "Mean |impact| by reason family", "beeswarm": "Impact per customer",
        "shap_x": "impact on churn probability (percentage points)",
        "impact_abs": "mean |impact| (percentage points)", "dependence": "Dependence plots",
        "colour": "feature value", "low": "low", "high": "high",
        "root_cause": "Root causes among at-risk customers",
        "root_cause_note": "Share of medium/high-risk customers by their top reason code.",
        "overall": "overall", "share": "share of at-risk customers",
        "tier_axis": "customer value tier (revenue, not risk)",
        "top": "Top at-risk customers by revenue at risk", "customer": "customer",
        "probability": "churn probability", "risk": "risk", "tier": "value tier",
        "revenue": "revenue at risk", "reasons": "reasons", "perfect": "perfectly calibrated",
        "model": "model", "pred": "mean predicted probability", "obs": "observed churn rate",
        "no_metrics": "reports/metrics.json has no model/baseline metrics.",
        "reference_note": "Population references computed from the scored snapshot "
        "(the model bundle lacks them): ",
    },
    "zh-CN": {
        "title": "客户流失预警报告", "data": "数据与模型",
        "metrics": "模型与基线对比（留出截止日）", "reliability": "概率校准",
        "drivers": "整体流失驱动因素", "by_feature": "各特征平均 |影响|",
        "by_family": "各原因类别平均 |影响|", "beeswarm": "每位客户的影响",
        "shap_x": "对流失概率的影响（百分点）",
        "impact_abs": "平均 |影响|（百分点）", "dependence": "依赖图",
        "colour": "特征值", "low": "低", "high": "高",
        "root_cause": "高风险客户的主要原因分布",
        "root_cause_note": "中/高风险客户按首要原因代码的占比。",
        "overall": "全部", "share": "占高风险客户比例",
        "tier_axis": "客户价值分层（按收入，非风险）",
        "top": "按风险收入排序的高风险客户", "customer": "客户",
        "probability": "流失概率", "risk": "风险", "tier": "价值等级",
        "revenue": "风险收入", "reasons": "原因", "perfect": "完美校准",
        "model": "模型", "pred": "平均预测概率", "obs": "实际流失率",
        "no_metrics": "reports/metrics.json 中没有模型/基线指标。",
        "reference_note": "以下特征的参考值由本次评分快照计算（模型包中缺失）：",
    },
}  # fmt: skip


#: beeswarm text -> TEXT key
BEESWARM_TEXT = {
    "title": "beeswarm", "x": "shap_x", "colour": "colour", "low": "low", "high": "high"
}  # fmt: skip


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report shows, loaded by the report stage."""

    model: ChurnModel
    test: pd.DataFrame  # labelled rows of the held-out cutoff (features + label)
    sample: pd.DataFrame  # feature rows explained for the global drivers
    scores: pd.DataFrame  # output of score_customers (all current customers)
    metrics: dict[str, Any]
    facts: dict[str, str] = field(default_factory=dict)  # data range, cutoffs, model
    reference_from_snapshot: list[str] = field(default_factory=list)
    alerts_performance: dict[str, Any] | None = None  # alerts stage's file; None: no file


def reliability_bins(y: Array, p: Array, bins: int) -> tuple[Array, Array, Array]:
    """Equal-width probability bins: mean predicted, observed rate, count (non-empty)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins).astype(float)
    pred = np.bincount(idx, weights=p, minlength=bins)
    obs = np.bincount(idx, weights=y.astype(float), minlength=bins)
    keep = counts > 0
    return pred[keep] / counts[keep], obs[keep] / counts[keep], counts[keep]


def metrics_table(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows ``model`` + each baseline, columns = numeric metrics they report."""
    rows_in: dict[str, dict[str, Any]] = {}
    if isinstance(metrics.get("model"), dict):
        rows_in["model"] = metrics["model"]
    for name, vals in (metrics.get("baselines") or {}).items():
        if isinstance(vals, dict):
            rows_in[name] = vals
    columns: list[str] = []
    for vals in rows_in.values():
        columns += [
            k
            for k, v in vals.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k not in columns
        ]
    rows = [
        [name] + [_metric(vals.get(c), count=c in COUNT_COLUMNS) for c in columns]
        for name, vals in rows_in.items()
    ]
    return columns, rows


COUNT_COLUMNS = {"n"}  # JSON stores them as floats (3368.0); shown as 3,368


def _metric(value: Any, count: bool = False) -> str:
    """Counts as integers, rates and scores with four decimals, absent as blank."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if count or isinstance(value, int):
        return f"{round(value):,}"
    return f"{value:.4f}"


def top_reason_codes(scores: pd.DataFrame) -> pd.Series:
    """The first reason code of each customer (``NO_REASON`` when the list is empty)."""
    return pd.Series(
        [rs[0]["code"] if len(rs) else NO_REASON for rs in scores["reasons"]],
        index=scores.index,
    )


def root_cause_shares(scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Share of at-risk customers by top reason code: ``overall`` and per value tier."""
    at_risk = scores[scores["risk_level"].isin(AT_RISK)]
    codes = top_reason_codes(at_risk)
    out = {"overall": codes.value_counts(normalize=True).to_dict()}
    for tier in ("low", "medium", "high"):
        sel = codes[at_risk["value_tier"] == tier]
        if len(sel):
            out[tier] = sel.value_counts(normalize=True).to_dict()
    return {g: {str(k): float(v) for k, v in d.items()} for g, d in out.items()}


def _group(group: str, lang: str) -> str:
    """A root-cause group: ``overall`` or a value tier, read as a value tier."""
    if group == "overall":
        return TEXT[lang]["overall"]
    return label(TIER_LABELS, group, lang)


def _level(name: str, lang: str) -> str:
    return LEVEL_ZH.get(name, name) if lang == "zh-CN" else name


def top_customers(scores: pd.DataFrame, n: int, lang: str) -> list[dict[str, Any]]:
    """The ``n`` at-risk customers with the most revenue at risk, with their reasons."""
    at_risk = scores[scores["risk_level"].isin(AT_RISK)]
    top = at_risk.nlargest(n, "revenue_at_risk")
    key = "text_en" if lang == "en" else "text_zh"
    return [
        {
            "customer": str(r["customer_id"]), "probability": f"{r['churn_probability']:.2f}",
            "risk": _level(str(r["risk_level"]), lang), "tier": _level(str(r["value_tier"]), lang),
            "revenue": f"{r['revenue_at_risk']:,.0f}",
            "reasons": [f"{x['code']}: {x[key]}" for x in r["reasons"]],
        }
        for r in top.to_dict("records")
    ]  # fmt: skip


def global_figures(inputs: ReportInputs, params: ReportParams, seed: int) -> dict[str, Any]:
    """Mean |SHAP| by feature and family, beeswarm and dependence plots (base64)."""
    t = TEXT[params.lang]
    model, names = inputs.model, list(inputs.model.feature_names)
    x = model.matrix(inputs.sample)
    contrib = model.blend_contributions(tree_contributions(model.booster, x, "auto", 5000), x)
    fmap = family_map(model.feature_names)
    points = probability_points(contrib, fmap, model)
    by_feature = np.abs(points).mean(axis=0)
    by_family = np.abs(points @ fmap.onehot).mean(axis=0)
    top = np.argsort(by_feature)[::-1][: params.top_features]
    lang = params.lang
    top_names = [label(FEATURE_LABELS, names[j], lang) for j in top]
    families = [FAMILY_LABELS[f][lang == "zh-CN"] for f in fmap.families]
    return {
        "by_feature": plots.bar_chart(top_names, by_feature[top], t["by_feature"], t["impact_abs"]),
        "by_family": plots.bar_chart(families, by_family, t["by_family"], t["impact_abs"]),
        "beeswarm": plots.beeswarm(
            points[:, top],
            x[:, top],
            top_names,
            {k: t[k2] for k, k2 in BEESWARM_TEXT.items()},
            seed,
        ),
        "dependence": [
            {
                "name": label(FEATURE_LABELS, names[j], lang),
                "unit": BY_NAME[names[j]].unit,
                "png": plots.dependence(
                    x[:, j], points[:, j], label(FEATURE_LABELS, names[j], lang), t["shap_x"]
                ),
            }
            for j in top[: params.n_dependence]
        ],
    }


def probability_points(contrib: Array, fmap: FamilyMap, model: ChurnModel) -> Array:
    """(n, p) feature impacts in percentage points of the calibrated probability.

    Families get their exact Shapley impacts on the probability (as the API's reasons);
    each family's impact is shared among its features in proportion to their log-odds
    contributions, so a customer's row still sums to probability - base probability.
    """
    fam = family_contributions(contrib, fmap)
    fam_points, _ = shapley_impacts(fam, contrib[:, -1], model.calibrator, 2000)
    own = contrib[:, : len(fmap.member)]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(fam[:, fmap.member] != 0, own / fam[:, fmap.member], 0.0)
    return np.asarray(100.0 * fam_points[:, fmap.member] * share)


def build_report(inputs: ReportInputs, params: ReportParams, seed: int) -> str:
    """Render the full HTML report."""
    t = TEXT[params.lang]
    y = inputs.test["label"].to_numpy()
    pred, obs, counts = reliability_bins(
        y, inputs.model.predict_proba(inputs.test), params.reliability_bins
    )
    shares = root_cause_shares(inputs.scores)
    codes = sorted({c for d in shares.values() for c in d})
    columns, rows = metrics_table(inputs.metrics)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = env.get_template("report.html.j2").render(
        t=t, lang=params.lang, facts=inputs.facts, metric_columns=columns, metric_rows=rows,
        reliability=plots.reliability(
            pred, obs, counts,
            {"perfect": t["perfect"], "model": t["model"], "x": t["pred"], "y": t["obs"],
             "title": t["reliability"]},
        ),
        figures=global_figures(inputs, params, seed),
        shares=shares, share_codes=codes,
        group_labels={g: _group(g, params.lang) for g in shares},
        root_cause_png=plots.stacked_shares(
            {_group(g, params.lang): v for g, v in shares.items()},
            codes, t["root_cause"], t["share"], t["tier_axis"],
        ),
        customers=top_customers(inputs.scores, params.top_customers, params.lang),
        reference_note=inputs.reference_from_snapshot,
        alerts=alerts_section(inputs.alerts_performance, params.lang),
    )  # fmt: skip
    return with_font_face(html)
