"""The overseer's evidence: a decision's facts with entity ids pseudonymized, and event free text kept apart."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from core.domain import Decision
from policies.llm_checks import PSEUDONYM, Facts, numbers_in

ID_KEYS = {"token", "venue", "entity", "host", "service", "applicant_id", "account", "customer", "user", "wallet",
           "address", "ip", "id"}
KIND_OF = {"token": "TOKEN", "venue": "VENUE", "entity": "ENTITY", "host": "HOST", "service": "SERVICE",
           "applicant_id": "APPLICANT", "account": "ACCOUNT", "stream": "STREAM"}
MODEL_KEYS = ("name", "family", "status", "score", "raw", "ready")


def is_id_key(key: str) -> bool:
    return key in ID_KEYS or key.endswith("_id")


class Pseudonymizer:
    """Maps entity ids to stable aliases (TOKEN_1, STREAM_1, ...) for one explanation, and back."""

    def __init__(self) -> None:
        self.forward: dict[str, str] = {}
        self.back: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def alias(self, value: str, key: str) -> str:
        if value not in self.forward:
            kind = KIND_OF.get(key, "ID")
            n = 1 + sum(1 for a in self.back if a.startswith(kind + "_"))
            name = f"{kind}_{n}"
            self.forward[value], self.back[name] = name, value
            self._pattern = None
        return self.forward[value]

    def mask(self, text: str) -> str:
        """Replace every known id inside free text (whole tokens only) by its alias."""
        keys = sorted((k for k in self.forward if len(k) >= 2), key=len, reverse=True)
        if not keys:
            return text
        if self._pattern is None:
            self._pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w-])")
        return self._pattern.sub(lambda m: self.forward[m.group(1)], text)

    def mask_all(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_all(v) for v in value]
        return value

    def restore(self, text: str) -> str:
        """Aliases back to the real ids, in what users see."""
        return PSEUDONYM.sub(lambda m: self.back.get(m.group(0), m.group(0)), text)

    @property
    def aliases(self) -> frozenset[str]:
        return frozenset(self.back)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else None


def split_context(context: dict[str, Any], pseudo: Pseudonymizer) -> tuple[dict[str, Any], dict[str, str]]:
    """(ids as aliases plus plain numbers and flags, free text kept apart as untrusted data)."""
    ids: dict[str, Any] = {}
    text: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, str) and is_id_key(key):
            ids[key] = pseudo.alias(value, key)
        elif isinstance(value, str):
            text[key] = value
        else:
            ids[key] = value
    return ids, text


def quoted(data: dict[str, str], pseudo: Pseudonymizer) -> str:
    """Untrusted text as a JSON object; angle brackets escaped so it cannot close the <event_data> block."""
    if not data:
        return "{}"
    body = orjson.dumps({k: pseudo.mask(v) for k, v in data.items()}, option=orjson.OPT_SORT_KEYS).decode()
    return body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def model_lineup(decision: Decision) -> tuple[frozenset[str], frozenset[str]]:
    """(every model of the decision, the models that answered): the meta-classifier counts when it scored."""
    names = {m["name"] for m in decision["models"]}
    ran = {m["name"] for m in decision["models"] if m["status"] == "ok"}
    metas = {k for k in decision.get("model_versions", {}) if k not in names and k not in ("pipeline", "router")}
    names |= metas
    if decision.get("combine", {}).get("method") == "meta":
        ran |= metas
    return frozenset(names), frozenset(ran)


def build_evidence(decision: Decision, *, thresholds: dict[str, Any], history: dict[str, Any],
                   pseudo: Pseudonymizer) -> tuple[dict[str, Any], str]:
    """(evidence JSON for the LLM, quoted untrusted text). Ids are aliased before anything else is built."""
    inputs = decision["inputs"]
    stream = pseudo.alias(decision["stream"], "stream") if decision["stream"] else None
    ids, free_text = split_context(inputs.get("context") or {}, pseudo)
    models = [{k: m.get(k) for k in MODEL_KEYS} for m in decision["models"]]
    counts = {s: sum(1 for m in models if m["status"] == s) for s in {m["status"] for m in models}}
    gov = decision["governor"]
    evidence = {
        "decision": {"profile": decision["profile"], "stream": stream, "action": decision["action"],
                     "severity": decision["severity"], "severity_scale": "0-10", "label": decision["label"],
                     "combined_score": decision["score"], "disagreement": decision["disagreement"],
                     "event_time": _iso(decision.get("event_ts"))},
        "event": {"value": inputs.get("value"), "features": inputs.get("features") or {}, "context": ids},
        "models": models,
        "model_counts": {"total": len(models), **counts},
        "router": {"arm": decision["router"].get("arm"), "propensity": decision["router"].get("propensity"),
                   "trusted_models": decision["router"].get("trusted", []),
                   "combine_method": decision.get("combine", {}).get("method")},
        "quantities": decision.get("quantities", {}),
        "signals": decision.get("signals", []),
        "rules_fired": [{k: r.get(k) for k in ("rule", "action", "hard", "values", "description")}
                        for r in decision.get("rules", [])],
        "governor": {k: gov.get(k) for k in ("action", "severity", "hard_floor", "actions", "ask_overseer",
                                             "overseer_reasons")},
        "thresholds": thresholds,
        "stream_history": history,
    }
    return pseudo.mask_all(evidence), quoted(free_text, pseudo)


def facts_of(decision: Decision, evidence: dict[str, Any], *, known_models: frozenset[str],
             pseudo: Pseudonymizer) -> Facts:
    lineup, ran = model_lineup(decision)
    nums = numbers_in(evidence)
    nums.append(float(len(ran)))
    return Facts(action=decision["action"], hard_floor=decision["governor"].get("hard_floor", "none"), ran=ran,
                 lineup=lineup, known_models=known_models | lineup, numbers=tuple(sorted(set(nums))),
                 pseudonyms=pseudo.aliases)


def evidence_json(evidence: dict[str, Any]) -> str:
    return orjson.dumps(evidence, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()
