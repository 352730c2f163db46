"""The alert database on SQLite and PostgreSQL: migrations, alerts, outcomes, deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect

from alerts.store import AlertStore, Outcome, StoreError, open_store, resolve_db_url
from alerts.worklist import build_worklist
from config.alerts import AlertsParams
from tests.alerts.helpers import scores_frame

PARAMS = AlertsParams(capacity_per_cycle=8, control_share=0.25)


def _cycle(store: AlertStore, as_of: str = "2011-12-10", n: int = 20) -> pd.DataFrame:
    wl = build_worklist(
        scores_frame(n, as_of=as_of, owners=["ann", "bob"]), store.history(), PARAMS, seed=3
    )
    store.save_worklist(wl.alerts)
    return wl.alerts


def test_migrations_create_the_tables_and_are_idempotent(db_url: str) -> None:
    first = open_store(db_url)
    tables = set(inspect(first.engine).get_table_names())
    assert {"alerts", "deliveries", "outcomes", "alembic_version"} <= tables
    first.engine.dispose()
    open_store(db_url).engine.dispose()  # a second migrate is a no-op


def test_saving_a_cycle_twice_keeps_one_row_per_alert(store: AlertStore) -> None:
    alerts = _cycle(store)
    assert store.save_worklist(alerts) == 0
    stored = store.alerts_frame()
    assert len(stored) == len(alerts)
    assert set(stored["status"]) == {"open", "held_out"}
    held = stored[stored["group"] == "control"]
    assert (held["status"] == "held_out").all() and len(held) > 0


def test_history_feeds_cooldown_of_the_next_cycle(store: AlertStore) -> None:
    first = _cycle(store)
    second = _cycle(store, as_of="2011-12-20")
    assert not set(first["customer_id"]) & set(second["customer_id"])  # all cooling down
    later = _cycle(store, as_of="2012-02-20")
    assert set(first["customer_id"]) & set(later["customer_id"])


def test_list_alerts_filters_pages_and_hides_control(store: AlertStore) -> None:
    alerts = _cycle(store)
    treated = alerts[alerts["group"] == "treatment"]
    total, page = store.list_alerts("open", None, limit=3, offset=0)
    assert total == len(treated) and len(page) == 3
    total_ann, ann = store.list_alerts("open", "ann", limit=100, offset=0)
    assert total_ann == (treated["owner"] == "ann").sum()
    assert all(a.owner == "ann" and a.group == "treatment" for a in ann)
    _, rest = store.list_alerts(None, None, limit=100, offset=3)
    assert [a.alert_id for a in rest] == treated["alert_id"].tolist()[3:]


def test_outcomes_are_idempotent_on_alert_and_contact_time(store: AlertStore) -> None:
    alerts = _cycle(store)
    aid = alerts.loc[alerts["group"] == "treatment", "alert_id"].iloc[0]
    at = datetime(2011, 12, 12, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    row, created = store.record_outcome(Outcome("call", at, "in_progress", alert_id=aid))
    assert created and row.contacted_at == datetime(2011, 12, 12, 1, 30)
    again, created = store.record_outcome(
        Outcome("call", at.astimezone(UTC), "in_progress", alert_id=aid)
    )  # same instant
    assert not created and again.id == row.id
    assert store.get_alert(aid).status == "in_progress"  # type: ignore[union-attr]
    store.record_outcome(Outcome("visit", at + timedelta(days=3), "retained", alert_id=aid))
    assert store.get_alert(aid).status == "closed"  # type: ignore[union-attr]
    store.record_outcome(Outcome("call", at + timedelta(days=5), "no_answer", alert_id=aid))
    assert store.get_alert(aid).status == "closed"  # type: ignore[union-attr]
    assert len(store.outcomes_frame()) == 3


def test_outcome_by_customer_id_finds_the_latest_delivered_alert(store: AlertStore) -> None:
    _cycle(store)
    later = _cycle(store, as_of="2012-02-20")
    treated = later[later["group"] == "treatment"].iloc[0]
    row, _ = store.record_outcome(
        Outcome("call", datetime(2012, 2, 21), "lost", customer_id=treated["customer_id"])
    )
    assert row.alert_id == treated["alert_id"]
    with pytest.raises(StoreError, match="nobody"):
        store.record_outcome(Outcome("call", datetime(2012, 2, 21), "lost", customer_id="nobody"))
    with pytest.raises(StoreError, match="no alert"):
        store.record_outcome(Outcome("call", datetime(2012, 2, 21), "lost", alert_id="nope"))


def test_deliveries_send_once_and_retry_failures(store: AlertStore) -> None:
    alerts = _cycle(store)
    treated = alerts.loc[alerts["group"] == "treatment", "alert_id"].tolist()
    pending = [a.alert_id for a in store.undelivered("webhook:generic")]
    assert pending == treated  # control alerts are never delivered
    store.mark_delivery(treated[0], "webhook:generic", True, 1)
    store.mark_delivery(treated[1], "webhook:generic", False, 3, "HTTP 500")
    pending = [a.alert_id for a in store.undelivered("webhook:generic")]
    assert treated[0] not in pending and treated[1] in pending
    store.mark_delivery(treated[1], "webhook:generic", True, 1)
    rows = store.deliveries_frame().set_index("alert_id")
    assert rows.loc[treated[1], "attempts"] == 4 and rows.loc[treated[1], "status"] == "sent"
    assert len(store.undelivered("webhook:slack")) == len(treated)  # per channel


def test_relative_sqlite_path_is_relative_to_the_repo(tmp_path: Path) -> None:
    url = resolve_db_url("sqlite:///data/alerts/alerts.db", tmp_path, {})
    assert url == f"sqlite:///{tmp_path / 'data/alerts/alerts.db'}"
    assert resolve_db_url("sqlite:///x.db", tmp_path, {"CHURN_DB_URL": "postgresql://h/d"}) == (
        "postgresql://h/d"
    )
