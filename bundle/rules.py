"""The vendor rule set that CRMs ship today, evaluated beside the model.

Rules read only catalog features (so batch scoring, the API and training evaluate them
identically), have stable codes, and a sentence template in ``en`` and ``zh-CN``.
Training measures them as a baseline (precision, recall, flag rate); the API returns
the triggered ones as ``triggered_rules``.

Rules
-----
``RULE_INACTIVE``         no order for at least N days, N set per value tier
``RULE_SPEND_DROP``       spend in the last 30 days down by at least a share vs the
                          average month of the 60 days before (month over month; the
                          catalog has 30- and 90-day windows, so the previous "month"
                          is (spend_90d - spend_30d) / 2)
``RULE_RETURNS``          returned + cancelled value share of spend, or the share of
                          orders cancelled, over the last 365 days above its threshold
                          (the sentence names both, each with its own threshold)
``RULE_CATEGORY_MISSED``  a regular category was not bought in the last 90 days (only
                          when the source has categories)

and the rules on signal tables (contract ending, complaint spike, payment overdue) of
:mod:`bundle.rules_signals`, active when those tables are mapped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bundle.rules_signals import (
    SIGNAL_CHECKS,
    SIGNAL_RULE_SPECS,
    RuleFlags,
    rule_input,
    signal_rule_values,
)
from config.features import TIER_NAMES
from config.scoring import RulesParams

RULES_VERSION = "1.1.0"  # 1.1.0: rules on signal tables (issue 14)


@dataclass(frozen=True)
class Rule:
    """One vendor rule: a stable code, the features it reads and its sentences.

    Templates are ``str.format`` strings; their fields come from :func:`rule_values`.
    """

    code: str
    requires: tuple[str, ...]
    template_en: str
    template_zh: str


RULES: tuple[Rule, ...] = (
    Rule(
        "RULE_INACTIVE",
        ("days_since_last_order", "value_tier"),
        "No order for {days} days (rule for {tier}-value customers: {threshold} days)",
        "已 {days} 天未下单（{tier_zh}价值客户规则：{threshold} 天）",
    ),
    Rule(
        "RULE_SPEND_DROP",
        ("spend_30d", "spend_90d"),
        "Spend in the last 30 days fell {drop_pct}% vs the 30-day average of days 30–90 "
        "(rule: {threshold_pct}%)",
        "近 30 天消费较第 30–90 天的 30 天平均水平下降 {drop_pct}%（规则：{threshold_pct}%）",
    ),
    Rule(
        "RULE_RETURNS",
        ("return_rate_365d", "cancel_rate_365d"),
        "Returned or cancelled goods worth {return_pct}% of spend (rule: above "
        "{return_max_pct}%) and {cancel_pct}% of orders cancelled (rule: above "
        "{cancel_max_pct}%) in the last 365 days",
        "近 365 天退货及取消金额占消费的 {return_pct}%（规则：超过 {return_max_pct}%），"
        "取消订单占比 {cancel_pct}%（规则：超过 {cancel_max_pct}%）",
    ),
    Rule(
        "RULE_CATEGORY_MISSED",
        ("regular_categories_missed_90d",),
        "Stopped buying {missed} regular categories in the last 90 days",
        "近 90 天停止购买 {missed} 个常购品类",
    ),
)
RULES = RULES + tuple(Rule(*spec) for spec in SIGNAL_RULE_SPECS)  # issue 14
RULE_CODES: tuple[str, ...] = tuple(r.code for r in RULES)
BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
_TIER_ZH = {"low": "低", "medium": "中", "high": "高"}


def active_rules(columns: set[str] | frozenset[str] | pd.Index) -> list[Rule]:
    """Rules whose required feature columns are all present."""
    have = set(columns)
    return [r for r in RULES if set(r.requires) <= have]


def _inactive(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    tier = rule_input(frame, "value_tier")
    bad = ~np.isin(tier, (0.0, 1.0, 2.0)) & ~np.isnan(tier)
    if bad.any():
        pos = int(np.argmax(bad))
        raise ValueError(
            f"value_tier must be 0, 1 or 2; row {frame.index[pos]!r} has {tier[pos]!r}"
        )
    days = params.inactivity_days
    threshold = np.select(
        [tier == 0.0, tier == 1.0, tier == 2.0], [days.low, days.medium, days.high], np.nan
    )
    return rule_input(frame, "days_since_last_order") >= threshold


def _spend_drop(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    last = rule_input(frame, "spend_30d")
    before = (rule_input(frame, "spend_90d") - last) / 2.0
    return (before > 0) & (last <= (1.0 - params.spend_drop_share) * before)


def _returns(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    returns = rule_input(frame, "return_rate_365d") > params.return_rate_max
    cancels = rule_input(frame, "cancel_rate_365d") > params.cancel_rate_max
    return returns | cancels


def _category(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    missed = rule_input(frame, "regular_categories_missed_90d")
    return missed >= params.regular_categories_missed_min


_CHECKS: dict[str, Callable[[pd.DataFrame, RulesParams], RuleFlags]] = {
    "RULE_INACTIVE": _inactive,
    "RULE_SPEND_DROP": _spend_drop,
    "RULE_RETURNS": _returns,
    "RULE_CATEGORY_MISSED": _category,
    **SIGNAL_CHECKS,
}


def evaluate_rules(features_df: pd.DataFrame, rules_params: RulesParams) -> pd.DataFrame:
    """Which rules fire for each row: one boolean column per active rule code.

    A missing feature value (NaN) never triggers a rule. Rules whose features are
    absent from ``features_df`` (e.g. categories) are left out, not filled with False.
    """
    out = fired_rules(features_df, rules_params)
    return pd.DataFrame(out, index=features_df.index, columns=list(out))


def fired_rules(features_df: pd.DataFrame, rules_params: RulesParams) -> dict[str, RuleFlags]:
    """:func:`evaluate_rules` as one boolean array per active rule code (no frame)."""
    # NaN compares False, so a missing value never fires
    return {
        rule.code: np.asarray(_CHECKS[rule.code](features_df, rules_params), dtype=bool)
        for rule in active_rules(features_df.columns)
    }


def rule_values(code: str, row: Mapping[str, Any], rules_params: RulesParams) -> dict[str, Any]:
    """Template fields for rule ``code`` on one feature row (numbers pre-formatted)."""
    if code == "RULE_INACTIVE":
        tier = TIER_NAMES[int(row["value_tier"])]
        threshold = getattr(rules_params.inactivity_days, tier)
        return {
            "days": f"{float(row['days_since_last_order']):.0f}",
            "tier": tier,
            "tier_zh": _TIER_ZH[tier],
            "threshold": threshold,
        }
    if code == "RULE_SPEND_DROP":
        last = float(row["spend_30d"])
        before = (float(row["spend_90d"]) - last) / 2.0
        drop = 1.0 - last / before if before > 0 else 0.0
        return {
            "drop_pct": f"{drop * 100:.0f}",
            "threshold_pct": f"{rules_params.spend_drop_share * 100:.0f}",
        }
    if code == "RULE_RETURNS":
        ret, can = float(row["return_rate_365d"]), float(row["cancel_rate_365d"])
        return {
            "return_pct": f"{np.nan_to_num(ret) * 100:.1f}",
            "cancel_pct": f"{np.nan_to_num(can) * 100:.1f}",
            "return_max_pct": f"{rules_params.return_rate_max * 100:g}",
            "cancel_max_pct": f"{rules_params.cancel_rate_max * 100:g}",
        }
    if code == "RULE_CATEGORY_MISSED":
        return {"missed": f"{float(row['regular_categories_missed_90d']):.0f}"}
    if code in SIGNAL_CHECKS:
        return signal_rule_values(code, row, rules_params)
    raise KeyError(f"unknown rule code {code!r}; known: {list(RULE_CODES)}")


def render_rule(
    code: str, row: Mapping[str, Any], rules_params: RulesParams, lang: str = "en"
) -> str:
    """The sentence for rule ``code`` on one feature row, in ``en`` or ``zh-CN``."""
    if lang not in ("en", "zh-CN"):
        raise ValueError(f"lang must be 'en' or 'zh-CN', got {lang!r}")
    rule = BY_CODE.get(code)
    if rule is None:
        raise KeyError(f"unknown rule code {code!r}; known: {list(RULE_CODES)}")
    template = rule.template_en if lang == "en" else rule.template_zh
    return template.format(**rule_values(code, row, rules_params))
