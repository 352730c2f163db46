"""API keys: 401 without, 403 with a wrong one, admin-only reload, keys never logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.security import InvalidApiKey, KeyChecker, MissingApiKey
from serving.settings import Settings
from tests.serving.conftest import ADMIN_KEY, CLIENT_KEY, SyntheticBackend, make_settings

V1_CALLS = [
    ("GET", "/v1/customers/C0000001/churn", None),
    ("POST", "/v1/churn/batch", {"customer_ids": ["C0000001"]}),
    ("POST", "/v1/churn/score", {"customer_id": "x", "orders": []}),
    ("GET", "/v1/model", None),
    ("POST", "/v1/admin/reload", None),
]


@pytest.fixture()
def anon(backend: SyntheticBackend) -> Iterator[TestClient]:
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS)
def test_missing_key_is_401(anon: TestClient, method: str, path: str, body: object) -> None:
    r = anon.request(method, path, json=body)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "missing_api_key"


@pytest.mark.parametrize(("method", "path", "body"), V1_CALLS)
def test_wrong_key_is_403(anon: TestClient, method: str, path: str, body: object) -> None:
    r = anon.request(method, path, json=body, headers={"X-API-Key": "guess"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "invalid_api_key"


def test_client_key_cannot_reload(anon: TestClient) -> None:
    r = anon.post("/v1/admin/reload", headers={"X-API-Key": CLIENT_KEY})
    assert r.status_code == 403
    assert anon.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200


def test_ops_routes_need_no_key(anon: TestClient) -> None:
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/readyz").status_code == 200
    assert anon.get("/metrics").status_code == 200


def test_keys_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# CRM keys\nfile-key-1\n\nfile-key-2\n")
    admin = tmp_path / "admin.txt"
    admin.write_text("admin-from-file\n")
    monkeypatch.setenv("CHURN_API_KEYS", "env-key-1, env-key-2")
    monkeypatch.setenv("CHURN_API_KEYS_FILE", str(keys))
    monkeypatch.setenv("CHURN_ADMIN_KEY_FILE", str(admin))
    s = Settings()
    assert s.resolved_api_keys() == ("env-key-1", "env-key-2", "file-key-1", "file-key-2")
    assert s.resolved_admin_key() == "admin-from-file"
    assert "env-key-1" not in repr(s)  # secrets are masked in reprs and logs


def test_checker_compares_every_key() -> None:
    checker = KeyChecker.from_keys(["a" * 40, "b"], admin_key="root")
    checker.check_client("b")
    checker.check_client("root")
    with pytest.raises(InvalidApiKey):
        checker.check_client("a")
    with pytest.raises(InvalidApiKey):
        checker.check_admin("b")
    with pytest.raises(MissingApiKey):
        checker.check_client("")
    assert all(len(d) == 32 for d in checker.client_digests)  # digests, not raw keys


def test_no_keys_configured_refuses_everyone(backend: SyntheticBackend) -> None:
    app = create_app(make_settings(api_keys="", admin_key=None), backend_factory=lambda _: backend)
    with TestClient(app) as c:
        r = c.get("/v1/model", headers={"X-API-Key": "anything"})
        assert r.status_code == 403
        assert c.post("/v1/admin/reload", headers={"X-API-Key": "x"}).status_code == 403


def test_keys_never_logged(backend: SyntheticBackend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(make_settings(), backend_factory=lambda _: backend)
    with TestClient(app) as c:
        c.get("/v1/model", headers={"X-API-Key": CLIENT_KEY})
        c.get("/v1/model", headers={"X-API-Key": "wrong-key-value"})
        c.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
        bodies = [c.get("/v1/model", headers={"X-API-Key": "wrong-key-value"}).text]
    text = caplog.text + "".join(bodies)
    assert caplog.records  # the app did log (startup, reload)
    for secret in (CLIENT_KEY, ADMIN_KEY, "wrong-key-value"):
        assert secret not in text
