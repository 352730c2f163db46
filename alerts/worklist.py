"""The alert worklist of one scoring cycle: who to contact now, why, and what to do.

Pure functions of the scores, the alert history and the ``alerts`` params:

1. **Eligible**: ``risk_level`` in ``alerts.risk_levels`` and probability at least
   ``alerts.min_probability``.
2. **Cooldown**: a customer alerted (delivered or held out) within ``cooldown_days``
   before this cycle is skipped unless the probability rose by ``cooldown_risk_rise``.
3. **Ranked by expected value saved**: ``revenue_at_risk`` of the score stage, which is
   already *probability x expected spend over the horizon* (multiplying by the
   probability again would count it twice); customers whose value is unknown follow,
   ranked by probability.
4. **Control hold-out and capacity**: walking down the ranking, each alert is held out
   (group ``control``: recorded, never delivered) with probability ``control_share``, by
   a seeded hash of its ``alert_id`` (the same alert always draws the same); ``treatment``
   alerts fill ``capacity_per_cycle`` and, when the scores carry an ``owner`` column,
   ``capacity_per_owner``. Control alerts are drawn from the same ranked prefix, so the
   two groups are comparable, and they use no capacity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from alerts.fields import ALERT_FIELDS
from config.alerts import Action, AlertsParams
from features.catalog import Family

HISTORY_COLUMNS = ("customer_id", "cycle", "churn_probability")
GROUPS = ("treatment", "control")


@dataclass(frozen=True)
class Worklist:
    """The alerts of one cycle and how many candidates each step removed."""

    alerts: pd.DataFrame
    counts: dict[str, int]


def check_playbook(params: AlertsParams) -> None:
    """Playbook keys must be reason families (``features.catalog.Family``)."""
    unknown = sorted(set(params.playbook) - {f.value for f in Family})
    if unknown:
        raise ValueError(
            f"alerts.playbook names unknown reason families {unknown}; "
            f"use {[f.value for f in Family]}"
        )


def owner_note(scores: pd.DataFrame, params: AlertsParams) -> str:
    """How alerts are routed to owners this cycle, in one line for the stage's output."""
    if "owner" not in scores.columns:
        state = "off" if params.capacity_per_owner is not None else "not set"
        return (
            f"owner: the scores carry no owner column (map data.columns.owner), so alerts "
            f"have no owner and capacity_per_owner is {state}"
        )
    owners = scores["owner"].dropna().nunique()
    missing = int(scores["owner"].isna().sum())
    cap = params.capacity_per_owner
    limit = "no per-owner limit" if cap is None else f"at most {cap} delivered per owner"
    return f"owner: {owners} owners, {missing} customers without one; {limit}"


def alert_id(cycle: date, customer_id: str) -> str:
    """Stable id: the same cycle and customer always give the same id."""
    return hashlib.sha256(f"{cycle.isoformat()}|{customer_id}".encode()).hexdigest()[:20]


def draw(seed: int, alert: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the alert id."""
    digest = hashlib.sha256(f"{seed}|{alert}".encode()).hexdigest()
    return int(digest[:15], 16) / float(16**15)


def _items(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [dict(item) for item in value]


def _action(reasons: list[dict[str, Any]], params: AlertsParams) -> tuple[str, Action]:
    for reason in reasons:
        family = str(reason.get("family", ""))
        if family in params.playbook:
            return family, params.playbook[family]
    family = str(reasons[0].get("family", "")) if reasons else ""
    return family, params.default_action


def _cooled(
    eligible: pd.DataFrame, history: pd.DataFrame, cycle: date, params: AlertsParams
) -> pd.Series:
    """True where the customer is still in cooldown (alerted recently, risk not risen)."""
    if history.empty or params.cooldown_days == 0:
        return pd.Series(False, index=eligible.index)
    start = cycle - timedelta(days=params.cooldown_days)
    hist = history[(history["cycle"] > start) & (history["cycle"] < cycle)]
    last = hist.sort_values("cycle").groupby("customer_id")["churn_probability"].last()
    before = eligible["customer_id"].map(last)
    rose = eligible["churn_probability"] - before >= params.cooldown_risk_rise - 1e-12
    return before.notna() & ~rose


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    value = pd.to_numeric(frame["revenue_at_risk"], errors="coerce")
    known = value.notna()
    return (
        frame.assign(_known=known, _value=value.fillna(0.0))
        .sort_values(
            ["_known", "_value", "churn_probability", "customer_id"],
            ascending=[False, False, False, True],
            kind="mergesort",
        )
        .drop(columns=["_known", "_value"])
    )


def build_worklist(
    scores: pd.DataFrame,
    history: pd.DataFrame,
    params: AlertsParams,
    seed: int,
    cycle: date | None = None,
    horizon_days: int = 90,
) -> Worklist:
    """The alerts of the cycle ``cycle`` (default: the scores' ``as_of`` date)."""
    check_playbook(params)
    if cycle is None:
        cycle = pd.Timestamp(scores["as_of"].max()).date()
    history = _history(history)
    counts = {"scored": len(scores)}
    ok = scores["risk_level"].isin(params.risk_levels) & (
        scores["churn_probability"] >= params.min_probability
    )
    eligible = scores[ok]
    counts["eligible"] = len(eligible)
    cooled = _cooled(eligible, history, cycle, params)
    counts["cooldown"] = int(cooled.sum())
    ranked = _order(eligible[~cooled])
    has_owner = "owner" in ranked.columns
    previous = history[history["cycle"] < cycle]
    last_cycle = previous["cycle"].max() if len(previous) else None
    before = set(previous.loc[previous["cycle"] == last_cycle, "customer_id"])
    rows: list[dict[str, Any]] = []
    per_owner: dict[str, int] = {}
    treated = 0
    for rec in ranked.to_dict("records"):
        if treated >= params.capacity_per_cycle:
            break
        owner = _owner(rec.get("owner")) if has_owner else None
        aid = alert_id(cycle, str(rec["customer_id"]))
        control = draw(seed, aid) < params.control_share
        cap = params.capacity_per_owner
        if not control and owner is not None and cap is not None and per_owner.get(owner, 0) >= cap:
            continue
        if not control:
            treated += 1
            if owner is not None:
                per_owner[owner] = per_owner.get(owner, 0) + 1
        rows.append(
            _row(
                rec,
                aid,
                cycle,
                owner,
                control,
                str(rec["customer_id"]) not in before,
                params,
                horizon_days,
            )
        )
    alerts = pd.DataFrame(rows, columns=list(ALERT_FIELDS))
    alerts["rank"] = np.arange(1, len(alerts) + 1)
    counts["treatment"] = int((alerts["group"] == "treatment").sum())
    counts["control"] = int((alerts["group"] == "control").sum())
    counts["new"] = int(alerts["is_new"].sum())
    return Worklist(alerts=alerts, counts=counts)


def _owner(value: Any) -> str | None:
    if value is None or pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def _history(history: pd.DataFrame) -> pd.DataFrame:
    if history.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HISTORY_COLUMNS})
    out = history.loc[:, list(HISTORY_COLUMNS)].copy()
    out["cycle"] = pd.to_datetime(out["cycle"]).dt.date
    out["customer_id"] = out["customer_id"].astype(str)
    return out


def _row(
    rec: dict[Any, Any],
    aid: str,
    cycle: date,
    owner: str | None,
    control: bool,
    is_new: bool,
    params: AlertsParams,
    horizon_days: int,
) -> dict[str, Any]:
    reasons = _items(rec.get("reasons"))
    rules = _items(rec.get("triggered_rules"))
    family, action = _action(reasons, params)
    value: Any = rec.get("revenue_at_risk")
    known = value is not None and not (isinstance(value, float) and np.isnan(value))
    return {
        "alert_id": aid,
        "cycle": cycle,
        "customer_id": str(rec["customer_id"]),
        "owner": owner,
        "rank": 0,
        "group": "control" if control else "treatment",
        "is_new": is_new,
        "churn_probability": float(rec["churn_probability"]),
        "risk_level": str(rec["risk_level"]),
        "value_tier": str(rec.get("value_tier", "")),
        "revenue_at_risk": float(value) if known else None,
        "expected_value": float(value) if known else float(rec["churn_probability"]),
        "reason_codes": ";".join(str(r["code"]) for r in reasons),
        "reason_family": family,
        "reasons_en": " | ".join(str(r.get("text_en", "")) for r in reasons),
        "reasons_zh": " | ".join(str(r.get("text_zh", "")) for r in reasons),
        "rule_codes": ";".join(str(r["code"]) for r in rules),
        "rules_en": " | ".join(str(r.get("text_en", "")) for r in rules),
        "rules_zh": " | ".join(str(r.get("text_zh", "")) for r in rules),
        "action_en": action.en,
        "action_zh": action.zh,
        "model_version": str(rec.get("model_version", "")),
        "due": cycle + timedelta(days=horizon_days),
    }
