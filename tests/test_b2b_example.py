"""The synthetic B2B company end to end (issue 14): every stage with params/b2b_example.yaml.

Generates a small company with the documented command, runs the stages exactly as
``dvc.yaml`` writes them in a temporary folder, and checks the signal tables all the way
through: per-table conservation at ingest, signal features in the snapshots, reasons
citing contracts/tickets/invoices/usage in both languages, signal rules triggered, and
the report naming the signal families.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.repo_copy import pipeline_env, stage_command
from features.catalog import SIGNAL_CATALOG, Family
from features.reason_codes import REASON_CODES

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SIGNAL_CODES = {
    REASON_CODES[f]
    for f in (Family.COMPLAINTS, Family.SERVICE, Family.CONTRACT, Family.PAYMENT, Family.USAGE)
}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("b2b")
    shutil.copy(ROOT / "params" / "b2b_example.yaml", work / "params.yaml")
    # the command of docs/signals.md, with a smaller company so the test stays short
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.b2b_company",
        "--out",
        "data/raw/b2b",
        "--customers",
        "250",
    ]
    env = pipeline_env(work)
    # benchmarks/ is no installed package: run it from this checkout, as from its root
    subprocess.run(
        cmd, cwd=work, check=True, capture_output=True, env={**env, "PYTHONPATH": str(ROOT)}
    )
    for stage in ("ingest", "features", "train", "evaluate", "score", "report"):
        done = subprocess.run(
            stage_command(stage), cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{stage}: {done.stderr[-3000:]}"
    return work


def test_each_signal_table_is_conserved_at_ingest(company: Path) -> None:
    report = json.loads((company / "reports" / "ingest.json").read_text())
    assert set(report["signals"]) == {"tickets", "interactions", "contracts", "invoices", "usage"}
    for name, entry in report["signals"].items():
        assert entry["rows_in"] > 0, name
        assert entry["rows_in"] == entry["rows_clean"] + entry["rows_quarantined"], name


def test_snapshots_carry_every_signal_feature(company: Path) -> None:
    snaps = pd.read_parquet(company / "data" / "processed" / "snapshots.parquet")
    assert {f.name for f in SIGNAL_CATALOG} <= set(snaps.columns)
    features = json.loads((company / "reports" / "features.json").read_text())
    assert features["omitted_features"] == [
        f for f in features["omitted_features"] if f["name"].startswith(("categor", "regular"))
    ]


def test_reasons_and_rules_cite_the_signals_in_both_languages(company: Path) -> None:
    scores = pd.read_parquet(company / "data" / "scores" / "latest.parquet")
    reasons = [r for rs in scores["reasons"] for r in rs]
    cited = {r["code"] for r in reasons} & SIGNAL_CODES
    assert len(cited) >= 3, cited
    contract = [r for r in reasons if r["code"] == "CONTRACT_ENDING"]
    assert contract and all(r["text_en"].startswith("Contract ends in") for r in contract)
    assert all(r["text_zh"].startswith("合同将于") for r in contract)
    rules = {
        t["code"] if isinstance(t, dict) else t for ts in scores["triggered_rules"] for t in ts
    }
    assert rules & {"RULE_CONTRACT_ENDING", "RULE_COMPLAINT_SPIKE", "RULE_PAYMENT_OVERDUE"}


def test_the_report_names_the_signal_families(company: Path) -> None:
    html = (company / "reports" / "churn_report.html").read_text(encoding="utf-8")
    assert "CONTRACT_ENDING" in html or "Contract" in html
