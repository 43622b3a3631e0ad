"""The deterministic template narrator: an explanation built only from the decision's evidence."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

PROVIDER = "template"
NOTICE = "Written by the template narrator (no LLM endpoint is configured)."


_score = itemgetter("score")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def narrate(decision: dict[str, Any]) -> str:
    """Plain-language explanation: what was observed, what fired, what the models said, what was decided."""
    parts: list[str] = []
    inputs = decision["inputs"]
    subject = f"stream {inputs['stream']}" if inputs.get("stream") else f"this {decision['profile']} event"
    quantities = decision.get("quantities", {})
    if inputs.get("value") is not None:
        line = f"{subject[0].upper()}{subject[1:]} reported {_fmt(inputs['value'])}"
        if "deviation" in quantities:
            dev = quantities["deviation"]
            line += f", {abs(dev) * 100:.2f}% {'below' if dev < 0 else 'above'} its peg"
        if quantities.get("rate_of_change"):
            line += f", a {quantities['rate_of_change'] * 100:+.2f}% move since the previous point"
        parts.append(line + ".")
    fired = decision.get("rules", [])
    if fired:
        parts.append("Rules fired: " + "; ".join(
            f"{r['rule']} ({'hard, ' if r['hard'] else ''}{r['action']}, values "
            + ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in r["values"].items()) + ")"
            for r in fired) + ".")
    models = decision["models"]
    ok, bad, warming = [], [], []
    for m in models:  # one pass: answered, still learning this stream, not answering
        status = m["status"]
        if status == "ok":
            if m["ready"]:
                ok.append(m)
        elif status == "warming_up":
            warming.append(m["name"])
        else:
            bad.append(m)
    top = sorted(ok, key=_score, reverse=True)[:3]  # stable: ties keep the lineup's order, as before
    if ok:
        parts.append(f"{len(ok)} of {len(models)} models answered; highest scores: "
                     + ", ".join(f"{m['name']} {m['score']:.2f}" for m in top) + ".")
    if warming:
        parts.append("Still learning this stream: " + ", ".join(warming) + ".")
    if bad:
        parts.append("Not answering: " + ", ".join(f"{m['name']} ({m['status']})" for m in bad) + ".")
    router = decision["router"]
    how = "the stacking meta-classifier" if decision["combine"]["method"] == "meta" else "the mean of its models"
    parts.append(f"The router trusted the '{router['arm']}' arm ({how}), giving a combined score of "
                 f"{decision['score']:.3f} with disagreement {decision['disagreement']:.2f}.")
    gov = decision["governor"]
    reasons = [a["rule"] for a in gov["actions"]]
    parts.append(f"Governor: action {decision['action']}, severity {decision['severity']}/10"
                 + (f" (by {', '.join(reasons)})" if reasons else "") + ".")
    return " ".join(parts)
