"""The deterministic template narrator: an explanation built only from the decision's evidence."""

from __future__ import annotations

from operator import itemgetter

from core.domain import Decision

PROVIDER = "template"
NOTICE = "Written by the template narrator (no LLM endpoint is configured)."


_score = itemgetter("score")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def narrate(decision: Decision) -> str:
    """Plain-language explanation: what was observed, what fired, what the models said, what was decided."""
    parts: list[str] = []
    inputs = decision["inputs"]
    stream = inputs.get("stream")
    quantities = decision.get("quantities", {})
    value = inputs.get("value")
    if value is not None:
        line = f"Stream {stream} reported {value:.4g}" if stream else \
            f"This {decision['profile']} event reported {value:.4g}"
        if "deviation" in quantities:
            dev = quantities["deviation"]
            line += f", {abs(dev) * 100:.2f}% {'below' if dev < 0 else 'above'} its peg"
        roc = quantities.get("rate_of_change")
        if roc:
            line += f", a {roc * 100:+.2f}% move since the previous point"
        parts.append(line + ".")
    fired = decision.get("rules", [])
    if fired:
        parts.append("Rules fired: " + "; ".join(
            f"{r['rule']} ({'hard, ' if r['hard'] else ''}{r['action']}, values "
            + ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in r["values"].items()) + ")"
            for r in fired) + ".")
    models = decision["models"]
    ok = [m for m in models if m["ready"]]  # ready only where the model answered ("ok")
    if ok:
        top = sorted(ok, key=_score, reverse=True)[:3]  # stable: ties keep the lineup's order, as before
        parts.append(f"{len(ok)} of {len(models)} models answered; highest scores: "
                     + ", ".join([f"{m['name']} {m['score']:.2f}" for m in top]) + ".")
    if len(ok) < len(models):  # one pass over the rest: still learning this stream, or not answering
        warming = [m["name"] for m in models if m["status"] == "warming_up"]
        bad = [m for m in models if m["status"] not in ("ok", "warming_up")]
        if warming:
            parts.append("Still learning this stream: " + ", ".join(warming) + ".")
        if bad:
            parts.append("Not answering: " + ", ".join([f"{m['name']} ({m['status']})" for m in bad]) + ".")
    how = "the stacking meta-classifier" if decision["combine"]["method"] == "meta" else "the mean of its models"
    parts.append(f"The router trusted the '{decision['router']['arm']}' arm ({how}), giving a combined score of "
                 f"{decision['score']:.3f} with disagreement {decision['disagreement']:.2f}.")
    actions = decision["governor"]["actions"]
    parts.append(f"Governor: action {decision['action']}, severity {decision['severity']}/10"
                 + (f" (by {', '.join([a['rule'] for a in actions])})" if actions else "") + ".")
    return " ".join(parts)
