"""Rule packs (policies/rules/<name>.yaml): derived quantities, math limits and declarative rules."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from policies.expr import Expression

Action = Literal["none", "watch", "alert", "critical", "review"]
ACTION_RANK: dict[str, int] = {"none": 0, "watch": 1, "alert": 2, "review": 2, "critical": 3}


class Rule(BaseModel):
    """One rule: when `condition` holds, the action is at least `action` and severity at least min_severity."""

    model_config = ConfigDict(extra="forbid")

    id: str
    description: str = ""
    condition: str
    action: Action
    min_severity: int = Field(ge=0, le=10)
    hard: bool = False  # hard rules: no model, router or LLM output can lower what they set
    _expr: Expression | None = PrivateAttr(default=None)

    @property
    def expr(self) -> Expression:
        if self._expr is None:
            self._expr = Expression(self.condition)
        return self._expr


class MathLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deviation_band: float | None = None  # peg deviation that fires the math signal
    roc_limit: float | None = 0.05
    zscore_limit: float | None = 4.0


class RulePack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pack: str
    description: str = ""
    derived: dict[str, str] = {}
    math: MathLimits = MathLimits()
    rules: list[Rule]
    _derived: dict[str, Expression] = PrivateAttr(default_factory=dict)
    _compiled: list[tuple[Rule, Expression, tuple[str, ...]]] = PrivateAttr(default_factory=list)

    @model_validator(mode="after")
    def _compile(self) -> RulePack:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        self._derived = {name: Expression(src) for name, src in self.derived.items()}
        # compiled at load time (a bad condition fails here, not at the first event), with the names each reads
        self._compiled = [(rule, rule.expr, tuple(sorted(rule.expr.names))) for rule in self.rules]
        return self

    @property
    def compiled(self) -> list[tuple[Rule, Expression, tuple[str, ...]]]:
        """(rule, its expression, the names it reads, sorted) for every rule, in pack order."""
        return self._compiled

    @property
    def derived_exprs(self) -> dict[str, Expression]:
        return self._derived

    def hard_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.hard]


def load_rule_pack(rules_dir: Path, name: str) -> RulePack:
    path = rules_dir / f"{name}.yaml"
    return RulePack.model_validate(yaml.safe_load(path.read_text()))
