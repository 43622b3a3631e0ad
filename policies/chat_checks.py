"""Deterministic checks on a chat answer: every cited id exists, every number is in a tool result."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from policies.llm_checks import Check, numbers_in, stated_numbers, supported

ID = re.compile(r"\b(?:dec|alr|fbk|wl)_[0-9A-HJKMNP-TV-Z]{26}\b")
AUDIT_REF = re.compile(r"audit\s*(?:event|seq(?:uence)?)?\s*#?\s*(\d+)", re.IGNORECASE)


def cited(text: str) -> list[str]:
    """Decision, alert, feedback and watch-list ids, and audit sequence numbers ("audit #12"), in order."""
    ids = list(dict.fromkeys(ID.findall(text)))
    return ids + [f"audit#{n}" for n in dict.fromkeys(AUDIT_REF.findall(text))]


def check_answer(answer: str, tool_results: Iterable[Any], question: str,
                 exists: Callable[[str], bool]) -> list[Check]:
    """ids_exist and numbers_match_tool_results; `exists` looks an id up in the database."""
    results = list(tool_results)
    # Looked up even when a tool result shows the id: event text is data, and an id planted in it proves nothing.
    # An id a look-up tool reported missing ("no alert alr_...") may be named: "there is no such alert" is an answer.
    absent = {i for r in results if isinstance(r, dict) and isinstance(r.get("error"), str) for i in cited(r["error"])}
    missing = [i for i in cited(answer) if i not in absent and not exists(i)]
    checks = [Check("ids_exist", not missing, f"no such ids: {', '.join(missing)}" if missing else "")]
    evidence = numbers_in(results) + [s.value for s in stated_numbers(question)]
    for i in cited(answer):
        if i.startswith("audit#"):
            evidence.append(float(i[6:]))
    text = AUDIT_REF.sub(" ", ID.sub(" ", answer))
    bad = [s.token for s in stated_numbers(text) if not supported(s, evidence)]
    checks.append(Check("numbers_match_tool_results", not bad,
                        f"numbers not in any tool result: {', '.join(dict.fromkeys(bad))}" if bad else ""))
    return checks
