"""Serving configuration, read from the environment (prefix ``CHURN_``) once per process.

Nothing here runs at import time: :func:`get_settings` builds the settings on first use
and caches them, so tests can construct their own :class:`Settings` and hand them to
:func:`serving.app.create_app`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.reason_codes import MAX_REASONS

LANGS: tuple[str, ...] = ("en", "zh-CN")


class Settings(BaseSettings):
    """Everything the API needs to know about where its model, data and keys are.

    Environment variables use the ``CHURN_`` prefix, e.g. ``CHURN_API_KEYS=k1,k2``.
    """

    model_config = SettingsConfigDict(env_prefix="CHURN_", frozen=True, extra="ignore")

    model_uri: str = Field(
        default="models:/churn-lgbm@champion",
        description="MLflow model URI (name@alias or version).",
    )
    mlflow_tracking_uri: str = Field(
        default="sqlite:///mlflow.db", description="MLflow tracking store."
    )
    model_dir: Path | None = Field(
        default=None,
        description="Local model bundle directory (e.g. models/churn); overrides model_uri.",
    )
    snapshot_path: Path = Field(default=Path("data/processed/latest.parquet"))
    params_path: Path = Field(default=Path("params.yaml"))
    api_keys: SecretStr = Field(default=SecretStr(""), description="Comma-separated CRM API keys.")
    api_keys_file: Path | None = Field(default=None, description="File with one API key per line.")
    admin_key: SecretStr | None = Field(default=None, description="Key for /v1/admin/* routes.")
    admin_key_file: Path | None = None
    max_batch_size: int = Field(default=1000, gt=0, description="Most ids in one batch request.")
    max_orders: int = Field(default=5000, gt=0, description="Most orders in one score request.")
    online_workers: int = Field(
        default=2, gt=0, description="Threads scoring posted orders (POST /v1/churn/score)."
    )
    max_body_bytes: int = Field(
        default=2_000_000, gt=0, description="Largest request body accepted."
    )
    default_top_k: int | None = Field(
        default=None,
        ge=0,
        description="Reasons when top_k is omitted; default: params reasons.top_k.",
    )
    max_top_k: int = Field(
        default=MAX_REASONS, ge=1, description="Most reasons a caller may ask for."
    )
    startup_load: Literal["background", "blocking", "off"] = Field(
        default="background",
        description=(
            "background: /healthz answers at once and /readyz turns 200 when loaded; "
            "blocking: the server accepts connections only once loaded; off: wait for a reload."
        ),
    )
    reload_signal_path: Path | None = Field(
        default=None,
        description="Shared file touched by an admin reload; every worker polling it reloads.",
    )
    reload_poll_seconds: float = Field(default=1.0, gt=0)
    db_url: str | None = Field(
        default=None,
        description="Alert database URL (CHURN_DB_URL); default: params alerts.db_url.",
    )
    orders_path: Path = Field(
        default=Path("data/interim/orders.parquet"),
        description="Cleaned orders, to measure alert performance against.",
    )

    @field_validator("default_top_k")
    @classmethod
    def _top_k_in_range(cls, v: int | None) -> int | None:
        if v is not None and v > MAX_REASONS:
            raise ValueError(f"default_top_k must be <= {MAX_REASONS} (the number of families)")
        return v

    def resolved_api_keys(self) -> tuple[str, ...]:
        """API keys from ``api_keys`` and ``api_keys_file`` (blank lines and ``#`` skipped)."""
        keys = [k.strip() for k in self.api_keys.get_secret_value().split(",")]
        if self.api_keys_file is not None:
            keys += _read_key_lines(self.api_keys_file)
        return tuple(k for k in keys if k)

    def resolved_admin_key(self) -> str | None:
        """The admin key from ``admin_key`` or the first line of ``admin_key_file``."""
        if self.admin_key is not None and self.admin_key.get_secret_value():
            return self.admin_key.get_secret_value()
        if self.admin_key_file is not None:
            lines = _read_key_lines(self.admin_key_file)
            return lines[0] if lines else None
        return None


def _read_key_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a key file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built from the environment on first call."""
    return Settings()
