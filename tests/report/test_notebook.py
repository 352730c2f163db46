"""The analyst notebook runs top to bottom (papermill) and is stored without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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


def _images(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


@pytest.mark.slow
def test_notebook_answers_its_questions_on_pipeline_outputs(pipeline_dir, tmp_path):
    nb = _run(
        tmp_path,
        pipeline_dir / "data" / "scores.parquet",
        pipeline_dir / "data" / "snapshots.parquet",
        pipeline_dir / "models" / "churn",
    )
    assert _images(nb) >= 4  # risk + revenue, causes by tier, impacts, reliability
    text = json.dumps(nb["cells"], ensure_ascii=False)
    assert "max additivity gap" in text and "ECE" in text


@pytest.mark.slow
def test_notebook_on_the_bundled_data(pipeline_run: Path, tmp_path: Path):
    """The notebook on the outputs of the real `dvc repro` of the bundled data."""
    nb = _run(
        tmp_path,
        pipeline_run / "data" / "scores" / "latest.parquet",
        pipeline_run / "data" / "processed" / "snapshots.parquet",
        pipeline_run / "models" / "churn",
    )
    assert _images(nb) >= 4
