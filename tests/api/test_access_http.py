"""Access control over a real server: public routes, every other route refusing a missing or bad key, the role
matrix (a reviewer on an admin route included), denials audited, keys hashed and revocable from the CLI and the
API, the first admin key's file, and webhooks owned by the calling key."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.auth import ANON_BURST
from store.engine import make_engine
from studio.keys import ROLE_SCOPES
from tests.helpers import Server

PUBLIC = {"/v1/health", "/v1/health/live", "/v1/health/ready", "/metrics", "/docs", "/openapi.json",
          "/docs/oauth2-redirect", "/redoc"}
# (method, path, scope the route needs, body). Bodies are invalid on purpose: an allowed call stops at 422/404,
# so the matrix changes nothing.
MATRIX: list[tuple[str, str, str, Any]] = [
    ("GET", "/v1/decisions/dec_x", "read", None),
    ("GET", "/v1/decisions/dec_x/trail", "read", None),
    ("POST", "/v1/decisions/dec_x/replay", "read", None),
    ("GET", "/v1/decisions/dec_x/explanation", "read", None),
    ("GET", "/v1/streams/peg/nothing", "read", None),
    ("GET", "/v1/router/peg", "read", None),
    ("GET", "/v1/models", "read", None),
    ("GET", "/v1/watchlists", "read", None),
    ("GET", "/v1/alerts", "read", None),
    ("GET", "/v1/alerts/alr_x", "read", None),
    ("GET", "/v1/audit", "read", None),
    ("GET", "/v1/audit/verify", "read", None),
    ("GET", "/v1/audit/export?action=nothing.x", "read", None),
    ("GET", "/v1/keys/me", "read", None),
    ("POST", "/v1/decisions", "decide", {}),
    ("POST", "/v1/decisions:batch", "decide", {}),
    ("POST", "/v1/forecasts", "decide", {}),
    ("GET", "/v1/webhooks", "decide", None),
    ("POST", "/v1/webhooks", "decide", {}),
    ("POST", "/v1/chat", "decide", {}),
    ("POST", "/v1/chat/stream", "decide", {}),
    ("GET", "/v1/chat/thr_x", "decide", None),
    ("POST", "/v1/feedback", "feedback", {}),
    ("POST", "/v1/alerts/alr_x/acknowledge", "review", None),
    ("POST", "/v1/alerts/alr_x/assign", "review", {}),
    ("POST", "/v1/alerts/alr_x/snooze", "review", {}),
    ("POST", "/v1/alerts/alr_x/comments", "review", {}),
    ("POST", "/v1/alerts/alr_x/resolve", "review", {}),
    ("POST", "/v1/alerts/alr_x/review", "review", {}),
    ("POST", "/v1/models/peg/logreg/promote", "admin", {}),
    ("POST", "/v1/models/peg/logreg/rollback", "admin", {"bogus": 1}),
    ("POST", "/v1/models/peg/reload", "admin", {"bogus": 1}),
    ("POST", "/v1/watchlists", "admin", {}),
    ("DELETE", "/v1/watchlists/wl_x", "admin", None),
    ("GET", "/v1/keys", "admin", None),
    ("POST", "/v1/keys", "admin", {}),
    ("DELETE", "/v1/keys/key_x", "admin", None),
]


@pytest.fixture(scope="module")
def server(trained_var: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("access-var")
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "WARNING",
           "STUDIO_ENV": "test", "STUDIO_KEY_CACHE_S": "0.5", "STUDIO_MAINTENANCE_INTERVAL_S": "0"}
    with Server(env) as srv:
        yield srv


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, dict[str, Any]]:
    out = {}
    with server.client() as c:
        for role in ROLE_SCOPES:
            r = c.post("/v1/keys", json={"role": role, "name": f"{role}-matrix"})
            assert r.status_code == 201, r.text
            out[role] = r.json()
    return out


def call(c: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    """One request; a 429 from the shared anonymous bucket is waited out (it protects the audit trail)."""
    for _ in range(20):
        r = c.request(method, path, json=body) if body is not None else c.request(method, path)
        if r.status_code != 429:
            return r
        time.sleep(float(r.headers.get("retry-after", "1")))
    return r


def test_every_route_but_the_public_ones_declares_its_role() -> None:
    """Structural: each API route depends on exactly one of the key aliases of api/deps.py."""
    from fastapi.routing import APIRoute

    from api.app import create_app

    app = create_app()
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        gates = [d.call.__name__ for d in route.dependant.dependencies if d.call.__name__.startswith("require_")]
        if route.path in PUBLIC:
            assert gates == [], route.path
        else:
            assert len(gates) == 1, (route.path, gates)


def test_public_routes_answer_without_a_key(server: Server) -> None:
    with server.client(key=None) as c:
        for path in PUBLIC - {"/docs/oauth2-redirect", "/redoc"}:
            assert c.get(path).status_code == 200, path


def test_every_other_route_refuses_a_missing_or_bad_key(server: Server) -> None:
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    refused = 0
    with server.client(key=None) as anon, server.client(key="gms_not-a-real-key") as bogus:
        for path, methods in paths.items():
            if path in PUBLIC:
                continue
            concrete = path.replace("{", "").replace("}", "")  # /v1/alerts/{alert_id} -> /v1/alerts/alert_id
            for method in methods:
                c = (anon, bogus)[refused % 2]  # no key, then a key that does not exist
                r = call(c, method.upper(), concrete, {} if method in ("post", "put") else None)
                assert r.status_code == 401, (method, path, r.status_code, r.text)
                assert r.json()["error"]["code"] == "unauthenticated"
                assert r.headers["www-authenticate"].startswith("Bearer")
                refused += 1
    assert refused > ANON_BURST  # past the anonymous burst: 429s were waited out
    with server.client() as c:
        denied = c.get("/v1/audit", params={"action": "access.denied", "actor": "anonymous", "limit": 500}).json()
    reasons = {e["payload"]["reason"] for e in denied["events"]}
    assert {"missing API key", "invalid or revoked API key"} <= reasons
    assert all(e["payload"]["status"] == 401 for e in denied["events"])
    assert not any("gms_not-a-real-key" in json.dumps(e) for e in denied["events"])  # keys never reach the audit


@pytest.mark.parametrize("role", list(ROLE_SCOPES))
def test_the_role_matrix(server: Server, keys: dict[str, dict[str, Any]], role: str) -> None:
    with server.client(key=keys[role]["key"]) as c:
        for method, path, scope, body in MATRIX:
            r = call(c, method, path, body)
            if scope in ROLE_SCOPES[role]:
                assert r.status_code not in (401, 403), (role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                err = r.json()["error"]
                assert err["code"] == "forbidden" and err["details"]["needs"] == scope


def test_a_reviewer_on_an_admin_route_is_refused_and_audited(server: Server, keys: dict[str, dict[str, Any]]) -> None:
    reviewer = keys["reviewer"]
    with server.client(key=reviewer["key"]) as c:
        r = c.post("/v1/keys", json={"role": "admin", "name": "escalate-myself"})
        assert r.status_code == 403 and r.json()["error"]["details"]["roles_allowed"] == ["admin"]
        assert c.post("/v1/models/peg/reload").status_code == 403
    with server.client() as c:
        events = c.get("/v1/audit", params={"action": "access.denied", "actor": reviewer["id"], "limit": 500}).json()
        assert all(k["name"] != "escalate-myself" for k in c.get("/v1/keys").json()["keys"])
    mine = {(e["payload"]["method"], e["payload"]["route"]): e for e in events["events"]}
    denied = mine[("POST", "/v1/keys")]
    assert denied["payload"]["status"] == 403 and denied["payload"]["role"] == "reviewer"
    assert denied["payload"]["needs"] == "admin" and denied["subject_id"] == "POST /v1/keys"
    assert ("POST", "/v1/models/{profile}/reload") in mine


def test_keys_are_hashed_revocable_and_the_first_one_is_private(server: Server, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings
    from studio import cli

    assert stat.S_IMODE(server.key_file.stat().st_mode) == 0o600
    assert server.log.read_text().count(server.admin_key or "?") == 1  # printed once, at first start
    for k, v in server.env.items():
        if k.startswith("STUDIO_"):
            monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        assert cli.main(["keys", "create", "--role", "analyst", "--name", "batch-job"]) == 0
        created = json.loads(capsys.readouterr().out)
        assert created["role"] == "analyst" and created["key"].startswith("gms_")
        with server.client(key=created["key"]) as c:
            r = c.post("/v1/decisions", json={"profile": "peg", "stream": "cli-key", "value": 1.0})
            assert r.status_code == 200 and c.get("/v1/keys/me").json()["id"] == created["id"]
        assert cli.main(["keys", "list"]) == 0
        listing = capsys.readouterr().out
        assert created["id"] in listing and created["key"] not in listing
        assert cli.main(["keys", "revoke", created["id"], "--reason", "job retired"]) == 0
        capsys.readouterr()
        assert cli.main(["keys", "revoke", created["id"]]) == 2  # already revoked: not found
        time.sleep(0.7)  # the server's key cache (STUDIO_KEY_CACHE_S=0.5)
        with server.client(key=created["key"]) as c:
            assert call(c, "GET", "/v1/keys/me").status_code == 401
    finally:
        get_settings.cache_clear()
    engine = make_engine(server.env["STUDIO_DATABASE_URL"] if "STUDIO_DATABASE_URL" in server.env else
                         f"sqlite:///{Path(server.env['STUDIO_VAR_DIR']) / 'studio.db'}")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM api_keys")).mappings()]
    engine.dispose()
    stored = json.dumps(rows, default=str)
    assert created["key"] not in stored and (server.admin_key or "?") not in stored
    mine = next(r for r in rows if r["id"] == created["id"])
    assert mine["key_hash"] == hashlib.sha256(created["key"].encode()).hexdigest() and mine["revoked_at"]
    with server.client() as c:  # revoking through the API takes effect at once on this server
        fresh = c.post("/v1/keys", json={"role": "viewer"}).json()
        with server.client(key=fresh["key"]) as v:
            assert v.get("/v1/keys/me").status_code == 200
            assert c.delete(f"/v1/keys/{fresh['id']}", ).status_code == 200
            assert call(v, "GET", "/v1/keys/me").status_code == 401
        assert c.delete(f"/v1/keys/{fresh['id']}").status_code == 404
        kinds = [e["action"] for e in c.get("/v1/audit", params={"subject_type": "api_key"}).json()["events"]]
    assert kinds.count("key.revoked") == 2 and kinds.count("key.created") >= 4


def test_webhooks_belong_to_the_calling_key(server: Server, keys: dict[str, dict[str, Any]]) -> None:
    with server.client() as c:
        other = c.post("/v1/keys", json={"role": "analyst", "name": "other-team"}).json()
    with server.client(key=keys["analyst"]["key"]) as a:
        hook = a.post("/v1/webhooks", json={"url": "https://ops.example.com/hook"}).json()
        assert hook["owner"] == keys["analyst"]["id"]
        assert [h["id"] for h in a.get("/v1/webhooks").json()["webhooks"]] == [hook["id"]]
    with server.client(key=other["key"]) as b:
        assert b.get("/v1/webhooks").json()["webhooks"] == []
        assert b.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    with server.client(key=keys["viewer"]["key"]) as v:
        assert v.post("/v1/webhooks", json={"url": "https://x.example.com/h"}).status_code == 403
    with server.client(key=keys["analyst"]["key"]) as a:
        assert a.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
