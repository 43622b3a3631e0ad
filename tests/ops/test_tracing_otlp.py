"""`studio serve` with STUDIO_OTEL_ENDPOINT exports its traces over OTLP/HTTP, as to a collector: a receiver on
127.0.0.1 decodes them (opentelemetry-proto) and finds the request span of POST /v1/decisions (FastAPI
instrumentation, on the hot route too) with decision.submit under it, and the batch's spans linked to it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import Server, free_port, server_env

trace_pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")


class Receiver(BaseHTTPRequestHandler):
    spans: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        req = trace_pb2.ExportTraceServiceRequest()
        req.ParseFromString(body)
        for rs in req.resource_spans:
            for ss in rs.scope_spans:
                Receiver.spans.extend(ss.spans)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(trace_pb2.ExportTraceServiceResponse().SerializeToString())

    def log_message(self, *args: Any) -> None:
        pass


def test_the_server_exports_a_request_span_with_the_decision_under_it(settings: Any) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    env = {**server_env(settings), "STUDIO_OTEL_ENDPOINT": f"http://127.0.0.1:{port}/v1/traces",
           "OTEL_BSP_SCHEDULE_DELAY": "200"}
    try:
        with Server(env) as srv, srv.client() as c:
            r = c.post("/v1/decisions", json={"profile": "peg", "stream": "USDC", "value": 0.999})
            assert r.status_code == 200, r.text
            decision_id = r.json()["id"]
            deadline = time.time() + 30
            while time.time() < deadline and not any(s.name == "decision.persist" for s in Receiver.spans):
                time.sleep(0.2)
    finally:
        httpd.shutdown()
    spans = list(Receiver.spans)
    [request] = [s for s in spans if s.name == "POST /v1/decisions" and not s.parent_span_id]
    [submit] = [s for s in spans if s.name == "decision.submit" and s.parent_span_id == request.span_id]
    batches = [s for s in spans if s.name == "decision.batch" and any(lk.span_id == submit.span_id for lk in s.links)]
    assert batches
    persist = [s for s in spans if s.name == "decision.persist" and s.parent_span_id == batches[0].span_id]
    ids = [v.string_value for a in persist[0].attributes if a.key == "studio.decision_ids"
           for v in a.value.array_value.values]
    assert ids == [decision_id]
