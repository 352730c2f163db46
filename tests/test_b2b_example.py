"""The synthetic B2B company end to end (issue 14): every stage with params/b2b_example.yaml.

Generates a small company with the documented command, runs the stages exactly as
``dvc.yaml`` writes them in a temporary folder, and checks the signal tables all the way
through: per-table conservation at ingest, signal features in the snapshots, reasons
citing contracts/tickets/invoices/usage in both languages, signal rules triggered, and
the report naming the signal families; then serves the trained model with a real
uvicorn server and posts a customer's orders and signal events over HTTP.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from markupsafe import escape

from benchmarks.repo_copy import pipeline_env, stage_command
from features.catalog import BY_NAME, SIGNAL_CATALOG, Family
from features.reason_codes import REASON_CODES
from tests.servers import uvicorn_app

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


def _report(company: Path, lang: str) -> str:
    """The report stage's HTML in ``lang`` (the fixture wrote the ``en`` one)."""
    if lang == "en":
        return (company / "reports" / "churn_report.html").read_text(encoding="utf-8")
    raw = yaml.safe_load((company / "params.yaml").read_text(encoding="utf-8"))
    raw["report"]["lang"] = lang
    (company / "params_zh.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    cmd = stage_command("report")
    cmd[cmd.index("params.yaml")] = "params_zh.yaml"
    cmd[cmd.index("reports/churn_report.html")] = "reports/churn_report_zh.html"
    done = subprocess.run(cmd, cwd=company, env=pipeline_env(company), capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return (company / "reports" / "churn_report_zh.html").read_text(encoding="utf-8")


def test_the_report_shows_signal_reasons_in_both_languages(company: Path) -> None:
    """The at-risk customers listed in the report (by revenue at risk) carry their signal
    reasons, as ``CODE: sentence`` in en and in zh-CN, for contracts, tickets and
    invoices alike."""
    scores = pd.read_parquet(company / "data" / "scores" / "latest.parquet")
    n = yaml.safe_load((company / "params.yaml").read_text())["report"]["top_customers"]
    listed = scores[scores["risk_level"].isin(["medium", "high"])].nlargest(n, "revenue_at_risk")
    lines = [r for rs in listed["reasons"] for r in rs if _table(r["feature"]) is not None]
    assert {_table(r["feature"]) for r in lines} >= {"contracts", "invoices"}, lines
    pages = {lang: _report(company, lang) for lang in ("en", "zh-CN")}
    for lang, field in (("en", "text_en"), ("zh-CN", "text_zh")):
        html = pages[lang]
        for r in lines:
            assert f"<li>{escape(r['code'])}: {escape(r[field])}</li>" in html, (lang, r)
        for r in lines:
            table = _table(r["feature"])
            if table in CITED:
                assert re.search(CITED[str(table)][lang], r[field]), (table, lang, r)
    assert 'lang="zh-CN"' in pages["zh-CN"]


KEY = "b2b-client-key"
#: The three tables the issue names, and how a reason driven by one of their features
#: reads (a regex per language).
CITED: dict[str, dict[str, str]] = {
    "contracts": {
        "en": r"^(Contract ends in \d+ days?|\d+ contracts? cancelled)",
        "zh-CN": r"^(合同将于 \d+ 天后到期|近 90 天取消合同)",
    },
    "tickets": {
        "en": r"^(\d+ complaints? in the last (30|120) days|Ticket satisfaction|\d+ open tickets?)",
        "zh-CN": r"^(近 (30|120) 天投诉 \d+ 次|工单满意度|未关闭工单 \d+ 个)",
    },
    "invoices": {
        "en": r"(^\d+ overdue invoices?|overdue \(|^An invoice is \d+ days? overdue)",
        "zh-CN": r"^(逾期未付|有发票已逾期)",
    },
}


def _table(feature: str) -> str | None:
    """The signal table a catalog feature is computed from (None for order features)."""
    needs = [r.split(":", 1)[1] for r in BY_NAME[feature].requires if r.startswith("signal:")]
    return needs[0] if needs else None


@pytest.fixture(scope="module")
def server(company: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``uvicorn serving.app:create_app --factory`` serving the company's trained model."""
    env = {"CHURN_MODEL_DIR": str(company / "models/churn"),
           "CHURN_SNAPSHOT_PATH": str(company / "data/processed/latest.parquet"),
           "CHURN_PARAMS_PATH": str(company / "params.yaml"), "CHURN_API_KEYS": KEY}  # fmt: skip
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with uvicorn_app(company, env, log) as (base, _):
        yield base


def _records(frame: pd.DataFrame, cid: str) -> list[dict[str, Any]]:
    """One customer's canonical rows as JSON records (no customer_id, nulls left out)."""
    mine = frame[frame["customer_id"] == cid].drop(columns=["customer_id"])
    return [
        {str(k): (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in rec.items()
         if not pd.isna(v)}
        for rec in mine.to_dict("records")
    ]  # fmt: skip


def _cited(scores: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """For each table of :data:`CITED`, the first customer with a batch reason driven by
    one of its features, and that reason's code."""
    out: dict[str, tuple[str, str]] = {}
    for cid, reasons in zip(scores["customer_id"], scores["reasons"], strict=True):
        for r in reasons:
            table = _table(r["feature"])
            if table in CITED and table not in out:
                out[table] = (str(cid), r["code"])
    found = {(_table(r["feature"]), r["code"]) for rs in scores["reasons"] for r in rs}
    assert set(out) == set(CITED), f"reasons by (table, code) in the batch: {found}"
    return out


def test_score_with_signal_events_over_http_cites_them_in_both_languages(
    company: Path, server: str
) -> None:
    """POST /v1/churn/score with a customer's orders and signal events (canonical rows,
    as docs/signals.md describes) answers as the batch did for that customer: the same
    probability and reason codes, the sentences of the batch in en and zh-CN, citing
    the contract, the complaints and the overdue invoices."""
    scores = pd.read_parquet(company / "data" / "scores" / "latest.parquet")
    chosen = _cited(scores)  # the company plants each of these causes
    interim = company / "data" / "interim"
    orders = pd.read_parquet(interim / "orders.parquet")
    tables = {
        t: pd.read_parquet(interim / "signals" / f"{t}.parquet")
        for t in ("tickets", "interactions", "contracts", "invoices", "usage")
    }
    batch = scores.set_index("customer_id")
    for table, (cid, code) in chosen.items():
        body = {
            "customer_id": cid,
            "orders": _records(orders, cid),
            "signals": {t: _records(frame, cid) for t, frame in tables.items()},
        }
        row = batch.loc[cid]
        for lang, field in (("en", "text_en"), ("zh-CN", "text_zh")):
            r = httpx.post(f"{server}/v1/churn/score", params={"lang": lang}, json=body,
                           headers={"X-API-Key": KEY}, timeout=60)  # fmt: skip
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["churn_probability"] == round(row["churn_probability"], 4)
            assert [x["code"] for x in answer["reasons"]] == [x["code"] for x in row["reasons"]]
            assert [x["text"] for x in answer["reasons"]] == [x[field] for x in row["reasons"]]
            cited = next(x["text"] for x in answer["reasons"] if x["code"] == code)
            assert re.search(CITED[table][lang], cited), (table, lang, cited)
        # without the events the same orders give no signal reason of that family
        bare = httpx.post(f"{server}/v1/churn/score", json={**body, "signals": {}},
                          headers={"X-API-Key": KEY}, timeout=60)  # fmt: skip
        assert bare.status_code == 200, bare.text
        assert code not in [x["code"] for x in bare.json()["reasons"]]


def test_served_get_equals_batch_for_signal_customers(company: Path, server: str) -> None:
    """GET /v1/customers/{id}/churn for b2b customers with signal reasons: the batch's
    codes and sentences, in both languages."""
    scores = pd.read_parquet(company / "data" / "scores" / "latest.parquet")
    batch = scores.set_index("customer_id")
    for cid, _ in _cited(scores).values():
        row = batch.loc[cid]
        for lang, field in (("en", "text_en"), ("zh-CN", "text_zh")):
            r = httpx.get(f"{server}/v1/customers/{cid}/churn", params={"lang": lang},
                          headers={"X-API-Key": KEY}, timeout=30)  # fmt: skip
            assert r.status_code == 200, r.text
            answer = r.json()
            assert answer["churn_probability"] == round(row["churn_probability"], 4)
            assert [x["code"] for x in answer["reasons"]] == [x["code"] for x in row["reasons"]]
            assert [x["text"] for x in answer["reasons"]] == [x[field] for x in row["reasons"]]
