"""The overseer's LLM provider: langchain-openai ChatOpenAI against any OpenAI-compatible endpoint."""

from __future__ import annotations

import logging
import time
from typing import Any

from pydantic import BaseModel, SecretStr

from core import tracing
from core.llm_calls import LlmCall, LlmCircuitOpen, LlmUnavailable
from core.settings import Settings
from policies.llm_schemas import response_schema
from studio.circuit import CircuitRejected, LlmCircuit

__all__ = ["LlmCall", "LlmCircuitOpen", "LlmUnavailable", "LlmProvider", "make_provider"]
log = logging.getLogger(__name__)
PLACEHOLDER_KEY = "not-set"  # sent when no key is configured, so OPENAI_API_KEY from the environment never leaks


def _classify(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    return "error"


class LlmProvider:
    """Structured calls with usage, latency and estimated cost; the API key stays inside the HTTP client."""

    name = "openai-compatible"

    def __init__(self, settings: Settings, metrics: Any = None) -> None:
        from langchain_openai import ChatOpenAI

        for name in ("openai", "httpx2"):  # request lines and retries: not secrets, but noise at INFO
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
        self.model = settings.llm_model
        self.metrics = metrics
        self.cost_in = settings.llm_cost_per_1k_input
        self.cost_out = settings.llm_cost_per_1k_output
        key = settings.llm_api_key or SecretStr(PLACEHOLDER_KEY)
        self.chat = ChatOpenAI(model=settings.llm_model, base_url=settings.llm_base_url, api_key=key,
                               timeout=settings.llm_timeout_s, max_retries=settings.llm_max_retries,
                               max_completion_tokens=settings.llm_max_tokens, temperature=0.0,
                               use_responses_api=False)
        self._bound: dict[type[BaseModel], Any] = {}
        self.circuit = LlmCircuit(failures=settings.llm_circuit_failures, cooldown_s=settings.llm_circuit_cooldown_s,
                                  metrics=metrics)

    def __repr__(self) -> str:  # never shows the key
        return f"LlmProvider(model={self.model!r})"

    def _structured(self, schema: type[BaseModel]) -> Any:
        if schema not in self._bound:
            self._bound[schema] = self.chat.with_structured_output(response_schema(schema), method="json_schema",
                                                                  include_raw=True)
        return self._bound[schema]

    def _account(self, purpose: str, outcome: str, seconds: float, usage: dict[str, Any] | None) -> LlmCall:
        tin = int((usage or {}).get("input_tokens") or 0)
        tout = int((usage or {}).get("output_tokens") or 0)
        cost = tin / 1000.0 * self.cost_in + tout / 1000.0 * self.cost_out
        call = LlmCall(purpose=purpose, outcome=outcome, seconds=seconds, input_tokens=tin, output_tokens=tout,
                       cost_usd=cost)
        if self.metrics is not None:
            self.metrics.llm_seconds.labels(purpose, outcome).observe(seconds)
            if tin or tout:
                self.metrics.llm_tokens.labels(purpose, "input").inc(tin)
                self.metrics.llm_tokens.labels(purpose, "output").inc(tout)
            if cost:
                self.metrics.llm_cost.labels(purpose).inc(cost)
        return call

    def _rejected(self, purpose: str, exc: CircuitRejected) -> LlmCircuitOpen:
        return LlmCircuitOpen(f"{purpose}: circuit_open, {exc}", self._account(purpose, "circuit_open", 0.0, None))

    async def structured(self, *, purpose: str, system: str, user: str, schema: type[BaseModel]) -> tuple[str, LlmCall]:
        """(the raw text the model returned, its accounting). Parsing is the governor's job, not the client's."""
        start = time.perf_counter()
        try:
            with self.circuit.guard(), tracing.span("llm.call", **{"studio.purpose": purpose,
                                                                   "gen_ai.request.model": self.model}):
                out = await self._structured(schema).ainvoke([("system", system), ("user", user)])
        except CircuitRejected as exc:
            raise self._rejected(purpose, exc) from None
        except Exception as exc:
            outcome = _classify(exc)
            call = self._account(purpose, outcome, time.perf_counter() - start, None)
            log.warning("LLM %s call failed: %s (%s)", purpose, outcome, type(exc).__name__)
            raise LlmUnavailable(f"{purpose}: {outcome}", call) from None
        raw = out["raw"]
        content = raw.content if isinstance(raw.content, str) else "".join(
            p.get("text", "") if isinstance(p, dict) else str(p) for p in raw.content)
        call = self._account(purpose, "ok", time.perf_counter() - start, raw.usage_metadata)
        return content, call

    async def tool_turn(self, *, purpose: str, messages: list[Any], tools: list[Any],
                        on_token: Any = None) -> tuple[Any, LlmCall]:
        """One assistant turn that may call tools (streamed token by token to on_token when given)."""
        bound = self.chat.bind_tools(tools) if tools else self.chat
        start = time.perf_counter()
        msg: Any = None
        try:
            with self.circuit.guard(), tracing.span("llm.call", **{"studio.purpose": purpose,
                                                                   "gen_ai.request.model": self.model}):
                if on_token is None:
                    msg = await bound.ainvoke(messages)
                else:
                    async for chunk in bound.astream(messages):
                        msg = chunk if msg is None else msg + chunk
                        text = chunk.content if isinstance(chunk.content, str) else ""
                        if text:
                            await on_token(text)
                    if msg is None:
                        raise RuntimeError("the endpoint streamed nothing")
        except CircuitRejected as exc:
            raise self._rejected(purpose, exc) from None
        except Exception as exc:
            outcome = _classify(exc)
            call = self._account(purpose, outcome, time.perf_counter() - start, None)
            log.warning("LLM %s call failed: %s (%s)", purpose, outcome, type(exc).__name__)
            raise LlmUnavailable(f"{purpose}: {outcome}", call) from None
        return msg, self._account(purpose, "ok", time.perf_counter() - start, getattr(msg, "usage_metadata", None))


def make_provider(settings: Settings, metrics: Any = None) -> LlmProvider | None:
    """The configured endpoint, or None: then the template narrator is the provider."""
    if not settings.llm_base_url:
        return None
    return LlmProvider(settings, metrics)
