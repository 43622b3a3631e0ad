"""Read-only tools for the incident chat: stream history, alerts, forecasts, similar incidents, models, SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from policies.sql_guard import SqlRejected, check_sql
from store import chat_queries
from store.chat_access import ReadDenied
from store.readonly import relation_names, run_readonly
from tools.audit import audit_tools
from tools.base import StudioTool
from tools.models import EventArgs


def iso_ts(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str | None) -> float | None:
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def _top_model(d: Mapping[str, Any]) -> tuple[str | None, float | None]:
    ok = [m for m in d["models"] if m.get("score") is not None]
    if not ok:
        return None, None
    best = max(ok, key=lambda m: m["score"])
    return best["name"], best["score"]


def point(d: Mapping[str, Any]) -> dict[str, Any]:
    name, score = _top_model(d)
    return {"decision_id": d["id"], "time": iso_ts(d["event_ts"]), "value": d["inputs"].get("value"),
            "action": d["action"], "severity": d["severity"], "score": d["score"],
            "rules": [r["rule"] for r in d["rules"]], "top_model": name, "top_model_score": score}


def stream_summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"points": 0}
    values = [r["inputs"]["value"] for r in rows if r["inputs"].get("value") is not None]
    worst = max(rows, key=lambda r: (r["severity"], r["score"]))
    lo = min(range(len(values)), key=lambda i: values[i]) if values else 0
    hi = max(range(len(values)), key=lambda i: values[i]) if values else 0
    actions: dict[str, int] = {}
    for r in rows:
        actions[r["action"]] = actions.get(r["action"], 0) + 1
    return {"points": len(rows), "first": point(rows[0]), "last": point(rows[-1]), "min_value": values[lo] if values
            else None, "min_at": iso_ts(rows[lo]["event_ts"]), "max_value": values[hi] if values else None,
            "max_at": iso_ts(rows[hi]["event_ts"]), "actions": actions, "most_severe": point(worst)}


class StreamArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str
    stream: str
    since: str | None = Field(None, description="ISO-8601 UTC, inclusive")
    until: str | None = Field(None, description="ISO-8601 UTC, exclusive")
    limit: int = Field(200, ge=1, le=500)


class AlertArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alert_id: str = Field(..., description="an alert id such as alr_01H...")


class AlertSearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str | None = None
    state: Literal["open", "acknowledged", "resolved"] | None = None
    resolution: Literal["confirmed", "dismissed", "duplicate"] | None = None
    since: str | None = Field(None, description="ISO-8601 UTC, inclusive")
    until: str | None = Field(None, description="ISO-8601 UTC, exclusive")
    time: Literal["event", "opened", "resolved"] | None = Field(
        None, description="which time since/until bound: event (when the event that opened the alert happened; the "
                          "default), opened (when the service opened it), resolved (the default with a resolution)")
    by: Literal["severity", "time"] = "severity"
    limit: int = Field(10, ge=1, le=50)


class ForecastArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str
    stream: str
    horizon: int = Field(12, ge=1, le=200)


class SimilarArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision_id: str
    k: int = Field(5, ge=1, le=20)


class RunModelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str
    model: str
    event: EventArgs


class SqlArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str = Field(..., description="one SELECT over chat_decisions, chat_alerts, chat_audit, chat_feedback, "
                                      "chat_models; a row limit is added")


# (profile, stream, horizon) -> the forecast of the stream's window (studio/forecasts.py, as the API), or None
# when the profile has no streams
ForecastFn = Callable[[str, str, int], Awaitable[dict[str, Any] | None]]
ModelToolFn = Callable[[str, str], StudioTool | None]  # (profile, model) -> the model's decision tool


def chat_tools(engine: Engine, *, forecast: ForecastFn | None = None,
               model_tool: ModelToolFn | None = None) -> list[StudioTool]:
    """Every tool the chat may call; none of them can write."""

    async def stream_history(profile: str, stream: str, since: str | None = None, until: str | None = None,
                             limit: int = 200) -> dict[str, Any]:
        rows = await asyncio.to_thread(chat_queries.stream_window, engine, profile, stream, parse_ts(since),
                                       parse_ts(until), limit)
        return {"profile": profile, "stream": stream, "since": since, "until": until,
                "summary": stream_summary(rows), "points": [point(r) for r in rows[:60]]}

    async def alert_lookup(alert_id: str) -> dict[str, Any]:
        from store import alerts
        from store.decisions import get_decision

        a = await asyncio.to_thread(alerts.detail, engine, alert_id, decisions=20)
        if a is None:
            return {"error": f"no alert {alert_id}"}
        first = await asyncio.to_thread(get_decision, engine, a["first_decision_id"])
        keep = ("id", "profile", "stream", "entity", "rule", "state", "resolution", "action", "severity",
                "decision_count", "opened_at", "last_seen_at", "assignee", "resolved_at", "resolved_by")
        out = {k: a.get(k) for k in keep}
        out["comments"] = [{"author": c["author"], "body": c["body"], "at": c["created_at"]} for c in a["comments"]]
        if first is not None:
            out["first_decision"] = {**point(first), "governor": [g["rule"] for g in first["governor"]["actions"]],
                                     "explanation": first["explanation"].get("text")}
        return out

    async def alerts_search(profile: str | None = None, state: str | None = None, resolution: str | None = None,
                            since: str | None = None, until: str | None = None, time: str | None = None,
                            by: str = "severity", limit: int = 10) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(chat_queries.alerts, engine, profile=profile, resolution=resolution,
                                       state=state, since=since, until=until, time=time, by=by, limit=limit)
        return [{k: r[k] for k in ("id", "profile", "stream", "rule", "state", "resolution", "action", "severity",
                                   "opened_at", "resolved_at", "first_decision_id", "decision_count")} for r in rows]

    async def forecast_stream(profile: str, stream: str, horizon: int = 12) -> dict[str, Any]:
        out = await forecast(profile, stream, horizon) if forecast is not None else None
        if out is None:
            return {"error": f"{profile} has no streams"}
        source = f"the stream's last {out['history_points']} points"
        e = out["ensemble"]
        return {"profile": profile, "stream": stream, "source": source,
                "times": [iso_ts(t) for t in out["timestamps"]], "ensemble_mean": e["mean"],
                "interval_level_pct": 95, "lower_95": e["lower_95"], "upper_95": e["upper_95"],
                "members": e["members"], "weights": e["weights"]}

    async def similar_incidents(decision_id: str, k: int = 5) -> dict[str, Any]:
        from store.decisions import get_decision

        d = await asyncio.to_thread(get_decision, engine, decision_id)
        if d is None or not d.get("replay"):
            return {"error": f"no decision {decision_id} with stored features"}
        pool = await asyncio.to_thread(chat_queries.incident_candidates, engine, d["profile"])
        pool = [p for p in pool if p["id"] != decision_id and p.get("replay")
                and len(p["replay"]["X"]) == len(d["replay"]["X"])]
        if not pool:
            return {"decision_id": decision_id, "similar": []}
        M = np.array([p["replay"]["X"] for p in pool], dtype=float)
        scale = M.std(axis=0) + 1e-9
        dist = np.sqrt((((M - np.asarray(d["replay"]["X"])) / scale) ** 2).sum(axis=1))
        best = np.argsort(dist)[:k]
        return {"decision_id": decision_id, "similar": [{**point(pool[i]), "stream": pool[i]["stream"],
                                                         "distance": round(float(dist[i]), 4)} for i in best]}

    async def run_model(profile: str, model: str, event: dict[str, Any]) -> Any:
        tool = model_tool(profile, model) if model_tool is not None else None
        if tool is None:
            return {"error": f"no model {model!r} in profile {profile!r}"}
        return await tool.ainvoke({"events": [event]})

    async def sql_query(sql: str) -> dict[str, Any]:
        """A refusal, by the guard or by the database under it, is a result (status `refused`, audited as
        chat.tool_refused); a timeout or another database error raises, so the call's status is `error`."""
        reserved = await asyncio.to_thread(relation_names, engine)
        try:
            checked = check_sql(sql, dialect="postgres" if engine.dialect.name == "postgresql" else "sqlite",
                                reserved=reserved)
        except SqlRejected as exc:
            return {"refused": str(exc)}
        try:
            return {"sql": checked.sql, **await asyncio.to_thread(run_readonly, engine, checked.sql)}
        except ReadDenied as exc:
            return {"refused": f"the database refused the statement: {str(exc)[:200]}"}

    return [
        StudioTool("stream_history", "A stream's decisions in a time range: summary (points, min/max value and when, "
                   "actions, most severe decision) and the points with decision ids.", StreamArgs, stream_history),
        StudioTool("alert_lookup", "One alert: state, rule, severity, comments, and the decision that opened it "
                   "(rules, governor actions, explanation).", AlertArgs, alert_lookup),
        StudioTool("alerts_search", "Alerts filtered by profile, state, resolution (dismissed = false positive) and "
                   "time range, by severity or time.", AlertSearchArgs, alerts_search),
        StudioTool("forecast_stream", "Forecast a stream's next values (ensemble mean and 95% interval).",
                   ForecastArgs, forecast_stream),
        StudioTool("similar_incidents", "Past decisions that raised something and looked most like this one "
                   "(distance between their feature vectors).", SimilarArgs, similar_incidents),
        StudioTool("run_model", "Run one model of a profile on a hypothetical event (nothing is recorded).",
                   RunModelArgs, run_model),
        StudioTool("sql_query", "Run one read-only SELECT over the views chat_decisions, chat_alerts, chat_audit, "
                   "chat_feedback, chat_models (a row limit is added; anything else is refused).", SqlArgs, sql_query),
        *audit_tools(engine),
    ]
