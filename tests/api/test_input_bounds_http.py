"""No input gives a 5xx, over a real server: profile bounds (1e200 on ops), integers beyond 64 bits,
non-finite and lax numbers, epoch numbers where ISO times are documented, garbage cursors and LIKE wildcards
all get a 422 in the error envelope with nothing written; a poison event inside a micro-batch fails alone;
and the OpenAPI document tells the truth (security schemes, the error envelope on every 4xx, readable
operation ids)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from core.profiles import load_profiles
from store.decisions import count_decisions
from store.engine import make_engine, write_tx
from store.streams import StreamRepository
from tests.helpers import Server, sqlite_url

BIG = 99999999999999999999  # beyond 64 bits


def _db(server: Server) -> Any:
    return make_engine(sqlite_url(Path(server.env["STUDIO_VAR_DIR"]) / "studio.db"))


def _decisions(server: Server) -> int:
    eng = _db(server)
    try:
        return count_decisions(eng)
    finally:
        eng.dispose()


def _is_envelope_422(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["message"] and "request_id" in err, err
    return err


@pytest.mark.parametrize("value", [1e200, -1e200, 1.000001e12, -2e12])
def test_a_value_outside_the_profile_bounds_is_422_and_writes_nothing(server: Server, value: float) -> None:
    before = _decisions(server)
    with server.client() as c:
        err = _is_envelope_422(
            c.post("/v1/decisions", json={"profile": "ops", "stream": "bounds", "value": value})
        )
        assert "physical limits" in str(err["details"])
        _is_envelope_422(
            c.post(
                "/v1/decisions:batch",
                json={
                    "events": [
                        {"profile": "ops", "stream": "bounds", "value": 1.0},
                        {"profile": "ops", "stream": "bounds", "value": value},
                    ]
                },
            )
        )  # one bad event: nothing of the batch
    assert _decisions(server) == before


def test_the_documented_bounds_themselves_are_decided(server: Server) -> None:
    with server.client() as c:
        for v in (1e12, -1e12, 0.0):
            r = c.post("/v1/decisions", json={"profile": "ops", "stream": "edge", "value": v})
            assert r.status_code == 200, r.text


def test_every_shipped_profile_declares_finite_bounds_for_every_input() -> None:
    from studio import PROJECT_ROOT

    for profile in load_profiles(PROJECT_ROOT / "profiles").values():
        for f in ([profile.value] if profile.value else []) + profile.fields:
            assert np.isfinite([f.min, f.max]).all() and f.min <= f.max, (profile.name, f.name)


def _plant_overflowed_state(server: Server, stream: str) -> None:
    """What a 1e200 on `ops` left stored before the bounds: an overflowed (null) sum of squares. Loading it
    raises inside the graph, so an event of this stream passes validation and fails inside a micro-batch."""
    from models.stream_state import StreamState
    from studio import PROJECT_ROOT

    spec = load_profiles(PROJECT_ROOT / "profiles")["ops"].features
    assert spec is not None
    st = StreamState("ops", stream, spec)
    with np.errstate(over="ignore"):
        st.append(np.array([1.7e9, 1.7e9 + 60]), np.array([1.0, 1e200]))
    eng = _db(server)
    try:
        with write_tx(eng) as conn:
            StreamRepository.save(conn, "ops", [(st, st.to_json(), None)])
    finally:
        eng.dispose()


def test_thirty_concurrent_requests_and_one_poison_event_give_thirty_200s(server: Server) -> None:
    _plant_overflowed_state(server, "poisoned")
    with server.client() as c:  # a second key: the neighbours include other keys' requests
        other = c.post("/v1/keys", json={"role": "analyst", "name": "neighbour"}).json()["key"]
    before = _decisions(server)

    async def burst() -> list[httpx.Response]:
        async def one(i: int) -> httpx.Response:
            key = other if i % 2 else server.admin_key
            async with httpx.AsyncClient(
                base_url=server.url, timeout=60.0, headers={"Authorization": f"Bearer {key}"}
            ) as c:
                body = (
                    {"profile": "ops", "stream": "poisoned", "value": 50.0}
                    if i == 30
                    else {"profile": "ops", "stream": f"neighbour-{i}", "value": 40.0 + i}
                )
                return await c.post("/v1/decisions", json=body)

        return list(await asyncio.gather(*(one(i) for i in range(31))))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses[:30]] == [200] * 30, [r.text[:200] for r in responses[:30]]
    assert [r.json()["inputs"]["value"] for r in responses[:30]] == [40.0 + i for i in range(30)]
    poison = responses[30]
    assert poison.status_code == 500 and poison.json()["error"]["code"] == "internal_error"
    assert _decisions(server) == before + 30


def test_integers_beyond_64_bits_are_422_not_500(server: Server) -> None:
    with server.client() as c:
        _is_envelope_422(c.get(f"/v1/audit?cursor={BIG}"))
        _is_envelope_422(c.get(f"/v1/audit?cursor={2**63}"))
        _is_envelope_422(c.post("/v1/keys", json={"role": "viewer", "burst": BIG}))
        _is_envelope_422(c.post("/v1/decisions", json={"profile": "peg", "value": 1.0, "timestamp": BIG}))
        _is_envelope_422(c.post("/v1/forecasts", json={"profile": "ops", "stream": "x", "horizon": BIG}))
        _is_envelope_422(c.get(f"/v1/alerts?min_severity={BIG}"))
        _is_envelope_422(c.get(f"/v1/decisions/dec_x/explanation/stream?timeout_ms={BIG}"))
        _is_envelope_422(
            c.post(f"/v1/decisions?explain=wait&timeout_ms={BIG}", json={"profile": "peg", "value": 1.0})
        )
        assert c.get("/v1/keys/me").status_code == 200  # the connection and the server are fine


def test_non_finite_and_lax_numbers_are_refused(server: Server) -> None:
    with server.client() as c:
        for raw in (
            '{"role": "viewer", "rate_per_s": Infinity}',
            '{"role": "viewer", "rate_per_s": 1e999}',
            '{"role": "viewer", "rate_per_s": NaN}',
            '{"role": "viewer", "rate_per_s": true}',
            '{"role": "viewer", "burst": true}',
            '{"role": "viewer", "burst": "5"}',
        ):
            r = c.post("/v1/keys", content=raw, headers={"content-type": "application/json"})
            assert r.status_code in (400, 422), (raw, r.status_code, r.text)
            assert r.json()["error"]["code"] == "validation_error"
        ok = c.post("/v1/keys", json={"role": "viewer", "rate_per_s": 2.5, "burst": 3})
        assert ok.status_code == 201 and ok.json()["rate_per_s"] == 2.5
        for outcome in (True, False, "0.5", 1.5, -0.1):
            _is_envelope_422(c.post("/v1/feedback", json={"decision_id": "dec_nothing", "outcome": outcome}))
        assert c.post("/v1/feedback", json={"decision_id": "dec_nothing", "outcome": 1}).status_code == 404
        _is_envelope_422(
            c.post(
                "/v1/forecasts",
                content='{"profile": "ops", "history": [{"timestamp": '
                '"2024-01-01T00:00:00Z", "value": Infinity}]}',
                headers={"content-type": "application/json"},
            )
        )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/alerts?until=0.5",
        "/v1/alerts?since=1700000000",
        "/v1/alerts?until=garbage",
        "/v1/audit?until=0.5",
        "/v1/audit?since=1e3",
        "/v1/audit/export?since=0.5",
        "/v1/alerts?since=9999-12-31T23:59:59-23:59",
        "/v1/alerts?cursor=garbage",
        "/v1/alerts?cursor=alr_x",
        "/v1/audit?action=%25*",
        "/v1/audit?action=%25",
        "/v1/audit?action=a%20b",
        "/v1/audit?limit=1&limit=2",
        "/v1/alerts?review_status=bogus",
    ],
)
def test_times_cursors_and_patterns_are_validated(server: Server, path: str) -> None:
    with server.client() as c:
        _is_envelope_422(c.get(path))


def test_valid_filters_still_work_and_prefixes_match_literally(server: Server) -> None:
    with server.client() as c:
        c.post("/v1/decisions", json={"profile": "peg", "stream": "filters", "value": 1.0})
        events = c.get("/v1/audit?action=decision.*&limit=5").json()["events"]
        assert events and all(e["action"].startswith("decision.") for e in events)
        assert (
            c.get("/v1/audit?action=_ecision.*").json()["events"] == []
        )  # `_` is a letter here, not a wildcard
        assert (
            c.get(
                "/v1/audit?action=decision.recorded&since=2000-01-01T00:00:00Z&until=2999-01-01"
            ).status_code
            == 200
        )
        assert (
            c.get("/v1/alerts?until=2999-01-01T00:00:00Z&cursor=alr_01JD0000000000000000000000").status_code
            == 200
        )
        r = c.post("/v1/alerts/alr_01JD0000000000000000000000/snooze", json={"until": 1_900_000_000})
        _is_envelope_422(r)  # an ISO-8601 time, not an epoch number


def test_openapi_tells_the_truth(server: Server) -> None:
    doc = httpx.get(f"{server.url}/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <key>`",
    }
    assert schemes["apiKey"]["type"] == "apiKey" and schemes["apiKey"]["in"] == "header"
    assert schemes["apiKey"]["name"] == "X-API-Key"
    envelope = doc["components"]["schemas"]["ErrorOut"]
    assert envelope["properties"]["error"]["$ref"] == "#/components/schemas/ErrorInfo"
    ids = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            public = "operations" in op.get("tags", [])  # health and probes
            if not public:
                assert {"bearer": []} in op.get("security", []) and {"apiKey": []} in op["security"], (
                    method,
                    path,
                )
                assert {"401", "403", "422", "429"} <= set(op["responses"]), (method, path)
            for status, resp in op["responses"].items():
                if status.startswith("4"):
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorOut", (method, path, status)
            assert "HTTPValidationError" not in str(op)
    assert len(ids) == len(set(ids))
    assert {"decide", "decide_batch", "list_alerts", "list_audit", "create_key", "read_decision"} <= set(ids)
    event = doc["components"]["schemas"]["EventIn"]["properties"]
    assert event["profile"]["enum"] == ["credit", "ops", "peg"]
    stream = next(
        p
        for p in doc["paths"]["/v1/streams/{profile}/{stream}"]["get"]["parameters"]
        if p["name"] == "profile"
    )
    assert stream["schema"]["enum"] == ["credit", "ops", "peg"]
