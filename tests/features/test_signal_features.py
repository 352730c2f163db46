"""Signal features (issue 14) pinned on a hand-checked fixture, and their time discipline.

Customer A has rows in every signal table, placed on the window edges and around the
cutoff ``T``; customer B has orders only (its counts are 0, its ratios missing). The
leakage tests add, per table, events at or after ``T`` and late facts (closing,
response, cancellation, payment after ``T``) and check no feature at ``T`` moves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from config.features import FeatureParams, ValueTiers
from features.catalog import SIGNAL_CATALOG
from features.engines import DuckDBEngine
from features.online import build_online
from ingest.signal_schema import SIGNAL_COLUMNS, SIGNAL_TABLES

T = pd.Timestamp("2024-07-01")
D = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
NAN = math.nan
PARAMS = FeatureParams(value_tiers=ValueTiers(medium=500.0, high=2000.0))
NAMES = [f.name for f in SIGNAL_CATALOG]


def _orders() -> pd.DataFrame:
    rows = [("A", "a1", T - 10 * D), ("A", "a2", T - 100 * D), ("B", "b1", T - 20 * D)]
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_id": [r[1] for r in rows],
            "order_ts": [r[2] for r in rows],
            "amount": 10.0,
            "status": "completed",
        }
    )


def _tables() -> dict[str, list[dict[str, object]]]:
    none = None
    return {
        "tickets": [  # customer, opened, closed, complaint, satisfaction
            _t("A", T - 5 * D, none, True, none),  # open complaint
            _t("A", T - 30 * D, T - 29 * D, True, 2.0),  # on the 30-day edge: counts
            _t("A", T - 31 * D, T + D, False, 5.0),  # closed after T: open, score unknown
            _t("A", T - 100 * D, T - 99 * D, True, 4.0),  # 120d; previous 90 days' score
            _t("A", T, T + D, True, 1.0),  # at T: not before the cutoff
        ],
        "interactions": [  # customer, ts, inbound, responded
            _i("A", T - 10 * D, True, T - 10 * D + 2 * H),
            _i("A", T - 20 * D, True, T + H),  # answered after T: a contact, no answer
            _i("A", T - 100 * D, True, T - 100 * D + H),
            _i("A", T - 5 * D, False, none),  # outbound: ignored
            _i("A", T - 95 * D, True, none),
        ],
        "contracts": [  # customer, start, end, auto_renew, cancelled
            _k("A", T - 300 * D, T + 24 * D, False, none),
            _k("A", T - 10 * D, T + 355 * D, True, none),
            _k("A", T - 200 * D, T + 10 * D, False, T - 20 * D),  # cancelled: not live
            _k("A", T + 5 * D, T + 400 * D, False, none),  # starts after T
            _k("A", T - 400 * D, T - 35 * D, False, none),  # expired
        ],
        "invoices": [  # customer, issued, due, paid, amount
            _v("A", T - 60 * D, T - 30 * D, none, 100.0),
            _v("A", T - 50 * D, T - 20 * D, T + 3 * D, 50.5),  # paid after T: overdue
            _v("A", T - 40 * D, T - 10 * D, T - 11 * D, 70.0),  # paid
            _v("A", T - 5 * D, T + 25 * D, none, 30.0),  # not due yet
            _v("A", T - 20 * D, T, none, 20.0),  # due exactly at T: not overdue
        ],
        "usage": [  # customer, ts, event, quantity
            _u("A", T - D, "login", 3.0),
            _u("A", T - 30 * D, "report", 2.0),  # on the 30-day edge: recent
            _u("A", T - 45 * D, "login", 10.0),
            _u("A", T - 60 * D, "export", 5.0),  # on the 60-day edge: previous window
            _u("A", T - 61 * D, "x", 100.0),  # older than 60 days
            _u("A", T, "login", 100.0),  # at T
            _u("A", T - 2 * D, "login", None),  # no quantity: counts 1
        ],
    }


def _t(c, opened, closed, complaint, score) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "customer_id": c,
        "opened_at": opened,
        "closed_at": closed,
        "type": "x",
        "severity": None,
        "satisfaction": score,
        "is_complaint": complaint,
    }


def _i(c, ts, inbound, responded) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "customer_id": c,
        "ts": ts,
        "channel": "phone",
        "inbound": inbound,
        "responded_at": responded,
    }


def _k(c, start, end, auto, cancelled) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "customer_id": c,
        "start_at": start,
        "end_at": end,
        "value": 1.0,
        "auto_renew": auto,
        "cancelled_at": cancelled,
    }


def _v(c, issued, due, paid, amount) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"customer_id": c, "issued_at": issued, "due_at": due, "paid_at": paid, "amount": amount}


def _u(c, ts, event, qty) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"customer_id": c, "ts": ts, "event": event, "quantity": qty}


EXPECTED: dict[str, dict[str, float]] = {
    "A": {
        "complaints_30d": 2,
        "complaints_120d": 3,
        "satisfaction_trend_90d": 2.0 / 4.0 - 1,
        "open_tickets": 2,
        "inbound_contacts_trend_90d": 2 / 2 - 1,
        "response_hours_90d": 2.0,
        "days_to_contract_end": 24.0,
        "days_to_end_no_autorenew": 24.0,
        "contracts_cancelled_90d": 1,
        "overdue_invoices": 2,
        "overdue_amount": 150.5,
        "max_days_overdue": 30.0,
        "usage_trend_30d": (3 + 2 + 1) / (10 + 5) - 1,
        "usage_events_30d": 2,
    },
    "B": {
        "complaints_30d": 0,
        "complaints_120d": 0,
        "satisfaction_trend_90d": NAN,
        "open_tickets": 0,
        "inbound_contacts_trend_90d": NAN,
        "response_hours_90d": NAN,
        "days_to_contract_end": NAN,
        "days_to_end_no_autorenew": NAN,
        "contracts_cancelled_90d": 0,
        "overdue_invoices": 0,
        "overdue_amount": 0.0,
        "max_days_overdue": 0.0,
        "usage_trend_30d": NAN,
        "usage_events_30d": 0,
    },
}


def write_inputs(
    root: Path, tables: dict[str, list[dict[str, object]]], present: tuple[str, ...]
) -> tuple[Path, Path]:
    """Canonical orders and signal tables as ingest writes them; (orders, signals dir)."""
    orders = root / "orders.parquet"
    _orders().to_parquet(orders, index=False)
    sig = root / "signals"
    sig.mkdir(exist_ok=True)
    for name in present:
        frame = pd.DataFrame(tables[name], columns=list(SIGNAL_COLUMNS[name]))
        frame.to_parquet(sig / f"{name}.parquet", index=False)
    (sig / "manifest.json").write_text(json.dumps({"tables": list(present)}))
    return orders, sig


def features_at(root: Path, tables: dict, present: tuple[str, ...] = SIGNAL_TABLES) -> pd.DataFrame:  # type: ignore[type-arg]
    orders, sig = write_inputs(root, tables, present)
    engine = DuckDBEngine(orders, PARAMS, sig)
    try:
        return engine.features([T], labelled=False).set_index("customer_id")
    finally:
        engine.close()


def test_hand_checked_signal_values(tmp_path: Path) -> None:
    frame = features_at(tmp_path, _tables())
    assert frame.index.tolist() == ["A", "B"]
    for customer, expected in EXPECTED.items():
        for name, want in expected.items():
            got = frame.loc[customer, name]
            if isinstance(want, float) and math.isnan(want):
                assert pd.isna(got), f"{customer}.{name}: expected missing, got {got}"
            else:
                assert got == pytest.approx(want, abs=1e-12), f"{customer}.{name}: {got}"


def test_every_signal_feature_is_pinned() -> None:
    for expected in EXPECTED.values():
        assert set(expected) == set(NAMES)


@pytest.mark.parametrize("table", SIGNAL_TABLES)
def test_a_missing_table_omits_exactly_its_features(tmp_path: Path, table: str) -> None:
    present = tuple(t for t in SIGNAL_TABLES if t != table)
    frame = features_at(tmp_path, _tables(), present)
    gone = {f.name for f in SIGNAL_CATALOG if f.requires == (f"signal:{table}",)}
    assert gone and not gone & set(frame.columns)
    assert set(NAMES) - gone <= set(frame.columns)


# Per table: rows that start at/after T, and late facts of rows that started before T.
LATE: dict[str, list[dict[str, object]]] = {
    "tickets": [_t("A", T, None, True, 1.0), _t("A", T + 3 * D, T + 4 * D, True, 1.0)],
    "interactions": [_i("A", T, True, T + H), _i("A", T + 2 * D, True, None)],
    "contracts": [_k("A", T, T + 30 * D, False, None), _k("A", T + D, T + 2 * D, False, T + D)],
    "invoices": [_v("A", T, T + D, None, 9e5), _v("A", T + D, T + 2 * D, None, 1.0)],
    "usage": [_u("A", T, "new", 1e6), _u("A", T + D, "other", 5.0)],
}
# Facts that arrive after T on rows that began before it: never known at T.
LATER_FACTS: dict[str, tuple[int, str, object]] = {
    "tickets": (0, "closed_at", T + 2 * D),  # still open at T
    "interactions": (1, "responded_at", T + 5 * H),
    "contracts": (0, "cancelled_at", T + D),  # cancelled after T: still live at T
    "invoices": (0, "paid_at", T + D),  # paid after T: still overdue at T
    "usage": (0, "quantity", 3.0),  # (usage has no later fact: same value)
}


@pytest.mark.parametrize("table", SIGNAL_TABLES)
def test_events_at_or_after_the_cutoff_change_nothing(tmp_path: Path, table: str) -> None:
    base = features_at(tmp_path / "base", _tables()) if _mk(tmp_path / "base") else None
    tables = _tables()
    tables[table] = tables[table] + LATE[table]
    index, column, value = LATER_FACTS[table]
    tables[table][index] = {**tables[table][index], column: value}
    later = features_at(tmp_path / "later", tables) if _mk(tmp_path / "later") else None
    assert base is not None and later is not None
    pd.testing.assert_frame_equal(base[NAMES], later[NAMES])


def _mk(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def test_an_event_just_before_the_cutoff_does_change_features(tmp_path: Path) -> None:
    """The leakage tests can fail: the same rows moved 1 second before T do count."""
    base = features_at(tmp_path / "base", _tables()) if _mk(tmp_path / "base") else None
    tables = _tables()
    tables["tickets"].append(_t("A", T - pd.Timedelta(seconds=1), None, True, None))
    tables["invoices"].append(_v("A", T - 2 * D, T - pd.Timedelta(seconds=1), None, 1.0))
    moved = features_at(tmp_path / "moved", tables) if _mk(tmp_path / "moved") else None
    assert base is not None and moved is not None
    assert moved.loc["A", "complaints_30d"] == base.loc["A", "complaints_30d"] + 1
    assert moved.loc["A", "overdue_invoices"] == base.loc["A", "overdue_invoices"] + 1


def test_online_signal_features_match_the_batch(tmp_path: Path) -> None:
    """The posted events give the batch values (one feature definition, rule 11)."""
    batch = features_at(tmp_path, _tables())
    markers = {f"signal:{t}" for t in SIGNAL_TABLES}
    columns = {"customer_id", "order_id", "order_ts", "amount", "status", *markers}
    posted = {
        name: [
            {
                k: (None if v is None else str(v) if isinstance(v, pd.Timestamp) else v)
                for k, v in row.items()
            }
            for row in rows
        ]
        for name, rows in _tables().items()
    }
    online = build_online(_orders(), T, PARAMS, columns=columns, signals=posted)
    online = online.set_index("customer_id")
    pd.testing.assert_frame_equal(online[NAMES], batch[NAMES])


def test_online_refuses_a_table_the_model_does_not_read() -> None:
    columns = {"customer_id", "order_id", "order_ts", "amount", "status", "signal:tickets"}
    with pytest.raises(ValueError, match="reads no usage table"):
        build_online(_orders(), T, PARAMS, columns=columns, signals={"usage": []})
    bad = {"tickets": [{"customer_id": "A", "opened_at": "not a time"}]}
    with pytest.raises(ValueError, match=r"signals.tickets field 'opened_at'"):
        build_online(_orders(), T, PARAMS, columns=columns, signals=bad)
