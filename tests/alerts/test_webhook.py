"""Webhook push against a local receiver that fails, times out and answers slowly."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.store import AlertStore, open_store
from alerts.webhook import format_message, push_pending, sign
from alerts.worklist import build_worklist
from config.alerts import AlertsParams, WebhookParams
from tests.alerts.helpers import scores_frame
from tests.alerts.receiver import receiver

SECRET = "s3cret"
ENV = {"CHURN_WEBHOOK_SECRET": SECRET}
FORMATS = ("generic", "dingtalk", "wecom", "slack")


def _store(tmp_path: Path, n: int = 12) -> tuple[AlertStore, list[str]]:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    wl = build_worklist(
        scores_frame(n),
        store.history(),
        AlertsParams(capacity_per_cycle=n, control_share=0.25),
        seed=5,
    )
    store.save_worklist(wl.alerts)
    treated = wl.alerts.loc[wl.alerts["group"] == "treatment", "alert_id"].tolist()
    assert treated
    return store, treated


def _mixed(key: str, n: int) -> tuple[int, float, bool]:
    """Per alert (by key hash): ok / fail once / time out once / slow."""
    kind = int(key[:8], 16) % 4
    if kind == 1 and n == 0:
        return 500, 0.0, False
    if kind == 2 and n == 0:
        return 200, 0.6, False  # the client gives up after 0.3 s, nothing processed
    if kind == 3:
        return 200, 0.1, True  # slow but inside the timeout
    return 200, 0.0, True


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_alert_delivered_exactly_once_in_every_format(tmp_path: Path, fmt: str) -> None:
    store, treated = _store(tmp_path)
    assert len(store.alerts_frame()) > len(treated)  # control alerts exist, never pushed
    params = WebhookParams(format=fmt, timeout_seconds=0.3, max_attempts=3, backoff_seconds=0.01)
    waits: list[float] = []
    with receiver(_mixed, SECRET) as (url, got):
        first = push_pending(store, url, params, sleep=waits.append, environ=ENV)
        second = push_pending(store, url, params, sleep=waits.append, environ=ENV)
    assert first.sent == len(treated) and first.failed == 0
    assert second.sent == second.failed == second.attempts == 0  # nothing sent twice
    assert sorted(got.messages) == sorted(treated)
    assert got.duplicates == 0 and got.bad_signatures == 0
    assert any(n > 1 for n in got.requests.values())  # retries did happen
    assert set(waits) <= {0.01}  # one retry each: the first backoff
    deliveries = store.deliveries_frame()
    assert (deliveries["status"] == "sent").all() and len(deliveries) == len(treated)
    message = got.messages[treated[0]]
    if fmt == "generic":
        assert message["alert"]["alert_id"] == treated[0]
    elif fmt in ("dingtalk", "wecom"):
        assert message["msgtype"] == "markdown" and treated[0] in str(message["markdown"])
        assert "建议行动" in str(message["markdown"])
    else:
        assert treated[0] in message["blocks"][0]["text"]["text"]


def test_a_late_answer_after_processing_is_retried_with_the_same_key(tmp_path: Path) -> None:
    """The receiver processed the first request but answered after the client's timeout:
    the retry carries the same Idempotency-Key and a valid signature, so a receiver that
    keeps processed keys (as this one does) processes every alert exactly once."""
    store, treated = _store(tmp_path, n=6)
    params = WebhookParams(timeout_seconds=0.2, max_attempts=3, backoff_seconds=0.0)
    seen: set[str] = set()

    def late_then_known(key: str, n: int) -> tuple[int, float, bool]:
        first = key not in seen
        seen.add(key)
        return (200, 0.5, True) if first else (200, 0.0, False)  # known key: not again

    with receiver(late_then_known, SECRET) as (url, got):
        result = push_pending(store, url, params, sleep=lambda _: None, environ=ENV)
    assert result.sent == len(treated) and result.failed == 0
    assert got.requests == {key: 2 for key in treated}  # every alert retried once, same key
    assert sorted(got.messages) == sorted(treated)
    assert got.duplicates == 0 and got.bad_signatures == 0


def test_a_receiver_down_for_a_whole_run_gets_the_alerts_next_run(tmp_path: Path) -> None:
    store, treated = _store(tmp_path, n=6)
    params = WebhookParams(timeout_seconds=0.5, max_attempts=3, backoff_seconds=0.05)
    waits: list[float] = []
    with receiver(lambda key, n: (503, 0.0, False), SECRET) as (url, got):
        down = push_pending(store, url, params, sleep=waits.append, environ=ENV)
    assert down.sent == 0 and down.failed == len(treated)
    assert waits[:2] == [0.05, 0.1]  # exponential backoff
    failed = store.deliveries_frame()
    assert (failed["status"] == "failed").all() and (failed["last_error"] == "HTTP 503").all()
    with receiver(lambda key, n: (200, 0.0, True), SECRET) as (url, got):
        up = push_pending(store, url, params, sleep=waits.append, environ=ENV)
        again = push_pending(store, url, params, sleep=waits.append, environ=ENV)
    assert up.sent == len(treated) and again.sent == 0
    assert sorted(got.messages) == sorted(treated) and got.duplicates == 0
    assert (store.deliveries_frame()["attempts"] == 4).all()


def test_a_client_error_is_not_retried_within_the_run(tmp_path: Path) -> None:
    store, treated = _store(tmp_path, n=4)
    params = WebhookParams(timeout_seconds=0.5, max_attempts=3, backoff_seconds=0.0)
    with receiver(lambda key, n: (400, 0.0, False), SECRET) as (url, got):
        result = push_pending(store, url, params, sleep=lambda _: None, environ=ENV)
    assert result.failed == len(treated) and result.attempts == len(treated)
    assert set(got.requests.values()) == {1}


def test_unreachable_receiver_is_recorded_as_failed(tmp_path: Path) -> None:
    store, treated = _store(tmp_path, n=4)
    params = WebhookParams(timeout_seconds=0.2, max_attempts=2, backoff_seconds=0.0)
    result = push_pending(
        store, "http://127.0.0.1:9/hook", params, sleep=lambda _: None, environ=ENV
    )
    assert result.failed == len(treated)
    assert store.deliveries_frame()["last_error"].str.contains("Connect").all()


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert sign("k", "123", b"{}") == f"sha256={expected}"


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    store, _ = _store(tmp_path, n=4)
    with pytest.raises(ValueError, match="telegram"):
        format_message(store.undelivered("x")[0], "telegram")
