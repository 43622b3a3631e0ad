"""Questions the chat answers without an LLM, parsed deterministically and answered from the read tools."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.chat_timeparse import has_year, month_day, parse_range
from policies.chat_checks import ID

ToolCall = Callable[[str, dict[str, Any]], Awaitable[Any]]
HELP = ("That question needs a working LLM endpoint (STUDIO_LLM_BASE_URL). Without one I can answer: (1) what "
        "happened to a stream in a time range (\"what happened to USDC between 06:00 and 09:00 on 11 March "
        "2023?\"); (2) why a decision or an alert was raised (\"why was alert alr_... critical?\"); (3) the top "
        "alerts by severity in a range (\"top alerts last week\"); (4) which alerts reviewers dismissed, and which "
        "model raised them (\"which alerts were dismissed last week?\").")


@dataclass
class IntentAnswer:
    intent: str
    text: str
    results: list[Any] = field(default_factory=list)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _until(dt: datetime) -> str:
    """An exclusive upper bound to the second, rounded up ("until now" keeps what happened this second)."""
    return _iso(dt.replace(microsecond=0) + timedelta(seconds=1) if dt.microsecond else dt)


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


async def answer(question: str, call: ToolCall, streams: list[tuple[str, str]], now: datetime,
                 stream_years: Callable[[str, str], Awaitable[list[int]]]) -> IntentAnswer:
    q = question.strip()
    low = q.lower()
    ids = ID.findall(q)
    if ids and re.search(r"\bwhy\b|\bexplain\b|\braised\b", low):
        return await _why(ids[0], call)
    if "dismiss" in low and "alert" in low:
        return await _dismissed(q, call, now)
    if "alert" in low and re.search(r"\btop\b|\bworst\b|\bmost severe\b|\bhighest\b|\bby severity\b", low):
        return await _top(q, call, now)
    found = _stream(q, streams)
    if found is not None:
        return await _stream_summary(q, found, call, now, stream_years)
    return IntentAnswer("help", HELP)


def _stream(q: str, streams: list[tuple[str, str]]) -> tuple[str, str] | None:
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9_.:\-]+", q)}
    exact = [(p, s) for p, s in streams if s.lower() in words]
    return sorted(exact, key=lambda ps: -len(ps[1]))[0] if exact else None


async def _why(item: str, call: ToolCall) -> IntentAnswer:
    if item.startswith("alr_"):
        a = await call("alert_lookup", {"alert_id": item})
        if "error" in a:
            return IntentAnswer("why", f"There is no alert {item}.", [a])
        d = a.get("first_decision") or {}
        text = (f"Alert {item} ({a['state']}{', ' + a['resolution'] if a.get('resolution') else ''}) is "
                f"{a['action']} at severity {a['severity']} because of rule {a['rule']}. It was opened by decision "
                f"{d.get('decision_id')}: {d.get('explanation') or ''}")
        return IntentAnswer("why", text.strip(), [a])
    d = await call("audit_decision", {"decision_id": item})
    if "error" in d:
        return IntentAnswer("why", f"There is no decision {item}.", [d])
    fired = ", ".join(r["rule"] + " (" + ", ".join(f"{k}={_fmt(v)}" for k, v in r["values"].items()) + ")"
                      for r in d["rules"]) or "none"
    top = sorted((m for m in d["models"] if m.get("score") is not None), key=lambda m: -m["score"])[:3]
    scores = ", ".join(f"{m['name']} {m['score']}" for m in top) or "none"
    text = (f"Decision {item} ({d['profile']}/{d['stream']}) is {d['action']} at severity {d['severity']} with a "
            f"combined score of {d['score']}. Rules fired: {fired}. Governor: "
            f"{', '.join(a['rule'] for a in d['governor']['actions']) or 'no action'}. Highest model scores: "
            f"{scores}. The router trusted the "
            f"'{d['router']['arm']}' arm.")
    return IntentAnswer("why", text, [d])


async def _top(q: str, call: ToolCall, now: datetime) -> IntentAnswer:
    rng = parse_range(q, now)
    args: dict[str, Any] = {"by": "severity", "limit": 10}
    if rng:
        args.update(since=_iso(rng[0]), until=_until(rng[1]))
    rows = await call("alerts_search", args)
    if not rows:
        return IntentAnswer("top_alerts", "No alerts in that range.", [rows])
    lines = [f"{r['id']}: {r['action']} severity {r['severity']} on {r['profile']}/{r['stream']} ({r['rule']}, "
             f"{r['state']})" for r in rows]
    return IntentAnswer("top_alerts", "Top alerts by severity:\n" + "\n".join(lines), [rows])


async def _dismissed(q: str, call: ToolCall, now: datetime) -> IntentAnswer:
    rng = parse_range(q, now)
    args: dict[str, Any] = {"resolution": "dismissed", "by": "time", "limit": 20}
    if rng:
        args.update(since=_iso(rng[0]), until=_until(rng[1]))
    rows = await call("alerts_search", args)
    if not rows:
        return IntentAnswer("dismissed_alerts", "No alerts were dismissed in that range.", [rows])
    results: list[Any] = [rows]
    lines = []
    for r in rows:
        d = await call("audit_decision", {"decision_id": r["first_decision_id"]})
        results.append(d)
        top = max((m for m in d.get("models", []) if m.get("score") is not None), key=lambda m: m["score"],
                  default=None)
        raised = f"{top['name']} (score {top['score']})" if top else "no model"
        lines.append(f"{r['id']} ({r['profile']}/{r['stream']}, rule {r['rule']}): highest model {raised}, "
                     f"decision {r['first_decision_id']}")
    return IntentAnswer("dismissed_alerts", "Alerts dismissed by reviewers:\n" + "\n".join(lines), results)


async def _stream_summary(q: str, found: tuple[str, str], call: ToolCall, now: datetime,
                          stream_years: Callable[[str, str], Awaitable[list[int]]]) -> IntentAnswer:
    profile, stream = found
    hint = None
    md = month_day(q)
    if md is not None and not has_year(q):  # "11 March": the latest year in which the stream has that day
        for year in sorted(await stream_years(profile, stream), reverse=True):
            try:
                datetime(year, md[0], md[1], tzinfo=UTC)
            except ValueError:
                continue
            hint = year
            break
    rng = parse_range(q, now, year_hint=hint)
    args: dict[str, Any] = {"profile": profile, "stream": stream}
    if rng:
        args.update(since=_iso(rng[0]), until=_until(rng[1]))
    res = await call("stream_history", args)
    s = res["summary"]
    span = f"between {args.get('since')} and {args.get('until')}" if rng else "over its whole history"
    if not s.get("points"):
        return IntentAnswer("stream_summary", f"{stream} ({profile}) has no decisions {span}.", [res])
    actions = ", ".join(f"{n} {a}" for a, n in sorted(s["actions"].items(), key=lambda kv: -kv[1]))
    worst = s["most_severe"]
    text = (f"{stream} ({profile}) {span}: {s['points']} points; the value ranged from {_fmt(s['min_value'])} "
            f"(at {s['min_at']}) to {_fmt(s['max_value'])} (at {s['max_at']}); decisions: {actions}. The most "
            f"severe was {worst['decision_id']} at {worst['time']}: {worst['action']}, severity {worst['severity']}, "
            f"value {_fmt(worst['value'])}" + (f", rules {', '.join(worst['rules'])}" if worst["rules"] else "") + ".")
    return IntentAnswer("stream_summary", text, [res])
