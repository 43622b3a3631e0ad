"""The LLM provider's circuit breaker (pybreaker): after N consecutive failed calls it opens, and calls fail at
once (LlmCircuitOpen) for the cool-down; then one call is let through as a trial: its success closes the
circuit, its failure opens it for another cool-down. One breaker per process (the API, each `studio worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import pybreaker

log = logging.getLogger(__name__)
STATES = {"closed": "closed", "open": "open", "half-open": "half_open"}


class CircuitRejected(Exception):
    """The circuit is open: the call was not made."""


def _not_an_outage(exc: BaseException) -> bool:
    """A request the endpoint refused as malformed (400, 422) says nothing about the endpoint's health, and a
    caller that cancelled did not see it fail."""
    import openai

    return isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError, asyncio.CancelledError))


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self, circuit: LlmCircuit) -> None:
        self.circuit = circuit

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.circuit.changed(getattr(old_state, "name", None), new_state.name)


class LlmCircuit:
    """Wraps each LLM call (`with circuit.guard(): await call()`); reports its state to health and metrics."""

    def __init__(self, *, failures: int, cooldown_s: float, metrics: Any = None) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.metrics = metrics
        self.opened_at: float | None = None  # wall clock, for reports
        self.opened_mono: float | None = None
        self.breaker = pybreaker.CircuitBreaker(fail_max=failures, reset_timeout=cooldown_s, name="llm",
                                                exclude=[_not_an_outage], throw_new_error_on_trip=False,
                                                listeners=[_Listener(self)])
        if metrics is not None:
            metrics.llm_circuit_open.set_function(lambda: 1.0 if self.state() == "open" else 0.0)

    def changed(self, old: str | None, new: str) -> None:
        state = STATES.get(new, new)
        if state == "open":
            self.opened_at, self.opened_mono = time.time(), time.monotonic()
            log.warning("LLM circuit open after %d consecutive failures: calls fail at once for %.0f s",
                        self.breaker.fail_counter, self.cooldown_s)
        elif state == "closed":
            log.info("LLM circuit closed: the endpoint answered again")
        if self.metrics is not None:
            self.metrics.llm_circuit_transitions.labels(state).inc()

    def state(self) -> str:
        """closed | open (calls are refused) | half_open (the cool-down is over: the next call is a trial)."""
        state = STATES.get(self.breaker.current_state, self.breaker.current_state)
        if state == "open" and self.opened_mono is not None and time.monotonic() - self.opened_mono >= self.cooldown_s:
            return "half_open"
        return state

    def snapshot(self) -> dict[str, Any]:
        state = self.state()
        retry_in = None
        if state == "open" and self.opened_mono is not None:
            retry_in = round(max(0.0, self.cooldown_s - (time.monotonic() - self.opened_mono)), 3)
        return {"state": state, "consecutive_failures": int(self.breaker.fail_counter),
                "failure_threshold": self.failures, "cooldown_s": self.cooldown_s,
                "opened_at": None if self.opened_at is None or state == "closed" else
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.opened_at)), "retry_in_s": retry_in}

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Raise CircuitRejected at once while open; count the block's exception (re-raised) as a failure."""
        try:
            cm = self.breaker.calling()
            cm.__enter__()
        except pybreaker.CircuitBreakerError:
            raise CircuitRejected(f"retry in {self.snapshot()['retry_in_s'] or 0:g} s") from None
        try:
            yield
        except BaseException as exc:
            if not cm.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            cm.__exit__(None, None, None)
