"""All tools of one profile, by name: its models, its SLMs, its router and the audit look-ups."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.audit import audit_tools
from tools.bandit import router_tool
from tools.base import StudioTool
from tools.models import model_tool
from tools.slm import slm_tools


@dataclass
class ProfileTools:
    models: dict[str, StudioTool] = field(default_factory=dict)
    slms: dict[str, StudioTool] = field(default_factory=dict)
    other: dict[str, StudioTool] = field(default_factory=dict)

    def all(self) -> list[StudioTool]:
        return [*self.models.values(), *self.slms.values(), *self.other.values()]

    def get(self, name: str) -> StudioTool | None:
        return {t.name: t for t in self.all()}.get(name)


def profile_tools(rt: Any, lookups: Any, engine: Any) -> ProfileTools:
    """Every model and SLM of the profile, its router, and the (shared) audit look-ups."""
    tools = ProfileTools()
    for name in rt.profile.models.all():
        t = model_tool(rt, name)
        tools.models[t.name] = t
    for t in slm_tools(rt, lookups):
        tools.slms[t.name] = t
    for t in [router_tool(rt, engine), *audit_tools(engine)]:
        tools.other[t.name] = t
    return tools
