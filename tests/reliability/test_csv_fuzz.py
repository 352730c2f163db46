"""CSV fuzzer: hostile exports must never lose or invent a line.

Each case writes a small export with a random dialect (delimiter, quote, encoding, BOM,
line ending) and random trouble (``#`` cells, quotes, embedded newlines, blank and
whitespace lines, ragged rows, unbalanced quotes), declares that dialect in params and
runs the real ingest stage. The oracle is the generator's own bookkeeping, not the
parser: the physical line count, the id of every record it wrote, and where it put
each bad line. ``CHURN_FUZZ_CASES`` raises the number of cases (default 300).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from config.data import DataParams
from ingest.ingest import IngestError, run_ingest

CASES = int(os.environ.get("CHURN_FUZZ_CASES", "300"))
ENCODINGS = ("utf-8", "gbk", "gb18030", "utf-16", "latin-1")
FILES_PER_RUN = 10
WIDE = {
    "latin-1": ("é", "ß"),
    "gbk": ("客户", "订单", "北京"),
    "gb18030": ("客户", "订单", "€", "ß"),
    "utf-8": ("客户", "订单", "é", "ß", "😀"),
}
WIDE["utf-16"] = WIDE["utf-8"]
HEADER = ("cust", "ts", "amount", "note")


@dataclass
class Export:
    """One generated export and what the generator knows about it."""

    text: str = ""
    lines: int = 0  # physical lines written
    good: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (note, amount)
    bad_lines: list[int] = field(default_factory=list)  # 1-based physical line numbers
    unbalanced: bool = False


def _cell(rng: random.Random, value: str, delim: str, quote: str, force: bool) -> str:
    """A cell, quoted when it must be (or at random), quotes doubled inside."""
    needs = any(ch in value for ch in (delim, quote, "\n", "\r")) or value != value.strip()
    if needs or force or rng.random() < 0.2:
        return quote + value.replace(quote, quote * 2) + quote
    return value


def _note(rng: random.Random, encoding: str, delim: str, quote: str) -> str:
    parts = ["#x", "#", "a#b", "", " lead", "tail ", delim, quote, "multi\nline", "ok"]
    parts += list(WIDE.get(encoding, WIDE["utf-8"]))
    return "".join(rng.choice(parts) for _ in range(rng.randint(0, 3)))


def _export(rng: random.Random, encoding: str, delim: str, quote: str, file: int) -> Export:
    eol = rng.choice(["\n", "\r\n"])
    out = Export()
    rows = [delim.join(HEADER)]
    for n in range(rng.randint(1, 25)):
        kind = rng.random()
        cust = rng.choice(["", "#", "00"]) + f"f{file}c{n}"
        if kind < 0.08:
            rows.append(rng.choice(["", " ", "\t ", "   "]))
            out.bad_lines.append(len(rows))
        elif kind < 0.16:
            width = rng.choice([1, 2, 3, 5, 6])
            rows.append(delim.join(f"r{n}x{i}" for i in range(width)))
            out.bad_lines.append(len(rows))
        elif kind < 0.2:
            rows.append(f"{quote}{cust}{delim}2011-02-01{delim}1{delim}open")
            out.unbalanced = True
        else:
            note, amount = _note(rng, encoding, delim, quote), round(rng.uniform(0.5, 900), 2)
            cells = [
                _cell(rng, cust, delim, quote, cust.startswith("#")),
                _cell(rng, f"2011-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}", delim, quote, False),
                _cell(rng, repr(amount), delim, quote, False),
                _cell(rng, note, delim, quote, False),
            ]
            rows.append(delim.join(cells))
            out.good[cust] = (note, amount)
    # physical line numbers: count the newlines embedded in earlier rows
    starts, line = [], 1
    for row in rows:
        starts.append(line)
        line += row.count("\n") + 1
    out.bad_lines = [starts[i - 1] for i in out.bad_lines]
    body = eol.join(r.replace("\n", eol) for r in rows)
    if rng.random() < 0.7 or rows[-1] == "":  # an empty last line exists only if ended
        body += eol
    out.text, out.lines = body, line - 1
    return out


def _write(rng: random.Random, path: Path, text: str, encoding: str) -> None:
    """Write ``text`` in ``encoding``, with a byte-order mark half of the time."""
    data = text.encode(encoding)
    if encoding in ("utf-8", "gb18030") and rng.random() < 0.5:
        data = "\ufeff".encode(encoding) + data
    path.write_bytes(data)


def _params(source: Path, encoding: str, delim: str, quote: str) -> DataParams:
    return DataParams.model_validate(
        {
            "source": str(source),
            "format": "csv",
            "csv_encoding": encoding,
            "csv_delimiter": delim,
            "csv_quote": quote,
            "csv_escape": quote,
            "columns": {"customer_id": "cust", "order_ts": "ts", "amount": "amount"},
            "status": {"negative_quantity_is_return": True},
            "max_quarantine_share": 1.0,
        }
    )


def _ingest(params: DataParams, out: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    orders, quarantine, report = out / "o.parquet", out / "q.parquet", out / "r.json"
    try:
        run_ingest(params, orders, quarantine, report)
    except IngestError as exc:
        assert "no clean rows" in str(exc), exc  # every other failure is a bug
    clean = pd.read_parquet(orders) if orders.exists() else pd.DataFrame({"customer_id": []})
    return json.loads(report.read_text()), clean, pd.read_parquet(quarantine)


def _check(
    run: int, exports: list[Export], report: dict, clean: pd.DataFrame, bad: pd.DataFrame
) -> None:
    """The generator's bookkeeping against the stage's outputs, file by file."""
    n_clean = report.get("rows_clean", 0)
    assert report["rows_in"] == n_clean + report["rows_quarantined"], f"run {run}"
    assert report["source_lines"] == sum(e.lines for e in exports), f"run {run}: physical lines"
    assert len(bad) == report["rows_quarantined"], f"run {run}"
    ids = list(clean["customer_id"])
    assert len(ids) == len(set(ids)), f"run {run}: a record came out twice"
    good = {cid for e in exports for cid in e.good}
    assert set(ids) <= good, f"run {run}: invented ids {set(ids) - good}"
    records = 0
    for k, export in enumerate(exports):
        where = f"run {run}, export_{k:02d}.csv"
        mine = bad[bad["source_file"].str.endswith(f"export_{k:02d}.csv")]
        malformed = set(mine.loc[mine["reason"] == "malformed_line", "source_line"])
        missing = set(export.bad_lines) - malformed
        assert not missing, f"{where}: bad lines {sorted(missing)} not quarantined as malformed"
        records += len(export.good) + len(export.bad_lines)
        if export.unbalanced:
            continue  # an open quote may take later lines into its field: totals only
        out = {c for c in ids if c in export.good}
        assert out == set(export.good), f"{where}: lost {set(export.good) - out}"
        assert malformed == set(export.bad_lines), f"{where}: {sorted(malformed)}"
        for row in clean[clean["customer_id"].isin(out)].itertuples():
            assert row.amount == pytest.approx(export.good[row.customer_id][1]), f"{where}: {row}"
    if not any(e.unbalanced for e in exports):
        assert report["rows_in"] == records, f"run {run}"


@pytest.mark.parametrize("run", range(CASES // FILES_PER_RUN))
def test_fuzzed_exports_conserve_every_line(tmp_path: Path, run: int) -> None:
    """rows in = clean + quarantined, counted as physical records, in every export.

    One ingest run reads ``FILES_PER_RUN`` exports of one dialect through a glob.
    """
    rng = random.Random(run)
    encoding = ENCODINGS[run % len(ENCODINGS)]
    delim, quote = rng.choice([",", ";", "\t", "|"]), rng.choice(['"', "'"])
    exports = []
    for k in range(FILES_PER_RUN):
        export = _export(rng, encoding, delim, quote, k)
        _write(rng, tmp_path / f"export_{k:02d}.csv", export.text, encoding)
        exports.append(export)
    params = _params(tmp_path / "export_*.csv", encoding, delim, quote)
    report, clean, bad = _ingest(params, tmp_path / "out")
    _check(run, exports, report, clean, bad)
