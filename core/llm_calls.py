"""What an LLM call cost and how it failed: shared by the overseer's provider (studio/llm.py) and the chat
graph, which catches the failure without depending on the provider."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LlmCall:
    """One call's accounting: stored with the explanation and exported as metrics."""

    purpose: str
    outcome: str  # ok | timeout | http_<status> | connection | error | circuit_open (not called)
    seconds: float
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class LlmUnavailable(Exception):
    """The endpoint did not answer usefully (timeout, HTTP error, connection); the job is retried later."""

    def __init__(self, reason: str, call: LlmCall) -> None:
        super().__init__(reason)
        self.reason = reason
        self.call = call


class LlmCircuitOpen(LlmUnavailable):
    """The circuit breaker is open (the endpoint failed repeatedly): no call was made; fall back at once."""
