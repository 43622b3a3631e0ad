"""The LLM circuit breaker alone (studio/circuit.py): consecutive failures open it, a success resets the count,
a refused request (400) is not an outage, a failed trial after the cool-down opens it again."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest

from studio.circuit import CircuitRejected, LlmCircuit
from studio.metrics import Metrics


async def call(circuit: LlmCircuit, exc: BaseException | None = None) -> str:
    with circuit.guard():
        await asyncio.sleep(0)
        if exc is not None:
            raise exc
        return "ok"


def status_error(status: int) -> openai.APIStatusError:
    request = httpx.Request("POST", "http://llm/v1/chat/completions")
    cls = {400: openai.BadRequestError, 500: openai.InternalServerError}[status]
    return cls("scripted", response=httpx.Response(status, request=request), body=None)


async def test_opens_after_consecutive_failures_and_closes_after_a_good_trial() -> None:
    metrics = Metrics()
    circuit = LlmCircuit(failures=3, cooldown_s=0.3, metrics=metrics)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await call(circuit, status_error(500))
    assert await call(circuit) == "ok" and circuit.snapshot()["consecutive_failures"] == 0  # not consecutive
    for _ in range(5):  # refused requests say nothing about the endpoint
        with pytest.raises(openai.BadRequestError):
            await call(circuit, status_error(400))
    assert circuit.state() == "closed"
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):  # the call that trips it still raises its own error
            await call(circuit, status_error(500))
    assert circuit.state() == "open" and 0 < circuit.snapshot()["retry_in_s"] <= 0.3
    assert b"studio_llm_circuit_open 1.0" in metrics.render()
    with pytest.raises(CircuitRejected):
        await call(circuit)
    time.sleep(0.35)
    assert circuit.state() == "half_open" and b"studio_llm_circuit_open 0.0" in metrics.render()
    with pytest.raises(openai.InternalServerError):  # a failed trial: open for another cool-down
        await call(circuit, status_error(500))
    assert circuit.state() == "open"
    with pytest.raises(CircuitRejected):
        await call(circuit)
    time.sleep(0.35)
    assert await call(circuit) == "ok" and circuit.state() == "closed"
    assert circuit.snapshot()["opened_at"] is None
    text = metrics.render().decode()
    assert 'studio_llm_circuit_transitions_total{state="open"} 2.0' in text
    assert 'studio_llm_circuit_transitions_total{state="closed"} 1.0' in text
