"""The planted-cause measurement of benchmarks/bench_signals.py (issue 14): the
generator's ground truth of when a cause becomes visible, and the counting."""

from __future__ import annotations

import pandas as pd

from benchmarks.b2b_company import simulate
from benchmarks.bench_signals import planted_reasons


def test_visible_from_is_the_first_planted_fact_in_the_tables() -> None:
    tables = simulate(120, seed=3)
    planted = tables["planted"].set_index("customer_id")
    assert set(planted["cause"]) == {"CONTRACT", "COMPLAINTS", "PAYMENT", "USAGE"}
    tickets, invoices = tables["tickets"], tables["invoices"]
    contracts, usage = tables["contracts"], tables["usage"]
    for cid, row in planted.iterrows():
        shown = row["visible_from"]
        if row["cause"] == "COMPLAINTS":  # the planted tickets are the high-priority ones
            mine = tickets[(tickets.client == cid) & (tickets.priority == "high")]
            assert shown == mine["opened"].min()
            assert (mine["category"] == "COMPLAINT").any()
        elif row["cause"] == "PAYMENT":
            unpaid = invoices[(invoices.client == cid) & invoices["paid"].isna()]
            assert shown == unpaid["due"].min() or (pd.isna(shown) and unpaid.empty)
        elif row["cause"] == "CONTRACT":
            ending = contracts[(contracts.client == cid) & (contracts.auto_renewal == "no")]
            ending = ending[ending["valid_to"] == row["churn_at"].date().isoformat()]
            assert shown == pd.Timestamp(ending["signed_from"].iloc[0])
        else:  # USAGE: the first week logged with the faded (2-feature) usage
            mine = usage[usage.client == cid]
            per_week = mine.groupby("at")["action"].nunique()
            assert shown in per_week.index and shown < row["churn_at"]
            assert per_week[per_week.index < shown].min() > 2  # before: 3+ features


def _reasons(*families: str) -> list[dict[str, str]]:
    return [{"family": f} for f in families]


def test_only_customers_whose_cause_is_visible_at_the_cutoff_are_counted() -> None:
    t = pd.Timestamp("2024-06-01")
    day = pd.Timedelta(days=1)
    planted = pd.DataFrame(
        [
            ("a", "PAYMENT", t + 10 * day, t - 5 * day),  # visible, named first
            ("b", "PAYMENT", t + 20 * day, t - 1 * day),  # visible, named second
            ("c", "PAYMENT", t + 30 * day, t + 1 * day),  # not yet visible
            ("d", "PAYMENT", t + 40 * day, None),  # never visible
            ("e", "USAGE", t + 95 * day, t - 9 * day),  # churns after the horizon
            ("f", "USAGE", t + 5 * day, t - 9 * day),  # visible, low risk: no reasons
        ],
        columns=["customer_id", "cause", "churn_at", "visible_from"],
    )
    served = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "as_of": t,
            "risk_level": ["high", "medium", "high", "high", "high", "low"],
            "reasons": [
                _reasons("PAYMENT"), _reasons("USAGE", "PAYMENT"), _reasons("PAYMENT"),
                _reasons("PAYMENT"), _reasons("USAGE"), [],
            ],
        }
    )  # fmt: skip
    ranked = served.assign(reasons=[*served["reasons"][:5], _reasons("USAGE")])
    out = planted_reasons(served, ranked, planted, horizon_days=90)
    pay, use = out["by_cause"]["PAYMENT"], out["by_cause"]["USAGE"]
    assert (pay["due"], pay["visible"], pay["flagged"], pay["top1"], pay["top3"]) == (4, 2, 2, 1, 2)
    assert (use["due"], use["visible"], use["flagged"], use["top1"], use["ranked_top1"]) == (
        1, 1, 0, 0, 1,
    )  # fmt: skip
    assert out["visible"] == 3 and out["top1_share"] == 1 / 3 and out["ranked_top1_share"] == 2 / 3
