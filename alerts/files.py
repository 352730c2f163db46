"""Worklist files for CRM import: Parquet, CSV (UTF-8 with BOM, opens in Excel) and JSON.

Only ``treatment`` alerts go into the CSV and JSON the sales team sees; the Parquet file
keeps the whole cycle, control hold-outs included (recorded, never delivered).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from alerts.fields import DELIVERED_FIELDS


def delivered(alerts: pd.DataFrame) -> pd.DataFrame:
    """The alerts the sales team gets (control hold-outs removed)."""
    return alerts.loc[alerts["group"] == "treatment", list(DELIVERED_FIELDS)].reset_index(drop=True)


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (dates as ISO strings, NaN as null)."""
    return [{str(k): _json_value(v) for k, v in rec.items()} for rec in frame.to_dict("records")]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_files(alerts: pd.DataFrame, worklist: Path, csv: Path, json_path: Path) -> int:
    """Write the three files atomically; return the number of delivered alerts."""
    worklist.parent.mkdir(parents=True, exist_ok=True)
    tmp = worklist.with_name(f".{worklist.name}.tmp")
    alerts.to_parquet(tmp, index=False)
    os.replace(tmp, worklist)
    out = delivered(alerts)
    _atomic_write(csv, out.to_csv(index=False).encode("utf-8-sig"))
    body = {
        "cycle": _json_value(alerts["cycle"].iloc[0]) if len(alerts) else None,
        "alerts": records(out),
    }
    _atomic_write(json_path, json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"))
    return len(out)
