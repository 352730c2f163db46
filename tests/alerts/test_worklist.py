"""The worklist: eligibility, ranking, capacity, owners, cooldown, control hold-out, ids."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alerts.worklist import alert_id, build_worklist, check_playbook
from config.alerts import AlertsParams
from tests.alerts.helpers import scores_frame

EMPTY = pd.DataFrame(columns=["customer_id", "cycle", "churn_probability"])


def _params(**kw: object) -> AlertsParams:
    base: dict[str, object] = {"capacity_per_cycle": 10, "control_share": 0.0}
    return AlertsParams.model_validate({**base, **kw})


def test_ranked_by_expected_value_and_capped_by_capacity() -> None:
    wl = build_worklist(scores_frame(), EMPTY, _params(), seed=1)
    alerts = wl.alerts
    assert len(alerts) == 10
    assert alerts["customer_id"].tolist() == [f"c{i:03d}" for i in range(10)]
    assert alerts["rank"].tolist() == list(range(1, 11))
    assert alerts["expected_value"].is_monotonic_decreasing
    assert (alerts["group"] == "treatment").all() and alerts["is_new"].all()
    assert alerts["cycle"].iloc[0] == date(2011, 12, 10)
    assert alerts["due"].iloc[0] == date(2012, 3, 9)  # cycle + 90 days


def test_unknown_value_ranks_after_known_by_probability() -> None:
    scores = scores_frame(5)
    scores.loc[[1, 2], "revenue_at_risk"] = np.nan
    scores.loc[1, "churn_probability"], scores.loc[2, "churn_probability"] = 0.71, 0.93
    alerts = build_worklist(scores, EMPTY, _params(), seed=1).alerts
    assert alerts["customer_id"].tolist() == ["c000", "c003", "c004", "c002", "c001"]
    assert alerts.loc[alerts["customer_id"] == "c002", "expected_value"].item() == 0.93


def test_only_eligible_risk_levels_and_probabilities() -> None:
    scores = scores_frame(6)
    scores.loc[[0, 1], "risk_level"] = "medium"
    scores.loc[2, "churn_probability"] = 0.5
    high_only = _params(min_probability=0.6, risk_levels=("high",))
    alerts = build_worklist(scores, EMPTY, high_only, seed=1).alerts
    assert set(alerts["customer_id"]) == {"c003", "c004", "c005"}
    both = _params(min_probability=0.6)  # the default: medium and high are eligible
    alerts = build_worklist(scores, EMPTY, both, seed=1).alerts
    assert set(alerts["customer_id"]) == {"c000", "c001", "c003", "c004", "c005"}


def test_playbook_action_from_the_top_reason_family() -> None:
    alerts = build_worklist(scores_frame(4), EMPTY, _params(), seed=1).alerts
    by_id = alerts.set_index("customer_id")
    assert by_id.loc["c000", "action_en"] == "Call about replenishment needs"
    assert by_id.loc["c000", "action_zh"] == "致电了解补货需求"
    assert by_id.loc["c001", "action_en"] == "Service follow-up on recent returns"
    assert by_id.loc["c000", "reason_codes"] == "ORDER_CYCLE_OVERDUE;RECENCY_INACTIVE"
    assert by_id.loc["c000", "rule_codes"] == "RULE_INACTIVE"
    assert "中文" in by_id.loc["c000", "reasons_zh"]


def test_playbook_keys_must_be_reason_families() -> None:
    bad = AlertsParams.model_validate({"playbook": {"ORDER_CYCEL": {"en": "x", "zh": "y"}}})
    with pytest.raises(ValueError, match="ORDER_CYCEL"):
        check_playbook(bad)


def test_alert_id_is_stable_per_cycle_and_customer() -> None:
    a = build_worklist(scores_frame(), EMPTY, _params(), seed=1).alerts
    b = build_worklist(scores_frame(), EMPTY, _params(), seed=99).alerts
    assert a["alert_id"].tolist() == b["alert_id"].tolist()
    assert a["alert_id"].iloc[0] == alert_id(date(2011, 12, 10), "c000")
    assert alert_id(date(2011, 12, 11), "c000") != alert_id(date(2011, 12, 10), "c000")


def test_capacity_per_owner_when_an_owner_column_exists() -> None:
    scores = scores_frame(30, owners=["ann", "bob", "ann"])  # ann gets 2 of every 3
    alerts = build_worklist(scores, EMPTY, _params(capacity_per_owner=3), seed=1).alerts
    assert alerts["owner"].value_counts().to_dict() == {"ann": 3, "bob": 3}
    no_owner = build_worklist(scores_frame(30), EMPTY, _params(capacity_per_owner=3), seed=1)
    assert len(no_owner.alerts) == 10 and no_owner.alerts["owner"].isna().all()


def test_cooldown_skips_recent_alerts_unless_risk_rose() -> None:
    scores = scores_frame(5, probability=np.array([0.9, 0.9, 0.9, 0.9, 0.9]))
    history = pd.DataFrame(
        {
            "customer_id": ["c000", "c001", "c002"],
            "cycle": [date(2011, 11, 20), date(2011, 11, 20), date(2011, 10, 1)],
            "churn_probability": [0.85, 0.75, 0.5],
        }
    )
    wl = build_worklist(scores, history, _params(cooldown_days=30, cooldown_risk_rise=0.1), 1)
    # c000 alerted 20 days ago, risk +5 points: skipped; c001 rose 15 points: alerted again;
    # c002 was alerted 70 days ago: out of cooldown
    assert set(wl.alerts["customer_id"]) == {"c001", "c002", "c003", "c004"}
    assert wl.counts["cooldown"] == 1
    new = wl.alerts.set_index("customer_id")["is_new"]
    assert not new["c001"] and new["c002"] and new["c003"]  # new since the last cycle


def test_control_share_is_held_out_at_random_seeded_and_uses_no_capacity() -> None:
    scores = scores_frame(400)
    params = _params(capacity_per_cycle=200, control_share=0.2)
    a = build_worklist(scores, EMPTY, params, seed=7).alerts
    b = build_worklist(scores, EMPTY, params, seed=7).alerts
    c = build_worklist(scores, EMPTY, params, seed=8).alerts
    assert (a["group"] == "treatment").sum() == 200
    share = (a["group"] == "control").mean()
    assert 0.12 < share < 0.28
    assert a["group"].tolist() == b["group"].tolist()
    assert a["group"].tolist() != c["group"].tolist()
    treated = a.loc[a["group"] == "treatment", "churn_probability"].mean()
    control = a.loc[a["group"] == "control", "churn_probability"].mean()
    assert abs(treated - control) < 0.03  # same ranked prefix: comparable groups


def test_no_eligible_customer_gives_an_empty_worklist() -> None:
    scores = scores_frame(3)
    scores["risk_level"] = "low"
    wl = build_worklist(scores, EMPTY, _params(), seed=1)
    assert wl.alerts.empty and wl.counts["eligible"] == 0
