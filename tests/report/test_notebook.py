"""The analyst notebook runs top to bottom (papermill) and is stored without outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from features.reason_codes import REASON_CODE_LABELS
from features.wording import RISK_LEVEL_LABELS, TIER_LABELS
from scoring.results import read_scores

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyst.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert any("parameters" in c["metadata"].get("tags", []) for c in code)


def _run(tmp_path: Path, scores: Path, snapshots: Path, model_dir: Path) -> dict:
    import papermill as pm

    out = tmp_path / "analyst.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOK), str(out), cwd=str(NOTEBOOK.parent), kernel_name="python3",
        parameters={"scores_path": str(scores), "snapshots_path": str(snapshots),
                    "model_dir": str(model_dir), "lang": "zh-CN"},
        progress_bar=False,
    )  # fmt: skip
    return json.loads(out.read_text(encoding="utf-8"))


def _outputs(nb: dict) -> list[dict]:
    """Every output of every code cell (never the cells' source)."""
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def _images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


def _printed(nb: dict) -> str:
    """What the cells printed or displayed as text (stdout, text/plain, text/html)."""
    parts = []
    for o in _outputs(nb):
        if o.get("output_type") == "error":
            raise AssertionError(f"cell raised {o.get('ename')}: {o.get('evalue')}")
        if o.get("output_type") == "stream":
            parts.append("".join(o["text"]))
        for kind in ("text/plain", "text/html"):
            if kind in o.get("data", {}):
                parts.append("".join(o["data"][kind]))
    return "\n".join(parts)


def _check_chinese(nb: dict, scores_path: Path) -> None:
    """Run with ``lang="zh-CN"``: tables use the catalog's Chinese labels, plots draw them."""
    text = _printed(nb)
    scores = read_scores(str(scores_path))
    for table in (RISK_LEVEL_LABELS, TIER_LABELS):
        for key, (en, zh) in table.items():
            if key in set(scores["risk_level"]) | set(scores["value_tier"]):
                assert zh in text and en not in text, (en, zh)
    assert any(zh in text for _, zh in REASON_CODE_LABELS.values()), "no Chinese reason label"
    assert not any(code in text for code in REASON_CODE_LABELS), "raw reason codes shown"
    warned = "".join(
        "".join(o["text"]) for o in _outputs(nb) if o.get("name") == "stderr"
    )  # fmt: skip
    assert "missing from" not in warned, "Chinese drawn as boxes in the notebook's plots"


def _check_answers(nb: dict, scores_path: Path, snapshots_path: Path) -> None:
    """The printed numbers are the data's, recomputed here from the input files."""
    text = _printed(nb)
    scores = read_scores(str(scores_path))
    assert f"{len(scores):,} customers scored as of {scores['as_of'].max():%Y-%m-%d}" in text
    snapshots = pd.read_parquet(snapshots_path)
    labelled = snapshots[snapshots["label"].notna()]
    test = labelled[labelled["cutoff"] == labelled["cutoff"].max()]
    found = re.search(
        r"test cutoff (\S+): ([\d,]+) customers, churn rate ([\d.]+), "
        r"mean predicted ([\d.]+), ECE ([\d.]+)",
        text,
    )
    assert found, "the reliability cell printed no summary"
    cutoff, n, rate, _, ece = found.groups()
    assert cutoff == f"{test['cutoff'].max():%Y-%m-%d}"
    assert int(n.replace(",", "")) == len(test)
    assert float(rate) == pytest.approx(test["label"].mean(), abs=5e-4)
    assert 0.0 <= float(ece) <= 1.0
    gap = re.search(r"max additivity gap (\S+)", text)
    assert gap and float(gap.group(1)) < 1e-9
    at_risk = scores[scores["risk_level"].isin(["medium", "high"])]
    top = at_risk.nlargest(10, "revenue_at_risk")
    assert len(top) > 0, "the fixture has no customer at risk: the top table checks nothing"
    for customer in top["customer_id"]:
        assert str(customer) in text, customer


@pytest.mark.slow
def test_notebook_answers_its_questions_on_pipeline_outputs(pipeline_dir, tmp_path):
    scores = pipeline_dir / "data" / "scores.parquet"
    snapshots = pipeline_dir / "data" / "snapshots.parquet"
    nb = _run(tmp_path, scores, snapshots, pipeline_dir / "models" / "churn")
    assert _images(nb) >= 4  # risk + revenue, causes by tier, impacts, reliability
    _check_answers(nb, scores, snapshots)
    _check_chinese(nb, scores)


@pytest.mark.slow
def test_notebook_on_the_bundled_data(pipeline_run: Path, tmp_path: Path):
    """The notebook on the outputs of the real `dvc repro` of the bundled data."""
    scores = pipeline_run / "data" / "scores" / "latest.parquet"
    snapshots = pipeline_run / "data" / "processed" / "snapshots.parquet"
    nb = _run(tmp_path, scores, snapshots, pipeline_run / "models" / "churn")
    assert _images(nb) >= 4
    _check_answers(nb, scores, snapshots)
    _check_chinese(nb, scores)
