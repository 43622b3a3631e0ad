"""persist: decisions, their audit events and the touched stream states, in ONE transaction per batch."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import Counter
from typing import Any, cast

from langgraph.runtime import Runtime

from core import tracing
from core.domain import Decision, Explanation
from graph.context import DecisionContext
from graph.narrator import NOTICE, PROVIDER, narrate
from graph.state import DecisionState
from runtime.profile_runtime import ProfileRuntime
from store.decisions import DecisionDoc
from store.ids import new_ids, now_iso

log = logging.getLogger(__name__)


def build_decisions(state: DecisionState, rt: ProfileRuntime) -> list[Decision]:
    events, routes, table = state["events"], state["routes"], state["table"]
    combined, rulings, slm, bundle = state["combined"], state["rulings"], state["slm"], state["bundle"]
    created = now_iso()
    entries = table.entries()
    inputs = replay_inputs(state["batch"])
    versions = dict(bundle.versions)  # one object for the batch: the writer serializes it once
    ids = new_ids("dec", len(events))
    alarms = state.get("alarms")
    out: list[Decision] = []
    for i, ev in enumerate(events):
        ruling = rulings[i]
        # DecisionDoc: a dict the writer attaches the row's serialized parts to (store/decisions.py)
        d = cast(Decision, DecisionDoc(Decision(
            id=ids[i], created_at=created, profile=rt.profile.name, stream=ev.stream,
            event_ts=ev.ts, request_id=ev.request_id, batch_id=state["batch_id"],
            label=ruling.label, severity=ruling.severity, score=combined[i]["score"],
            action=ruling.action, disagreement=combined[i]["disagreement"], inputs=ev.inputs_json(),
            models=entries[i], router={**routes[i], "trusted": combined[i]["trusted"]},
            combine={"method": combined[i]["method"], **({} if alarms is None else {"alarm": alarms[i]})},
            quantities={k: (round(v, 8) if isinstance(v, float) else v) for k, v in slm[i].quantities.items()},
            signals=slm[i].signals, rules=slm[i].fired, rule_errors=slm[i].rule_errors,
            governor=ruling.to_json(), model_versions=versions,
            replay={**inputs[i], "q": slm[i].quantities}, explanation={},
        )))
        d["explanation"] = Explanation(status="template", provider=PROVIDER, text=narrate(d), notice=NOTICE,
                                       href=f"/v1/decisions/{d['id']}/explanation")
        out.append(d)
    return out


def replay_inputs(batch: Any) -> list[dict[str, Any]]:
    """Each row's exact model inputs (full precision), so the batch can be recomputed later."""
    cols: dict[str, list[Any]] = {"X": batch.X.tolist()}
    if batch.windows is not None:
        cols.update(w=batch.windows.tolist(), u=batch.u.tolist(), v=batch.values.tolist(), ts=batch.ts.tolist(),
                    prev=batch.prev.tolist(), wm=batch.win_mean.tolist(), ws=batch.win_std.tolist(),
                    seen=batch.seen.tolist())
    keys = ("i", *cols)
    return [dict(zip(keys, row, strict=True)) for row in zip(range(len(batch)), *cols.values(), strict=True)]


def batch_state_rows(state: DecisionState, profile: str) -> list[dict[str, Any]]:
    return [{"batch_id": state["batch_id"], "stream": s, "profile": profile, "fit_version": p["fit_version"],
             "model_states": p["model_states"]} for s, p in (state.get("pre_states") or {}).items()]


async def persist(state: DecisionState, runtime: Runtime[DecisionContext]) -> dict[str, Any]:
    ctx = runtime.context
    rt = ctx.runtime
    decisions = build_decisions(state, rt)
    if tracing.enabled:
        tracing.set_attributes(**{"studio.profile": rt.profile.name, "studio.batch_id": state["batch_id"],
                                  "studio.decision_ids": [d["id"] for d in decisions]})
    touched = state.get("touched") or {}
    if ctx.writer is not None:
        items = rt.streams.dirty_rows(touched) if rt.streams is not None else []
        write = functools.partial(ctx.writer.write_batch, rt.profile.name, decisions, items, ctx.actor,
                                  batch_state_rows(state, rt.profile.name))
        # A small batch is written right here when nothing has to be waited for (SQLite, no other writer): the
        # hop to the write thread and back costs more than the write. Else, and always for large batches, the
        # write thread writes while this loop goes on serving.
        if len(decisions) >= ctx.inline_below or not write(wait=False):
            await asyncio.get_running_loop().run_in_executor(ctx.write_executor, contextvars.copy_context().run,
                                                             write)
    # Committed: from here on nothing may fail the batch (the runner would undo and redo a written batch).
    try:
        if rt.streams is not None:
            rt.streams.mark_clean(touched)
            rt.streams.after_batch(touched, state["bundle"])
        if ctx.metrics is not None:
            for action, count in Counter(d["action"] for d in decisions).items():
                ctx.metrics.decision(rt.profile.name, action, count)
            table = state["table"]
            ctx.metrics.model_flags(rt.profile.name, table.names, *table.flag_counts(rt.profile.thresholds.alert))
    except Exception:
        log.exception("after committing batch %s", state["batch_id"])
    return {"decisions": decisions}
