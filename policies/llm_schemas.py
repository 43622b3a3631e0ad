"""The overseer's structured outputs (pydantic): the judge's Verdict and the narrator's Narration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["none", "watch", "alert", "critical", "review"]


class Verdict(BaseModel):
    """The overseer's judgement of one decision: it advises, the governor decides."""

    model_config = ConfigDict(extra="forbid", title="overseer_verdict")

    verdict: Literal["confirm", "escalate_review", "likely_false_positive"] = Field(
        description="confirm the action, ask for human review, or annotate as a likely false positive")
    confidence: float = Field(ge=0.0, le=1.0)
    trusted_models: list[str] = Field(max_length=32, description="models (status ok) whose outputs you trust")
    rationale: str = Field(min_length=1, max_length=1500)
    requested_action: Action | None = Field(None, description="null, or 'review' when escalating")


class Narration(BaseModel):
    """The explanation a person reads, with what it cites and the action it reports."""

    model_config = ConfigDict(extra="forbid", title="overseer_narration")

    text: str = Field(min_length=1, max_length=2000)
    cited_models: list[str] = Field(max_length=32, description="models (status ok) the text relies on")
    stated_action: Action = Field(description="the governor's final action, as in the evidence")


def response_schema(model: type[BaseModel]) -> dict[str, Any]:
    """JSON schema for `response_format` (the model is parsed by policies.llm_checks, not by the client)."""
    schema = model.model_json_schema()
    schema["title"] = model.model_config.get("title") or model.__name__
    schema["description"] = (model.__doc__ or "").strip()
    return schema
