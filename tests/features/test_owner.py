"""The owner (sales rep) as of a cutoff: hand-checked rows on every boundary, and the
bundled data with a synthetic owner mapping joined on by ingest (a lookup table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from config.base import load_section, read_params
from config.data import DataParams
from config.features import FeatureParams
from features.catalog import feature_names
from features.engines import DuckDBEngine
from features.owner import has_owner, owner_as_of, with_owner
from ingest.ingest import run_ingest

ROOT = Path(__file__).resolve().parents[2]
OWNERS_BY_COUNTRY = ROOT / "tests" / "fixtures" / "alerts" / "owners_by_country.csv"
CUTOFF = pd.Timestamp("2011-06-01")


def _orders(path: Path) -> Path:
    t = pd.Timestamp
    rows = [
        # a: reassigned from ann to bob before the cutoff, to cat exactly at it (not used)
        ("a", "o1", t("2011-01-05"), "completed", "ann"),
        ("a", "o2", t("2011-05-31 23:59:59"), "returned", "bob"),
        ("a", "o3", t("2011-06-01"), "completed", "cat"),
        # b: the latest line names nobody: the latest line that names one counts
        ("b", "o4", t("2011-03-01"), "completed", "dan"),
        ("b", "o5", t("2011-04-01"), "completed", None),
        # c: two owners at the same latest time: alphabetical first, whatever the order
        ("c", "o6", t("2011-02-01"), "completed", "zed"),
        ("c", "o6", t("2011-02-01"), "completed", "eve"),
        # d: only after the cutoff, e: never any owner
        ("d", "o7", t("2011-07-01"), "completed", "fay"),
        ("e", "o8", t("2011-01-01"), "completed", None),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_ts", "status", "owner"])
    frame["amount"] = 10.0
    frame.to_parquet(path)
    return path


def test_owner_is_the_latest_named_one_strictly_before_the_cutoff(tmp_path: Path) -> None:
    owners = owner_as_of(_orders(tmp_path / "o.parquet"), CUTOFF)
    assert owners.sort_index().to_dict() == {"a": "bob", "b": "dan", "c": "eve"}
    later = owner_as_of(tmp_path / "o.parquet", pd.Timestamp("2011-06-01 00:00:01"))
    assert later.sort_index().to_dict() == {"a": "cat", "b": "dan", "c": "eve"}


def test_a_reassignment_after_the_cutoff_changes_nothing(tmp_path: Path) -> None:
    path = _orders(tmp_path / "o.parquet")
    frame = pd.read_parquet(path)
    frame.loc[frame["order_ts"] >= CUTOFF, "owner"] = "someone-new"
    frame.to_parquet(tmp_path / "changed.parquet")
    before = owner_as_of(path, CUTOFF).sort_index()
    assert owner_as_of(tmp_path / "changed.parquet", CUTOFF).sort_index().equals(before)


def test_with_owner_appends_a_column_and_none_where_unknown(tmp_path: Path) -> None:
    owners = owner_as_of(_orders(tmp_path / "o.parquet"), CUTOFF)
    frame = pd.DataFrame({"customer_id": ["a", "e", "zz"], "x": [1, 2, 3]})
    out = with_owner(frame, owners)
    assert list(out.columns) == ["customer_id", "x", "owner"]
    assert out["owner"].tolist() == ["bob", None, None]
    assert "owner" not in frame.columns  # the input frame is not mutated


def _bundled_with_owner(tmp_path: Path, handover: pd.Timestamp) -> Path:
    """Ingest the bundled data with an owner per invoice: the country's rep (from the
    lookup file in tests/fixtures), handed over to ``new-<rep>`` from ``handover`` on."""
    raw = pd.read_parquet(ROOT / "data/raw/online_retail.parquet")
    by_country = pd.read_csv(OWNERS_BY_COUNTRY)
    invoices = raw.groupby("InvoiceNo", as_index=False).agg(
        Country=("Country", "first"), InvoiceDate=("InvoiceDate", "min")
    )
    invoices = invoices.merge(by_country, on="Country", how="left")
    late = invoices["InvoiceDate"] >= handover
    invoices.loc[late, "sales_rep"] = "new-" + invoices.loc[late, "sales_rep"]
    invoices[["InvoiceNo", "sales_rep"]].to_parquet(tmp_path / "invoice_owner.parquet")
    data = read_params(ROOT / "params.yaml")["data"]
    data["source"] = str(ROOT / data["source"])
    data["lookups"] = [
        {"source": str(tmp_path / "invoice_owner.parquet"), "key": "InvoiceNo",
         "columns": ["sales_rep"]}
    ]  # fmt: skip
    data["columns"]["owner"] = "sales_rep"
    mapped = DataParams.model_validate(data)
    out = tmp_path / "orders.parquet"
    run_ingest(mapped, out, tmp_path / "q.parquet", tmp_path / "ingest.json")
    return out


@pytest.mark.slow
def test_bundled_data_with_an_owner_mapping(tmp_path: Path) -> None:
    handover = pd.Timestamp("2011-09-01")
    orders_path = _bundled_with_owner(tmp_path, handover)
    orders = pd.read_parquet(orders_path)
    assert has_owner(orders_path) and "owner" in orders.columns
    # "Unspecified" country has no rep in the file: those lines have no owner
    assert orders["owner"].isna().any() and orders["owner"].notna().mean() > 0.99
    # as of the handover nobody is routed to a rep named after it (no leak from later lines)
    at_handover = owner_as_of(orders_path, handover)
    before = orders[orders["order_ts"] < handover]
    assert set(at_handover.index) == set(before.loc[before["owner"].notna(), "customer_id"])
    assert not at_handover.str.startswith("new-").any()
    # at the end of the data, customers who ordered since have the new rep
    end = orders["order_ts"].max() + pd.Timedelta(seconds=1)
    at_end = owner_as_of(orders_path, end)
    since = set(
        orders.loc[(orders["order_ts"] >= handover) & orders["owner"].notna(), "customer_id"]
    )
    assert at_end[sorted(since)].str.startswith("new-").all()
    assert at_end.loc["12346"] == "ann"  # one UK order in January 2011 (hand-checked)
    # the owner is no feature: the feature frame is the same with or without the column
    feats = load_section(read_params(ROOT / "params.yaml"), "features", FeatureParams)
    orders.drop(columns=["owner"]).to_parquet(tmp_path / "no_owner.parquet")
    frames = []
    for path in (orders_path, tmp_path / "no_owner.parquet"):
        engine = DuckDBEngine(path, feats)
        try:
            frames.append(engine.features([handover], labelled=False))
        finally:
            engine.close()
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert "owner" not in frames[0].columns
    assert "owner" not in feature_names(engine.columns)


def test_features_stage_puts_the_owner_on_latest_only(tmp_path: Path) -> None:
    from features.features import main
    from tests.features.test_features_build import PARAMS, synthetic_orders

    orders = synthetic_orders()
    orders["owner"] = np.where(orders["order_ts"] < pd.Timestamp("2023-06-01"), "old", "new")
    orders.loc[orders["customer_id"] == "C000", "owner"] = None
    orders.to_parquet(tmp_path / "orders.parquet", index=False)
    out = {k: tmp_path / f"{k}.parquet" for k in ("snapshots", "latest")}
    main(
        ["--params", str(PARAMS), "--orders", str(tmp_path / "orders.parquet"),
         "--snapshots", str(out["snapshots"]), "--latest", str(out["latest"]),
         "--report", str(tmp_path / "features.json")]
    )  # fmt: skip
    latest = pd.read_parquet(out["latest"])
    names = feature_names(frozenset({"product_id", "owner"}))
    assert list(latest.columns) == ["customer_id", "cutoff", *names, "owner"]
    assert "owner" not in pd.read_parquet(out["snapshots"]).columns  # never trained on
    cutoff = latest["cutoff"].iloc[0]
    expected = owner_as_of(tmp_path / "orders.parquet", cutoff)
    got = latest.set_index("customer_id")["owner"]
    assert got.dropna().sort_index().equals(expected.reindex(got.dropna().index).sort_index())
    assert got.index.is_unique and "C000" in got.index and pd.isna(got["C000"])
    assert got.drop("C000").notna().all() and set(got.dropna()) == {"old", "new"}
