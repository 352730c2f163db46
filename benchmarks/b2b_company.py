"""A synthetic B2B company: orders plus the five signal tables, with planted churn causes.

SYNTHETIC DATA, for developing and showing the signal features (issue 14): no public
dataset with ticket, contract, invoice and usage tables is available here. Figures
measured on it show that the code finds effects that were planted, never what signals
are worth on a real company.

Each customer orders steadily (a gap drawn per customer, 1-3 lines per order), holds
yearly contracts, gets an invoice per order, logs weekly product usage and contacts us
now and then. About ``churn_share`` of the customers churn (stop ordering, using and
paying) at a day ``D``, through exactly one planted cause, visible before ``D``:

- ``CONTRACT``: ``D`` is the end of a contract without auto-renewal (a non-renewing
  contract also ends without churn for half the others: the signal is not a verdict).
- ``COMPLAINTS``: 3-5 complaint tickets in the 10-45 days before ``D``, low
  satisfaction, some still open, more inbound contacts.
- ``PAYMENT``: invoices from 75 days before ``D`` on are never paid.
- ``USAGE``: usage falls to a fifth over the 60 days before ``D``, on fewer features.

Orders run at their usual pace until ``D``, so an orders-only model can see churn only
after it happened. The cause of each churner is written to ``planted.parquet``
(customer_id, cause, churn_at, visible_from) so a benchmark can check the reasons.
``visible_from`` is the generator's ground truth of when the planted cause first shows
in the tables as the features read them at a cutoff ``T`` (a row counts when its time
is ``< T``): the signing of the non-renewing contract (its end is known from then on),
the opening of the first planted complaint, the due date of the first invoice left
unpaid (overdue from then on), the first week of faded usage. It is empty when the cause
never shows (a PAYMENT churner with no order, hence no invoice, in its last 75 days).

    python -m benchmarks.b2b_company --out data/raw/b2b --customers 800 --seed 7
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")
END = pd.Timestamp("2024-12-31")
CAUSES = ("CONTRACT", "COMPLAINTS", "PAYMENT", "USAGE")
FEATURES = tuple(f"feature_{k}" for k in range(8))
DAY = pd.Timedelta(days=1)
PLANTED_COLUMNS = ("customer_id", "cause", "churn_at", "visible_from")


def _days(rng: np.random.Generator, lo: float, hi: float) -> pd.Timedelta:
    return pd.Timedelta(days=float(rng.uniform(lo, hi)))


class Company:
    """Accumulates the rows of every table while customers are simulated."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, object]]] = {
            k: [] for k in ("orders", "tickets", "interactions", "contracts", "invoices", "usage")
        }
        self.planted: list[dict[str, object]] = []

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {k: pd.DataFrame(v) for k, v in self.rows.items()}
        out["planted"] = pd.DataFrame(self.planted, columns=list(PLANTED_COLUMNS))
        return out


def _contracts(rng, c: Company, cid: str, first: pd.Timestamp, cause: str | None, end_by):
    """Yearly contracts from ``first``; returns the end and the signing of the contract
    that a CONTRACT churn does not renew (``None, None`` for other customers)."""
    start, churn_at, signed, k = first, None, None, 0
    auto = bool(rng.random() < 0.6)
    while start < END:
        end = start + pd.Timedelta(days=365)
        if cause == "CONTRACT" and churn_at is None and end > first + pd.Timedelta(days=300):
            auto, churn_at, signed = False, end, start.normalize()  # as the table shows it
        c.rows["contracts"].append(
            {
                "contract_no": f"{cid}-K{k}",
                "client": cid,
                "signed_from": start.date().isoformat(),
                "valid_to": end.date().isoformat(),
                "annual_value": round(float(rng.lognormal(9, 0.5)), 2),
                "auto_renewal": "yes" if auto else "no",
                "cancelled_on": None,
            }
        )
        if churn_at is not None or end >= end_by:
            break
        start, k = end, k + 1
        auto = bool(rng.random() < 0.6) if cause is None else auto
    return churn_at, signed


def _orders(rng, c: Company, cid: str, first: pd.Timestamp, stop: pd.Timestamp, unpaid_from):
    """Orders and their invoices; returns the due date of the first invoice left unpaid."""
    gap = float(rng.uniform(7, 30))
    ts, n, first_unpaid_due = first, 0, None
    while ts < stop:
        order = f"{cid}-O{n}"
        total = 0.0
        for line in range(int(rng.integers(1, 4))):
            amount = round(float(rng.lognormal(6, 0.6)), 2)
            total += amount
            c.rows["orders"].append(
                {
                    "order_no": order,
                    "client": cid,
                    "ordered": ts.isoformat(),
                    "sku": f"P{line}",
                    "qty": 1,
                    "value": amount,
                }
            )
        due = ts + pd.Timedelta(days=30)
        late = unpaid_from is not None and ts >= unpaid_from
        paid = None if late else due + _days(rng, -20, 12)
        if late and first_unpaid_due is None:
            first_unpaid_due = due
        c.rows["invoices"].append(
            {
                "invoice_no": order,
                "client": cid,
                "issued": ts,
                "due": due,
                "paid": paid,
                "total": round(total, 2),
            }
        )
        ts, n = ts + pd.Timedelta(days=float(rng.exponential(gap)) + 1), n + 1
    return first_unpaid_due


def _usage(rng, c: Company, cid: str, first: pd.Timestamp, stop: pd.Timestamp, fade_from):
    """Weekly usage rows; returns the week the faded usage is first logged."""
    used = rng.choice(FEATURES, size=int(rng.integers(3, 8)), replace=False)
    week, first_faded = first, None
    while week < stop:
        fade = fade_from is not None and week >= fade_from
        if fade and first_faded is None:
            first_faded = week
        for feature in used[:2] if fade else used:
            c.rows["usage"].append(
                {
                    "client": cid,
                    "at": week,
                    "action": feature,
                    "count": int(rng.poisson(4 if fade else 20)),
                }
            )
        week += pd.Timedelta(days=7)
    return first_faded


def _tickets(rng, c: Company, cid: str, first, stop, spike_at, n_base: int):
    """Tickets and inbound contacts; returns when the first planted complaint opens."""
    first_spike = None
    times = [first + _days(rng, 0, (stop - first).days) for _ in range(n_base)]
    kinds = [
        str(rng.choice(["question", "request", "complaint"], p=[0.5, 0.4, 0.1])) for _ in times
    ]
    if spike_at is not None:
        spike = [spike_at + _days(rng, 0, 35) for _ in range(int(rng.integers(3, 6)))]
        times, kinds = times + spike, kinds + ["complaint"] * len(spike)
        first_spike = min(spike)
    for k, (ts, kind) in enumerate(zip(times, kinds, strict=True)):
        bad = spike_at is not None and ts >= spike_at
        closed = None if bad and rng.random() < 0.5 else ts + _days(rng, 0.2, 10)
        score = float(rng.integers(1, 3) if bad else rng.integers(3, 6))
        c.rows["tickets"].append(
            {
                "ticket": f"{cid}-T{k}",
                "client": cid,
                "opened": ts,
                "closed": closed,
                "category": kind.upper(),
                "priority": "high" if bad else "normal",
                "csat": score if closed is not None else None,
            }
        )
        inbound = 3 if bad else 1
        for _ in range(inbound):
            at = ts + _days(rng, -2, 2)
            c.rows["interactions"].append(
                {
                    "client": cid,
                    "at": at,
                    "via": str(rng.choice(["phone", "email", "chat"])),
                    "dir": "IN",
                    "answered": at + pd.Timedelta(hours=float(rng.exponential(8))),
                }
            )
    return first_spike


def simulate(n_customers: int, seed: int, churn_share: float = 0.35) -> dict[str, pd.DataFrame]:
    """Every table of the company (source column names, as an export would have them)."""
    rng = np.random.default_rng(seed)
    c = Company()
    for i in range(n_customers):
        cid = f"C{i:05d}"
        first = START + _days(rng, 0, 240)
        cause = str(rng.choice(CAUSES)) if rng.random() < churn_share else None
        churn_at = None
        if cause is not None:
            churn_at = first + _days(rng, 200, (END - first).days + 60)
        contract_end, signed = _contracts(rng, c, cid, first, cause, churn_at or END)
        if cause == "CONTRACT":
            churn_at = contract_end
        stop = min(churn_at, END) if churn_at is not None else END
        unpaid = churn_at - pd.Timedelta(days=75) if cause == "PAYMENT" and churn_at else None
        fade = churn_at - pd.Timedelta(days=60) if cause == "USAGE" and churn_at else None
        spike = churn_at - pd.Timedelta(days=45) if cause == "COMPLAINTS" and churn_at else None
        shown = {
            "CONTRACT": signed,
            "PAYMENT": _orders(rng, c, cid, first, stop, unpaid),
            "USAGE": _usage(rng, c, cid, first, stop, fade),
            "COMPLAINTS": _tickets(rng, c, cid, first, stop, spike, int(rng.poisson(4))),
        }
        if churn_at is not None:  # churn after END: signals visible at the end of data
            c.planted.append(
                {"customer_id": cid, "cause": cause, "churn_at": churn_at,
                 "visible_from": shown[str(cause)]}
            )  # fmt: skip
        for _ in range(int(rng.poisson(6))):
            at = first + _days(rng, 0, (stop - first).days)
            c.rows["interactions"].append(
                {"client": cid, "at": at, "via": "visit", "dir": "OUT", "answered": None}
            )
    return c.frames()


def write_company(out: Path, n_customers: int, seed: int) -> dict[str, int]:
    """Write every table as Parquet under ``out`` (orders as CSV); rows per table."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in simulate(n_customers, seed).items():
        if name == "orders":
            frame.to_csv(out / "orders.csv", index=False)
        else:
            frame.to_parquet(out / f"{name}.parquet", index=False)
        counts[name] = len(frame)
    return counts


def main(argv: list[str] | None = None) -> None:
    """Generate the company into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("data/raw/b2b"))
    parser.add_argument("--customers", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = write_company(args.out, args.customers, args.seed)
    print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
