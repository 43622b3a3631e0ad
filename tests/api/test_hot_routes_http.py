"""The decision routes are served by api/hot_routes.py (no FastAPI dependency solving): over a real server they
must still be documented, refuse and validate like any FastAPI route, and be labelled in the metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from api.hot_routes import HotRoutes
from tests.helpers import Server


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_openapi_documents_the_hot_routes_bodies_and_query(server: Server) -> None:
    with server.client() as c:
        doc = c.get("/openapi.json").json()
    one = doc["paths"]["/v1/decisions"]["post"]
    batch = doc["paths"]["/v1/decisions:batch"]["post"]
    assert one["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventIn"}
    assert batch["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchIn"}
    schemas = doc["components"]["schemas"]
    assert {"profile", "value", "features", "context"} <= set(schemas["EventIn"]["properties"])
    assert schemas["BatchIn"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/EventIn"}
    params = {p["name"]: p for p in one["parameters"]}
    assert params["timeout_ms"]["in"] == "query" and params["timeout_ms"]["schema"]["minimum"] == 0
    for ref in set(_refs(doc)):  # every reference in the document resolves
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_refusals_and_query_errors_keep_the_envelope(server: Server) -> None:
    ok = {"profile": "peg", "stream": "hot", "value": 1.0}
    with server.client(key=None) as anon:
        r = anon.post("/v1/decisions", json=ok)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthenticated"
        assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    with server.client() as c:
        for qs, loc in (("explain=nope", ["query", "explain"]), ("timeout_ms=-1", ["query", "timeout_ms"]),
                        ("timeout_ms=soon", ["query", "timeout_ms"])):
            r = c.post(f"/v1/decisions?{qs}", json=ok)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["details"][0]["loc"] == loc
        r = c.post("/v1/decisions", json={"profile": "peg", "value": 1.0, "stream": "a b"})
        assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["body", "stream"]
        r = c.get("/v1/decisions")  # not a hot route: FastAPI's own 405
        assert r.status_code == 405 and r.json()["error"]["code"]


def test_chunked_body_over_the_limit_is_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:  # no content-length: the limit is enforced while reading
        yield b'{"events": ['
        for _ in range(300):
            yield b'{"profile": "peg", "stream": "big", "value": 1.0, "context": {"note": "' + b"x" * 1000 + b'"}},'
        yield b'{"profile": "peg", "value": 1.0}]}'

    with server.client() as c:
        r = c.post("/v1/decisions:batch", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


def test_metrics_label_the_hot_route_by_its_path(server: Server) -> None:
    with server.client() as c:
        assert c.post("/v1/decisions", json={"profile": "peg", "stream": "hot-m", "value": 1.0}).status_code == 200
        m = c.get("/metrics").text
    assert 'studio_http_request_seconds_count{method="POST",route="/v1/decisions",status="200"}' in m


def test_a_hot_route_must_take_only_the_request() -> None:
    async def takes_more(request: Request, other: int) -> Any:
        return None

    async def takes_request(request: Request) -> Any:
        return None

    app = FastAPI()
    with pytest.raises(TypeError, match="exactly one parameter"):
        HotRoutes(app, fastapi=app, routes=[APIRoute("/x", takes_more, methods=["POST"])])
    hot = HotRoutes(app, fastapi=app, routes=[APIRoute("/y", takes_request, methods=["POST"])])
    assert set(hot.table) == {("POST", "/y")}
