"""score_customers: the contract serving and the score stage share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bundle.model import ChurnModel
from config.scoring import RulesParams
from scoring.config import ScoreConfig
from scoring.reasons import resolve_reference
from scoring.results import (
    read_scores,
    rules_column,
    score_customers,
    score_records,
    write_scores,
)

COLUMNS = [
    "customer_id", "churn_probability", "risk_level", "value_tier", "revenue_at_risk",
    "reasons", "triggered_rules", "as_of", "model_version",
]  # fmt: skip


@pytest.fixture(scope="module")
def scores(model, snapshot, score_config, rules_params) -> pd.DataFrame:
    return score_customers(model, snapshot, score_config, rules_params, top_k=3)


def test_columns_and_one_row_per_customer(scores: pd.DataFrame, snapshot: pd.DataFrame):
    assert list(scores.columns[: len(COLUMNS)]) == COLUMNS
    assert scores["customer_id"].tolist() == snapshot["customer_id"].tolist()
    assert set(scores["risk_level"]) <= {"low", "medium", "high"}
    assert (scores["model_version"] == "test-1").all()
    assert (scores["as_of"] == pd.Timestamp("2011-12-09")).all()


def test_probability_matches_the_model(scores, model: ChurnModel, snapshot):
    np.testing.assert_allclose(scores["churn_probability"], model.predict_proba(snapshot))


def test_every_row_is_additive(scores: pd.DataFrame):
    """base probability + all family impacts == churn probability, on every row."""
    impacts = scores.filter(like="impact_").sum(axis=1)
    np.testing.assert_allclose(
        scores["base_probability"] + impacts, scores["churn_probability"], atol=1e-9
    )


def test_reasons_carry_family_impacts_and_sentences(scores: pd.DataFrame):
    n_reasons = 0
    for row in scores.to_dict("records"):
        reasons = row["reasons"]
        if row["risk_level"] == "low":
            assert reasons == []
            continue
        for reason in reasons:
            assert reason["impact"] == pytest.approx(row[f"impact_{reason['family']}"])
            assert reason["impact"] > 0.005
            assert reason["text_en"] and reason["text_zh"]
            assert "nan" not in reason["text_en"]
            n_reasons += 1
        impacts = [r["impact"] for r in reasons]
        assert impacts == sorted(impacts, reverse=True)
    assert n_reasons > 100


def test_triggered_rules_match_evaluate_rules(scores, snapshot, rules_params: RulesParams):
    from bundle.rules import evaluate_rules

    fired = evaluate_rules(snapshot, rules_params)
    got = [sorted(r["code"] for r in rules) for rules in scores["triggered_rules"]]
    want = [sorted(fired.columns[fired.iloc[i].to_numpy()]) for i in range(len(fired))]
    assert got == want
    assert any(got)


def test_rules_column_equals_rendering_every_row(snapshot, rules_params: RulesParams):
    from bundle.rules import evaluate_rules, render_rule

    fired = evaluate_rules(snapshot, rules_params)
    want = []
    for i in range(len(snapshot)):
        row = snapshot.iloc[i].to_dict()
        want.append(
            [
                {
                    "code": code,
                    "text_en": render_rule(code, row, rules_params, "en"),
                    "text_zh": render_rule(code, row, rules_params, "zh-CN"),
                }
                for code in fired.columns
                if fired[code].iloc[i]
            ]
        )
    assert rules_column(snapshot, rules_params).to_pylist() == want
    assert any(want)
    assert rules_column(snapshot.head(0), rules_params).to_pylist() == []


def test_single_customer_equals_batch(scores, model, snapshot, score_config, rules_params):
    """What serving returns for one customer is what the score stage wrote."""
    ref = resolve_reference(model.reference, snapshot, model.feature_names)
    for i in (0, 5, 17):
        one = score_customers(
            model, snapshot.iloc[[i]], score_config, rules_params, 3, reference=ref
        )
        got, want = one["reasons"].iloc[0], scores["reasons"].iloc[i]
        assert [r["impact"] for r in got] == pytest.approx([r["impact"] for r in want], abs=1e-12)
        strip = [{k: v for k, v in r.items() if k != "impact"} for r in got]
        assert strip == [{k: v for k, v in r.items() if k != "impact"} for r in want]
        assert one["triggered_rules"].iloc[0] == scores["triggered_rules"].iloc[i]
        assert one["churn_probability"].iloc[0] == scores["churn_probability"].iloc[i]


def test_parquet_round_trip_keeps_list_of_dicts(scores: pd.DataFrame, tmp_path):
    path = tmp_path / "scores.parquet"
    write_scores(scores, str(path))
    back = read_scores(str(path))
    assert back["reasons"].iloc[0] == scores["reasons"].iloc[0]
    assert isinstance(back["reasons"].iloc[0], list)


def test_missing_feature_column_is_named(model, snapshot, score_config, rules_params):
    with pytest.raises(KeyError, match="spend_365d"):
        score_customers(model, snapshot.drop(columns="spend_365d"), score_config, rules_params, 3)


def test_protective_mode_labels_low_risk_reasons(
    model, snapshot, score_config: ScoreConfig, rules_params
):
    config = score_config.model_copy(
        update={"reasons": score_config.reasons.model_copy(update={"low_risk_mode": "protective"})}
    )
    out = score_customers(model, snapshot, config, rules_params, 2)
    low = out[out["risk_level"] == "low"]
    listed = [r for rs in low["reasons"] for r in rs]
    assert listed, "low-risk customers should list protective reasons"
    assert all(r["code"].startswith("PROTECT_") and r["impact"] < 0 for r in listed)
    assert all(r["text_en"].startswith("Lowers risk: ") for r in listed)
    assert all(r["text_zh"].startswith("降低风险：") for r in listed)


def test_empty_snapshot_is_a_clear_error(model, snapshot, score_config, rules_params):
    with pytest.raises(ValueError, match="no rows"):
        score_customers(model, snapshot.iloc[:0], score_config, rules_params, 3)


def test_records_and_one_thread_give_the_frame_rows_exactly(
    scores: pd.DataFrame, model: ChurnModel, snapshot, score_config, rules_params
):
    """The API's path (score_records, one LightGBM thread) equals the batch frame's rows."""
    from serving.records import full_record

    records = score_records(
        model, snapshot, score_config, rules_params, 3, num_threads=1
    )  # fmt: skip
    rows = scores.to_dict("records")
    assert len(records) == len(rows) and any(r["reasons"] for r in records)
    assert [full_record(r) for r in records] == [full_record(r) for r in rows]
    for record, row in zip(records, rows, strict=True):
        assert record.keys() == row.keys()
        for name in row:
            if name.startswith(("impact_", "base_")):
                assert record[name] == row[name]  # bit-identical, not approximately
    one_thread = score_customers(model, snapshot, score_config, rules_params, 3, num_threads=1)
    pd.testing.assert_frame_equal(one_thread, scores, check_exact=True)
