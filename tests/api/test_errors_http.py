"""Bad input gets a 4xx in the envelope, and nothing is written (decisions and audit trail unchanged)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Server

OK = {"profile": "peg", "stream": "errors", "value": 1.0}


def _counts(c: Any) -> tuple[int, int]:
    chain = c.get("/v1/audit/verify").json()
    return chain["checked"], chain["head"]["seq"]


CASES: list[tuple[str, Any, int, str]] = [
    ("unknown profile", {"profile": "nope", "value": 1.0}, 422, "validation_error"),
    ("value as string", {"profile": "peg", "value": "1.0"}, 422, "validation_error"),
    ("value as bool", {"profile": "peg", "value": True}, 422, "validation_error"),
    ("features not an object", {"profile": "credit", "features": [1, 2]}, 422, "validation_error"),
    ("missing value", {"profile": "peg", "stream": "x"}, 422, "validation_error"),
    ("missing required credit fields", {"profile": "credit", "features": {"LIMIT_BAL": 1000.0}}, 422,
     "validation_error"),
    ("unknown credit field", {"profile": "credit", "features": {"LIMIT_BAL": 1000.0, "BOGUS": 1}}, 422,
     "validation_error"),
    ("negative price", {"profile": "peg", "value": -0.5}, 422, "validation_error"),
    ("extra top-level key", {"profile": "peg", "value": 1.0, "extra": 1}, 422, "validation_error"),
    ("bad stream name", {"profile": "peg", "value": 1.0, "stream": "a b"}, 422, "validation_error"),
    ("empty batch", {"events": []}, 422, "validation_error"),
]


@pytest.mark.parametrize(("name", "body", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_invalid_json_bodies(server: Server, name: str, body: Any, status: int, code: str) -> None:
    path = "/v1/decisions:batch" if "events" in body else "/v1/decisions"
    with server.client() as c:
        before = _counts(c)
        r = c.post(path, json=body)
        assert r.status_code == status, r.text
        err = r.json()["error"]
        assert err["code"] == code and err["message"] and err["details"]
        assert err["request_id"] == r.headers["x-request-id"]
        assert _counts(c) == before


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_inf_are_refused(server: Server, literal: bytes) -> None:
    with server.client() as c:
        before = _counts(c)
        r = c.post("/v1/decisions", content=b'{"profile":"peg","value":' + literal + b"}",
                   headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
        r = c.post("/v1/decisions", content=b'{"profile":"credit","features":{"LIMIT_BAL":' + literal + b"}}",
                   headers={"content-type": "application/json"})
        assert r.status_code == 422
        assert _counts(c) == before


def test_malformed_json_and_oversized_body(server: Server) -> None:
    with server.client() as c:
        before = _counts(c)
        r = c.post("/v1/decisions", content=b'{"profile": "peg", "value": ', headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
        big = {"events": [{**OK, "context": {"note": "x" * 1500}} for _ in range(200)]}  # ~330 kB > 200 kB limit
        r = c.post("/v1/decisions:batch", json=big)
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large" and r.headers["x-request-id"]
        assert _counts(c) == before


def test_one_bad_event_rejects_the_whole_batch(server: Server) -> None:
    with server.client() as c:
        before = _counts(c)
        r = c.post("/v1/decisions:batch", json={"events": [OK, {"profile": "peg", "value": -1.0}, OK]})
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["loc"] == "events[1].value"
        assert _counts(c) == before
        assert c.get("/v1/streams/peg/errors").status_code == 404  # no point of the batch was kept


def test_every_response_carries_a_request_id(server: Server) -> None:
    with server.client() as c:
        for r in (c.get("/v1/health"), c.get("/nope"), c.post("/v1/decisions", json={"profile": "peg"})):
            assert len(r.headers["x-request-id"]) >= 16
