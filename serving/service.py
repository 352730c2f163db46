"""The churn service: an immutable loaded state, swapped atomically on reload.

No FastAPI here. A :class:`ServingState` holds one model, the snapshot it scored, and the
responses precomputed from the *batch* scoring function (TreeSHAP runs once per
customer at load time, never on the GET hot path), so an API answer is the batch score.
Reload builds a complete new state beside the old one and replaces a single reference:
a request that already read the old state finishes on it, every later request sees the
new one, and no request can see a model paired with another model's snapshot.

Where model, snapshot, scores and online features come from is a :class:`Backend`
(:mod:`serving.backend` wires the real pipeline functions).
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson
import pandas as pd

from features.reason_codes import MAX_REASONS
from serving.records import Prepared, as_of_text, full_record, public_body
from serving.signal import ReloadSignal

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error with an HTTP status and a stable code (rendered by serving.errors)."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: list[Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ModelNotLoaded(ServiceError):
    status, code = 503, "model_not_loaded"


class CustomerNotFound(ServiceError):
    status, code = 404, "customer_not_found"


class BatchTooLarge(ServiceError):
    status, code = 413, "batch_too_large"


class InvalidOrders(ServiceError):
    status, code = 422, "invalid_orders"


class ReloadFailed(ServiceError):
    status, code = 503, "reload_failed"


@dataclass(frozen=True)
class ServiceOptions:
    """Limits and defaults of a :class:`ChurnService` (from :class:`serving.settings.Settings`)."""

    langs: tuple[str, ...] = ("en", "zh-CN")
    default_top_k: int | None = None  # None: the params' reasons.top_k
    max_top_k: int = MAX_REASONS
    max_batch_size: int = 1000
    max_orders: int = 5000
    signal_path: Path | None = None


class Scorer(Protocol):
    """Scores with one loaded model (and the params/reference it was loaded with)."""

    def score_batch(self, snapshot: pd.DataFrame, top_k: int) -> pd.DataFrame:
        """Score rows of a feature snapshot exactly as the batch ``score`` stage does."""
        ...

    def score_online(
        self, customer_id: str, orders: Sequence[Mapping[str, Any]], as_of: datetime, top_k: int
    ) -> list[dict[str, Any]]:
        """Validate raw orders, build features as of ``as_of`` and score them: one score
        row (as :meth:`score_batch` rows, as dicts) per customer scored.

        Raises :class:`InvalidOrders` naming the order index and field of bad records.
        """
        ...


@dataclass(frozen=True)
class Loaded:
    """What a backend load returns: a scorer, the snapshot to precompute, and facts."""

    scorer: Scorer
    snapshot: pd.DataFrame
    info: Mapping[str, Any]
    default_top_k: int


class Backend(Protocol):
    """Where model, params and snapshot come from (serving.backend: the pipeline's)."""

    def load(self) -> Loaded: ...


@dataclass(frozen=True)
class ServingState:
    """One consistent (model, snapshot, precomputed answers) triple."""

    scorer: Scorer
    info: Mapping[str, Any]
    as_of: datetime
    default_top_k: int
    hot: Mapping[str, Mapping[str, Prepared]]
    full: Mapping[str, bytes]
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def n_customers(self) -> int:
        return len(self.full)


_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[^\s/\\:'\"]+[/\\])*([^\s/\\:'\"]+)")


def public_reason(exc: BaseException) -> str:
    """One line saying what is wrong, every file path cut to its last component."""
    text = " ".join(_PATH.sub(r"\1", str(exc)).split())
    return f"{type(exc).__name__}: {text[:300]}"


def snapshot_as_of(snapshot: pd.DataFrame) -> datetime:
    """The snapshot's cutoff (one value for every row), as a naive datetime."""
    if "cutoff" not in snapshot.columns:
        raise ValueError("snapshot has no 'cutoff' column")
    cutoffs = pd.DatetimeIndex(pd.to_datetime(snapshot["cutoff"]).unique())
    if len(cutoffs) != 1:
        raise ValueError(f"snapshot must have exactly one cutoff, found {len(cutoffs)}")
    return cutoffs[0].to_pydatetime()


def build_state(backend: Backend, options: ServiceOptions) -> ServingState:
    """Load, score every customer once (all reasons), and serialise the answers."""
    started = time.perf_counter()
    loaded = backend.load()
    as_of = snapshot_as_of(loaded.snapshot)
    default_top_k = options.default_top_k
    if default_top_k is None:
        default_top_k = loaded.default_top_k
    scores = loaded.scorer.score_batch(loaded.snapshot, options.max_top_k)
    full: dict[str, bytes] = {}
    hot: dict[str, dict[str, Prepared]] = {lang: {} for lang in options.langs}
    for row in scores.to_dict("records"):
        record = full_record(row)
        cid = record["customer_id"]
        full[cid] = orjson.dumps(record)
        for lang in options.langs:
            hot[lang][cid] = public_body(record, lang, default_top_k)
    logger.info(
        "scored %d customers as of %s in %.1fs", len(full), as_of, time.perf_counter() - started
    )
    return ServingState(loaded.scorer, dict(loaded.info), as_of, default_top_k, hot, full)


class ChurnService:
    """Answers churn questions from the current state; reloads without dropping requests."""

    def __init__(self, backend: Backend, options: ServiceOptions) -> None:
        self._backend = backend
        self.options = options
        self.signal = ReloadSignal(options.signal_path)
        self._state: ServingState | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def state(self) -> ServingState:
        """The current state, or :class:`ModelNotLoaded` (HTTP 503)."""
        state = self._state
        if state is None:
            detail = f" (last load failed: {self.last_error})" if self.last_error else ""
            raise ModelNotLoaded("no model is loaded yet" + detail)
        return state

    @property
    def ready(self) -> bool:
        return self._state is not None

    def reload(self) -> ServingState:
        """Build a new state and swap it in; on failure keep serving the old one."""
        with self._reload_lock:
            try:
                new = build_state(self._backend, self.options)
            except LookupError as exc:  # expected before a first promotion: one line
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("not serving yet: %s", exc)
                raise ReloadFailed(f"reload failed: {self.last_error}") from exc
            except Exception as exc:
                # the full text and traceback go to the server log; callers (and the
                # key-less /readyz) get the reason with file names but no paths
                self.last_error = public_reason(exc)
                logger.exception("loading model and snapshot failed")
                raise ReloadFailed(
                    f"reload failed, the previous model keeps serving: {self.last_error}"
                ) from exc
            self._state = new  # a single reference assignment: the atomic swap
            self.last_error = None
        # Move the (large, long-lived) state out of the cyclic GC's sight: otherwise every
        # full collection walks hundreds of thousands of cached answers and shows up as
        # multi-millisecond p99 spikes. Refcounting still frees a replaced state.
        gc.collect()
        gc.freeze()
        return new

    def customer(self, customer_id: str, lang: str, top_k: int | None) -> Prepared:
        """The answer for one customer; precomputed bytes for the default top_k."""
        state = self.state
        return self._from_state(state, customer_id, lang, self._top_k(state, top_k))

    def batch(
        self, customer_ids: Sequence[str], lang: str, top_k: int | None
    ) -> tuple[bytes, list[Prepared]]:
        """``{"results": [...], "not_found": [...]}`` as bytes, and the answers it holds."""
        limit = self.options.max_batch_size
        if len(customer_ids) > limit:
            raise BatchTooLarge(f"{len(customer_ids)} ids exceed the batch limit of {limit}")
        state = self.state
        top_k = self._top_k(state, top_k)
        found: list[Prepared] = []
        missing: list[str] = []
        for cid in customer_ids:
            try:
                found.append(self._from_state(state, cid, lang, top_k))
            except CustomerNotFound:
                missing.append(cid)
        body = b'{"results":[' + b",".join(p.body for p in found) + b'],"not_found":'
        return body + orjson.dumps(missing) + b"}", found

    def _top_k(self, state: ServingState, top_k: int | None) -> int:
        return state.default_top_k if top_k is None else min(top_k, self.options.max_top_k)

    def _from_state(self, state: ServingState, cid: str, lang: str, top_k: int) -> Prepared:
        if top_k == state.default_top_k:
            hit = state.hot[lang].get(cid)
            if hit is None:
                raise CustomerNotFound(f"customer {cid!r} is not in the snapshot")
            return hit
        raw = state.full.get(cid)
        if raw is None:
            raise CustomerNotFound(f"customer {cid!r} is not in the snapshot")
        return public_body(orjson.loads(raw), lang, top_k)

    def score_orders(
        self,
        customer_id: str,
        orders: Sequence[Mapping[str, Any]],
        as_of: datetime | None,
        lang: str,
        top_k: int | None,
        signals: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> Prepared:
        """Score posted raw orders (and signal events) with the batch ingest, feature and
        scoring code."""
        limit = self.options.max_orders
        if len(orders) > limit:
            raise BatchTooLarge(f"{len(orders)} orders exceed the limit of {limit}")
        state = self.state
        cutoff = as_of if as_of is not None else state.as_of
        extra = {"signals": signals} if signals else {}  # issue 14: signal events
        scores = state.scorer.score_online(
            customer_id, orders, cutoff, self.options.max_top_k, **extra
        )
        if len(scores) != 1:
            message = f"expected one scored customer, the orders gave {len(scores)}"
            raise InvalidOrders(message, [{"index": None, "field": "orders", "message": message}])
        record = full_record(scores[0])
        return public_body(record, lang, self._top_k(state, top_k))

    def model_info(self) -> dict[str, Any]:
        """What GET /v1/model reports: the model's info plus the snapshot facts."""
        state = self.state
        return {
            **state.info,
            "snapshot_as_of": as_of_text(state.as_of),
            "customers": state.n_customers,
            "loaded_at": state.loaded_at,
        }
