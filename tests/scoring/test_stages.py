"""The score stage on a small synthetic workspace."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.results import read_scores


def test_score_stage_writes_every_customer(pipeline_dir, snapshot):
    scores = read_scores(str(pipeline_dir / "data" / "scores.parquet"))
    assert scores["customer_id"].tolist() == snapshot["customer_id"].tolist()
    impacts = scores.filter(like="impact_").sum(axis=1)
    np.testing.assert_allclose(
        scores["base_probability"] + impacts, scores["churn_probability"], atol=1e-9
    )
    assert isinstance(scores["reasons"].iloc[0], list)


def test_crm_csv_flattens_reasons_and_rules(pipeline_dir):
    scores = read_scores(str(pipeline_dir / "data" / "scores.parquet"))
    raw = (pipeline_dir / "data" / "scores.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\xef\xbb\xbf") == 1  # one BOM
    csv = pd.read_csv(pipeline_dir / "data" / "scores.csv", dtype={"customer_id": str})
    assert len(csv) == len(scores)
    assert {"reason_1_code", "reason_3_zh", "rule_codes", "rules_zh", "as_of"} <= set(csv)
    for i in range(len(scores)):
        reasons = scores["reasons"].iloc[i]
        if reasons:
            assert csv["reason_1_code"].iloc[i] == reasons[0]["code"]
            assert csv["reason_1_zh"].iloc[i] == reasons[0]["text_zh"]
        else:
            assert pd.isna(csv["reason_1_code"].iloc[i])
        codes = ";".join(r["code"] for r in scores["triggered_rules"].iloc[i])
        assert (csv["rule_codes"].fillna("").iloc[i]) == codes
