"""The report's alert-performance section: measured numbers, the "nothing measured yet"
line, the simulated label, both languages, and the report stage reading the file."""

from __future__ import annotations

import json

import pandas as pd

from alerts.measure import measure
from report import report as report_stage
from report.alerts_section import alerts_section
from tests.scoring.conftest import report_args


def _measured() -> dict:
    """4 delivered alerts (1 churned) and 4 control (3 churned), two reps, hand-checked."""
    frame = pd.DataFrame(
        {
            "alert_id": [f"a{i}" for i in range(8)],
            "group": ["treatment"] * 4 + ["control"] * 4,
            "churned": [True, False, False, False, True, True, True, False],
            "contacted": [True, True, False, False] + [False] * 4,
            "reason_family": ["ORDER_CYCLE"] * 8,
            "action_en": ["Call about replenishment needs"] * 8,
            "owner": ["ann", "bob"] * 4,
            "value_tier": ["high"] * 8,
        }
    )
    out = measure(frame, resamples=200, level=0.9, seed=0)
    out.update(data_end="2011-12-09", recall=0.25, next_due=None)
    return out


def test_measured_numbers_become_tables_by_segment() -> None:
    section = alerts_section(_measured(), "en")
    assert section["simulated"] is None
    assert "8 alerts measured on orders up to 2011-12-09" in section["message"]
    assert "90% bootstrap" in section["message"]
    assert section["recall"][1] == "25.0%"
    titles = [t["title"] for t in section["tables"]]
    assert titles == ["all", "By reason family", "By action", "By owner", "By value tier"]
    overall = section["tables"][0]["rows"][0]
    # alerts, delivered, control, contacted, hit rate (control), retention delivered,
    # contacted, control, uplift in points: 3/4 - 1/4 = +50.0
    assert overall[:10] == ["all", "8", "4", "4", "2", "75.0%", "75.0%", "50.0%", "25.0%",
                            "+50.0"]  # fmt: skip
    assert overall[10].startswith("[") and overall[10].endswith("]")
    owners = {row[0]: row for row in section["tables"][3]["rows"]}
    assert set(owners) == {"ann", "bob"}


def test_nothing_measured_yet_is_one_clear_line_in_both_languages() -> None:
    pending = {"measured_alerts": 0, "pending_alerts": 212, "next_due": "2012-03-09"}
    en = alerts_section(pending, "en")
    assert en["tables"] == [] and en["message"] == (
        "No outcomes measured yet: 212 alerts are still inside their horizon "
        "(the first can be measured after 2012-03-09)."
    )
    zh = alerts_section(pending, "zh-CN")
    assert "尚无可衡量的结果" in zh["message"] and "212" in zh["message"]
    assert alerts_section(None, "en")["message"].startswith("No alert measurement file")


def test_a_replay_file_is_labelled_simulated() -> None:
    perf = {**_measured(), "note": "SIMULATED: follow-up outcomes are simulated"}
    assert alerts_section(perf, "en")["simulated"].startswith("SIMULATED")
    assert alerts_section(perf, "zh-CN")["simulated"].startswith("模拟数据")


def test_report_stage_renders_the_section_from_the_file(pipeline_dir) -> None:
    path = pipeline_dir / "reports" / "alerts_performance.json"
    path.write_text(json.dumps(_measured()), encoding="utf-8")
    try:
        report_stage.main(report_args(pipeline_dir, "report_alerts.html"))
    finally:
        path.unlink()
    html = (pipeline_dir / "reports" / "report_alerts.html").read_text(encoding="utf-8")
    assert 'id="alerts"' in html and "Alert performance (follow-up loop)" in html
    assert "By owner" in html and "<th>ann</th>" in html and "+50.0" in html


def test_report_without_a_measurement_file_says_so(report_path) -> None:
    html = report_path.read_text(encoding="utf-8")
    assert 'id="alerts"' in html and "No alert measurement file" in html
