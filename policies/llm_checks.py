"""The governor's deterministic checks on every LLM output: schema, citations, numbers, hard floor, allowed step."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.llm_schemas import Narration, Verdict
from policies.rules import ACTION_RANK

PSEUDONYM_KINDS = ("STREAM", "TOKEN", "VENUE", "ENTITY", "APPLICANT", "HOST", "SERVICE", "ACCOUNT", "ID")
PSEUDONYM = re.compile(r"\b(?:" + "|".join(PSEUDONYM_KINDS) + r")_\d+\b")
_DATES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?|\b\d{1,2}:\d{2}(?::\d{2})?\b")
_NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:[eE]([-+]?\d+))?"
                     r"(\s?(?:%|percent\b|per cent\b))?(?![\w])")
ALWAYS_FINE = (0.0, 1.0, 10.0, 100.0)  # "0 of", "1 of", "severity x/10", "100%"
ALLOWED_EFFECTS = {"confirm": "none", "escalate_review": "escalate_review",
                   "likely_false_positive": "annotate_false_positive"}


@dataclass(frozen=True)
class Facts:
    """What a decision's evidence establishes: the numbers, the models that ran, the action and its floor."""

    action: str
    hard_floor: str
    ran: frozenset[str]  # models that answered (status ok), plus the meta-classifier when it scored
    lineup: frozenset[str]  # every model of this decision, whatever its status
    known_models: frozenset[str]  # every model name the service knows (any profile)
    numbers: tuple[float, ...]
    pseudonyms: frozenset[str]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Stated:
    token: str
    value: float
    decimals: int
    percent: bool


def numbers_in(value: Any) -> list[float]:
    """Every finite number in a JSON-like value, including numbers written inside its strings."""
    out: list[float] = []
    if isinstance(value, bool) or value is None:
        return out
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            out.append(float(value))
    elif isinstance(value, str):
        out.extend(s.value for s in stated_numbers(value))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(numbers_in(v))
    elif isinstance(value, (list, tuple)):
        for v in value:
            out.extend(numbers_in(v))
    return out


def stated_numbers(text: str) -> list[Stated]:
    """Numbers a text states (dates, times and numbers glued to words such as TOKEN_1 or v2 are not numbers)."""
    text = _DATES.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        whole, frac, exp, pct = m.group(1).replace(",", ""), m.group(2) or "", m.group(3), m.group(4)
        value = float(f"{whole}.{frac or 0}" + (f"e{exp}" if exp else ""))
        decimals = len(frac) - (int(exp) if exp else 0)
        out.append(Stated(token=m.group(0).strip(), value=value, decimals=max(decimals, 0), percent=bool(pct)))
    return out


def supported(s: Stated, evidence: Iterable[float]) -> bool:
    """A stated number matches the evidence when it is one of its numbers (or that number x 100, as a percent)
    up to the rounding the text shows."""
    tol = 0.5 * 10.0 ** (-s.decimals) + 1e-9
    v = abs(s.value)
    if v in ALWAYS_FINE:
        return True
    for e in evidence:
        e = abs(e)
        if abs(v - e) <= tol or abs(v - 100.0 * e) <= tol:
            return True
    return False


def _parse(model: type[BaseModel], raw: str) -> tuple[BaseModel | None, Check]:
    text = raw.strip()
    if text.startswith("```"):  # a fenced block is still the same JSON
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    try:
        return model.model_validate_json(text), Check("schema", True)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5])
        return None, Check("schema", False, f"does not parse into {model.__name__}: {errs}")


def check_numbers(texts: Iterable[str], facts: Facts) -> Check:
    bad = [s.token for t in texts for s in stated_numbers(t) if not supported(s, facts.numbers)]
    if bad:
        return Check("numbers_match_evidence", False,
                     f"numbers not in the evidence: {', '.join(dict.fromkeys(bad))}")
    return Check("numbers_match_evidence", True)


def check_citations(cited: Iterable[str], texts: Iterable[str], facts: Facts) -> Check:
    cited = list(cited)
    problems = [f"{m} (did not run)" if m in facts.lineup else f"{m} (not a model of this decision)"
                for m in cited if m not in facts.ran]
    for text in texts:
        for name in mentioned_models(text, facts.known_models):
            if name not in facts.lineup and name not in facts.ran:
                problems.append(f"{name} (mentioned, not a model of this decision)")
    if problems:
        return Check("cites_only_models_that_ran", False, "cites " + ", ".join(dict.fromkeys(problems)))
    return Check("cites_only_models_that_ran", True)


def mentioned_models(text: str, names: Iterable[str]) -> list[str]:
    low = text.lower()
    found = []
    for name in names:
        variants = {name.lower(), name.lower().replace("_", " "), name.lower().replace("_", "-")}
        if any(re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", low) for v in variants):
            found.append(name)
    return found


def check_entities(texts: Iterable[str], facts: Facts) -> Check:
    unknown = sorted({p for t in texts for p in PSEUDONYM.findall(t) if p not in facts.pseudonyms})
    if unknown:
        return Check("entities_known", False, f"refers to entities not in the evidence: {', '.join(unknown)}")
    return Check("entities_known", True)


def check_step(v: Verdict, facts: Facts) -> list[Check]:
    """The judge may confirm, escalate to human review, or annotate a likely false positive; nothing lower."""
    requested = v.requested_action or ("review" if v.verdict == "escalate_review" else None)
    floor = Check("hard_floor", True)
    if requested is not None and ACTION_RANK[requested] < ACTION_RANK[facts.hard_floor]:
        floor = Check("hard_floor", False, f"asks for {requested!r} below the hard-rule action {facts.hard_floor!r}")
    step = Check("allowed_step", True)
    if requested is not None and requested != facts.action:
        if ACTION_RANK[requested] < ACTION_RANK[facts.action] or (requested == "review" and facts.action == "critical"):
            step = Check("allowed_step", False, f"would lower {facts.action!r} to {requested!r}: the overseer may "
                                                "escalate to review or annotate, never suppress")
        elif requested != "review":
            step = Check("allowed_step", False, f"asks for {requested!r}: the only change the overseer may ask "
                                                "for is human review")
    if v.verdict == "confirm" and requested not in (None, facts.action):
        step = Check("allowed_step", False, "a confirming verdict cannot request a different action")
    return [floor, step]


def check_verdict(raw: str, facts: Facts) -> tuple[Verdict | None, list[Check]]:
    """Every check on the judge's raw output; the verdict is usable only if all pass."""
    parsed, schema = _parse(Verdict, raw)
    if parsed is None:
        return None, [schema]
    assert isinstance(parsed, Verdict)
    checks = [schema, check_citations(parsed.trusted_models, [parsed.rationale], facts),
              check_numbers([parsed.rationale], facts), check_entities([parsed.rationale], facts),
              *check_step(parsed, facts)]
    return parsed, checks


def check_narration(raw: str, facts: Facts) -> tuple[Narration | None, list[Check]]:
    """Every check on the narrator's raw output."""
    parsed, schema = _parse(Narration, raw)
    if parsed is None:
        return None, [schema]
    assert isinstance(parsed, Narration)
    action = Check("action_reported", True)
    if parsed.stated_action != facts.action:
        action = Check("action_reported", False,
                       f"reports action {parsed.stated_action!r}; the governor's action is {facts.action!r}")
    checks = [schema, check_citations(parsed.cited_models, [parsed.text], facts), check_numbers([parsed.text], facts),
              check_entities([parsed.text], facts), action]
    return parsed, checks


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def effect_of(v: Verdict) -> str:
    """What an accepted verdict does: nothing, a request for human review, or a false-positive annotation."""
    return ALLOWED_EFFECTS[v.verdict] if v.requested_action != "review" else "escalate_review"
