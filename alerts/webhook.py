"""Push delivered alerts to a webhook: one signed, idempotent POST per alert.

- **Formats**: ``generic`` (the alert as JSON), ``dingtalk`` and ``wecom`` (robot
  markdown messages), ``slack`` (incoming-webhook ``text`` + ``blocks``).
- **Headers**: ``Idempotency-Key`` and ``X-Churn-Alert-Id`` = the ``alert_id``;
  ``X-Churn-Timestamp`` (Unix seconds) and ``X-Churn-Signature: sha256=<hex>``, the
  HMAC-SHA256 of ``"<timestamp>.<body>"`` with the secret in ``alerts.webhook.secret_env``
  (unsigned, with a warning, when that variable is empty).
- **Retries**: up to ``max_attempts`` per run on a connection error, a timeout
  (``timeout_seconds``), HTTP 429 or 5xx, waiting ``backoff_seconds x 2^i`` between
  attempts; any other 4xx is not retried in the run. Every result is recorded in the
  ``deliveries`` table; failed alerts are tried again on the next run and an alert
  once sent is never sent again on the same channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from alerts.store import AlertStore
from alerts.tables import AlertRow
from config.alerts import WebhookParams

logger = logging.getLogger(__name__)
WEBHOOK_URL_ENV = "CHURN_WEBHOOK_URL"
SIGNATURE_HEADER = "X-Churn-Signature"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class PushResult:
    sent: int
    failed: int
    attempts: int


def alert_payload(alert: AlertRow) -> dict[str, Any]:
    """The alert as the ``generic`` format sends it."""
    out: dict[str, Any] = {}
    for column in AlertRow.__table__.columns:
        value = getattr(alert, column.key)
        out[column.key] = value.isoformat() if hasattr(value, "isoformat") else value
    for private in ("group", "status", "created_at"):
        out.pop(private, None)
    return out


def _markdown(alert: AlertRow) -> tuple[str, str]:
    title = f"Churn alert {alert.customer_id} / 流失预警 {alert.customer_id}"
    value = "" if alert.revenue_at_risk is None else f"{alert.revenue_at_risk:,.0f}"
    lines = [
        f"### {title}",
        f"- Churn probability / 流失概率: **{alert.churn_probability:.0%}** ({alert.risk_level})",
        f"- Revenue at risk / 风险收入: {value}",
        f"- Why / 原因: {alert.reasons_en} / {alert.reasons_zh}",
        f"- Action / 建议行动: **{alert.action_en}** / **{alert.action_zh}**",
        f"- Owner / 负责人: {alert.owner or '-'}; due / 截止: {alert.due.isoformat()}",
        f"- alert_id: `{alert.alert_id}`",
    ]
    return title, "\n".join(lines)


def format_message(alert: AlertRow, fmt: str) -> dict[str, Any]:
    """The request body of one alert in the webhook format ``fmt``."""
    if fmt == "generic":
        return {"type": "churn_alert", "alert": alert_payload(alert)}
    title, text = _markdown(alert)
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if fmt == "slack":
        slack = text.replace("**", "*").replace("### ", "*").replace(title, f"{title}*")
        return {
            "text": title,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": slack}}],
        }
    raise ValueError(f"unknown webhook format {fmt!r}")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _send(
    client: httpx.Client,
    url: str,
    alert: AlertRow,
    params: WebhookParams,
    secret: str,
    sleep: Callable[[float], None],
) -> tuple[bool, int, str | None]:
    body = json.dumps(format_message(alert, params.format), ensure_ascii=False).encode()
    error: str | None = None
    for attempt in range(params.max_attempts):
        if attempt:
            sleep(params.backoff_seconds * 2 ** (attempt - 1))
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": alert.alert_id,
            "X-Churn-Alert-Id": alert.alert_id,
            "X-Churn-Timestamp": stamp,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        if 200 <= response.status_code < 300:
            return True, attempt + 1, None
        error = f"HTTP {response.status_code}"
        if response.status_code not in RETRY_STATUS:
            return False, attempt + 1, error
    return False, params.max_attempts, error


def push_pending(
    store: AlertStore,
    url: str,
    params: WebhookParams,
    sleep: Callable[[float], None] = time.sleep,
    environ: dict[str, str] | None = None,
) -> PushResult:
    """Send every undelivered treatment alert once; record each result."""
    env = os.environ if environ is None else environ
    secret = env.get(params.secret_env, "")
    if not secret:
        logger.warning("%s is empty: webhook requests are not signed", params.secret_env)
    channel = f"webhook:{params.format}"
    sent = failed = attempts = 0
    with httpx.Client(timeout=params.timeout_seconds, trust_env=False) as client:
        for alert in store.undelivered(channel):
            ok, tries, error = _send(client, url, alert, params, secret, sleep)
            store.mark_delivery(alert.alert_id, channel, ok, tries, error)
            attempts += tries
            sent, failed = sent + ok, failed + (not ok)
            if not ok:
                logger.warning("webhook delivery of %s failed: %s", alert.alert_id, error)
    return PushResult(sent=sent, failed=failed, attempts=attempts)
