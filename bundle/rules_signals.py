"""Vendor rules on the signal features (issue 14), evaluated beside the model.

``RULE_CONTRACT_ENDING``  a live contract without auto-renewal ends within N days
                          (``rules.contract_end_days``; CRMs remind reps 30 days ahead)
``RULE_COMPLAINT_SPIKE``  at least ``rules.complaint_spike_min`` complaints in the last
                          30 days, more than the monthly average of the 90 days before
``RULE_PAYMENT_OVERDUE``  an invoice more than ``rules.payment_overdue_days`` days past due

Kept as plain specs and functions (no import of :mod:`bundle.rules`), which appends
them to its rule set; a rule is active only when its features are (a company that maps
no contracts gets no contract rule).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from config.scoring import RulesParams

#: (code, required features, template en, template zh-CN)
SIGNAL_RULE_SPECS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    (
        "RULE_CONTRACT_ENDING",
        ("days_to_end_no_autorenew",),
        "Contract ends in {days} days and does not auto-renew (rule: within {threshold} days)",
        "合同将于 {days} 天后到期，且未设置自动续约（规则：{threshold} 天内）",
    ),
    (
        "RULE_COMPLAINT_SPIKE",
        ("complaints_30d", "complaints_120d"),
        "{count} complaints in the last 30 days, {before} in the 90 days before "
        "(rule: at least {threshold}, above the monthly average)",
        "近 30 天投诉 {count} 次，此前 90 天 {before} 次（规则：至少 {threshold} 次且高于月均）",
    ),
    (
        "RULE_PAYMENT_OVERDUE",
        ("max_days_overdue",),
        "An invoice is {days} days overdue (rule: more than {threshold} days)",
        "有发票已逾期 {days} 天（规则：超过 {threshold} 天）",
    ),
)


#: What a rule check returns: one flag per row (NaN inputs compare False).
RuleFlags = NDArray[np.bool_]


def rule_input(frame: pd.DataFrame, column: str) -> NDArray[np.float64]:
    """The column as float64 numbers (text that is no number is an error).

    Rules run on numpy arrays, not Series: on the one-row frames of online scoring the
    per-operation overhead of pandas cost more than all the rules' arithmetic.
    """
    series = frame[column]
    if series.dtype.kind not in "biuf":
        series = pd.to_numeric(series, errors="raise")
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _contract(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    return rule_input(frame, "days_to_end_no_autorenew") <= params.contract_end_days


def _complaints(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    last = rule_input(frame, "complaints_30d")
    before = rule_input(frame, "complaints_120d") - last
    return (last >= params.complaint_spike_min) & (last > before / 3.0)


def _payment(frame: pd.DataFrame, params: RulesParams) -> RuleFlags:
    return rule_input(frame, "max_days_overdue") > params.payment_overdue_days


SIGNAL_CHECKS: dict[str, Callable[[pd.DataFrame, RulesParams], RuleFlags]] = {
    "RULE_CONTRACT_ENDING": _contract,
    "RULE_COMPLAINT_SPIKE": _complaints,
    "RULE_PAYMENT_OVERDUE": _payment,
}


def signal_rule_values(code: str, row: Mapping[str, Any], params: RulesParams) -> dict[str, Any]:
    """Template fields of a signal rule on one feature row; KeyError for another code."""
    if code == "RULE_CONTRACT_ENDING":
        days = float(row["days_to_end_no_autorenew"])
        return {"days": f"{days:.0f}", "threshold": params.contract_end_days}
    if code == "RULE_COMPLAINT_SPIKE":
        last = float(row["complaints_30d"])
        return {
            "count": f"{last:.0f}",
            "before": f"{float(row['complaints_120d']) - last:.0f}",
            "threshold": params.complaint_spike_min,
        }
    if code == "RULE_PAYMENT_OVERDUE":
        days = float(row["max_days_overdue"])
        return {"days": f"{days:.0f}", "threshold": params.payment_overdue_days}
    raise KeyError(code)
