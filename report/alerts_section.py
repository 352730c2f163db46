"""The report's alert-performance section, from the alerts stage's measurement file.

The ``alerts`` stage measures every stored alert whose horizon the orders cover and
writes the result (the shape of ``GET /v1/alerts/performance``, plus ``next_due``) to
``reports/alerts_performance.json``. This module turns that file into table rows in
``en`` or ``zh-CN``: hit rate, recall, retention of delivered, contacted and control
alerts, and uplift with its bootstrap CI, overall and by reason family, action, owner
and value tier. No measured alert yet gives one plain sentence instead of empty tables;
a file marked ``SIMULATED`` (a replay) is labelled as simulated in the heading.
"""

from __future__ import annotations

from typing import Any

SEGMENTS = ("reason_family", "action", "owner", "value_tier")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Alert performance (follow-up loop)",
        "simulated": "SIMULATED: follow-up outcomes in this section are simulated",
        "missing": "No alert measurement file: the alerts stage has not run.",
        "none": "No outcomes measured yet: {pending} alerts are still inside their horizon "
        "(the first can be measured after {due}).",
        "none_no_due": "No outcomes measured yet: no alert has been stored.",
        "intro": "{measured} alerts measured on orders up to {end}, {pending} still pending. "
        "Hit rate is measured on the control group (never contacted); uplift = retention "
        "of delivered alerts minus retention of the control group, {level:.0%} bootstrap "
        "interval. An interval containing 0 cannot tell the effect from chance.",
        "recall": "recall (churners alerted)",
        "segment": "segment", "alerts": "alerts", "treated": "delivered", "control": "control",
        "contacted": "contacted", "hit": "hit rate (control)",
        "ret_t": "retention delivered", "ret_k": "retention contacted",
        "ret_c": "retention control", "uplift": "uplift", "ci": "CI",
        "pts": " (points)", "all": "all", "reason_family": "By reason family",
        "action": "By action", "owner": "By owner", "value_tier": "By value tier",
    },
    "zh-CN": {
        "heading": "预警效果（跟进闭环）",
        "simulated": "模拟数据：本节的跟进结果为模拟结果",
        "missing": "没有预警效果文件：预警阶段尚未运行。",
        "none": "尚无可衡量的结果：{pending} 条预警仍在观察期内（最早可在 {due} 之后衡量）。",
        "none_no_due": "尚无可衡量的结果：数据库中还没有预警。",
        "intro": "已衡量 {measured} 条预警（订单数据截至 {end}），{pending} 条仍在观察期内。"
        "预警命中率在对照组（未跟进）上计算；提升 = 已推送预警的挽回率 − 对照组挽回率，"
        "{level:.0%} 自助法置信区间。区间包含 0 时无法与偶然波动区分。",
        "recall": "召回率（被预警的流失客户）",
        "segment": "分组", "alerts": "预警数", "treated": "已推送", "control": "对照组",
        "contacted": "已跟进", "hit": "预警命中率（对照组）",
        "ret_t": "挽回率（已推送）", "ret_k": "挽回率（已跟进）",
        "ret_c": "挽回率（对照组）", "uplift": "提升", "ci": "置信区间",
        "pts": "（百分点）", "all": "全部", "reason_family": "按原因类别", "action": "按跟进动作",
        "owner": "按负责人", "value_tier": "按价值等级",
    },
}  # fmt: skip
COLUMNS = ("segment", "alerts", "treated", "control", "contacted", "hit", "ret_t", "ret_k",
           "ret_c", "uplift", "ci")  # fmt: skip


def _rate(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _points(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}"


def _row(label: str, stats: dict[str, Any]) -> list[str]:
    low, high = stats.get("uplift_low"), stats.get("uplift_high")
    ci = "" if low is None or high is None else f"[{_points(low)}, {_points(high)}]"
    return [
        label, str(stats["alerts"]), str(stats["treatment"]), str(stats["control"]),
        str(stats["contacted"]), _rate(stats["hit_rate_control"]),
        _rate(stats["retention_treatment"]), _rate(stats["retention_contacted"]),
        _rate(stats["retention_control"]), _points(stats["uplift"]), ci,
    ]  # fmt: skip


def alerts_section(perf: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    """Template context: heading, sentences and tables (empty when nothing is measured)."""
    t = TEXT[lang]
    out: dict[str, Any] = {
        "heading": t["heading"], "simulated": None, "recall": None, "columns": [], "tables": [],
    }  # fmt: skip
    if perf is None:
        return {**out, "message": t["missing"]}
    if "SIMULATED" in str(perf.get("note", "")):
        out["simulated"] = t["simulated"]
    pending = int(perf.get("pending_alerts", 0))
    if not perf.get("measured_alerts"):
        due = perf.get("next_due")
        message = t["none"].format(pending=pending, due=due) if due else t["none_no_due"]
        return {**out, "message": message}
    out["message"] = t["intro"].format(
        measured=perf["measured_alerts"], end=perf.get("data_end"), pending=pending,
        level=float(perf.get("ci_level", 0.95)),
    )  # fmt: skip
    out["recall"] = (t["recall"], _rate(perf.get("recall")))
    out["columns"] = [t["uplift"] + t["pts"] if c == "uplift" else t[c] for c in COLUMNS]
    out["tables"].append({"title": t["all"], "rows": [_row(t["all"], perf["overall"])]})
    for segment in SEGMENTS:
        rows = [_row(str(r["value"]), r) for r in perf.get("by", {}).get(segment, [])]
        if rows:
            out["tables"].append({"title": t[segment], "rows": rows})
    return out
