"""The governor's deterministic checks on LLM output: each kind of bad answer is caught, good ones pass."""

from __future__ import annotations

import json

import pytest

from policies.llm_checks import Facts, check_narration, check_verdict, effect_of, stated_numbers, supported

FACTS = Facts(action="critical", hard_floor="critical", ran=frozenset({"cusum", "xgb_stack"}),
              lineup=frozenset({"cusum", "lstm_forecaster", "prophet", "xgb_stack"}),
              known_models=frozenset({"cusum", "lstm_forecaster", "prophet", "xgb_stack", "random_forest", "lof"}),
              numbers=(0.979, -0.021, 0.021, 0.286476, 0.89042, 9.0, 0.02, 12.0),
              pseudonyms=frozenset({"STREAM_1", "TOKEN_1"}))
ALERT = Facts(**{**FACTS.__dict__, "action": "alert", "hard_floor": "none"})


def verdict(**kw: object) -> str:
    base = {"verdict": "confirm", "confidence": 0.8, "trusted_models": ["cusum"],
            "rationale": "STREAM_1 is 2.1% below its peg at 0.979, so the hard rule holds.", "requested_action": None}
    return json.dumps({**base, **kw})


def narration(**kw: object) -> str:
    base = {"text": "STREAM_1 traded at 0.979, 2.1% off its peg; cusum scored 0.89. Severity 9/10: critical.",
            "cited_models": ["cusum"], "stated_action": "critical"}
    return json.dumps({**base, **kw})


def failed(checks: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {c.name: c.detail for c in checks if not c.ok}


def test_good_answers_pass() -> None:
    v, checks = check_verdict(verdict(), FACTS)
    assert v is not None and not failed(checks)
    n, checks = check_narration(narration(), FACTS)
    assert n is not None and not failed(checks)
    assert {c.name for c in checks} == {"schema", "cites_only_models_that_ran", "numbers_match_evidence",
                                        "entities_known", "action_reported"}


def test_numbers_round_and_percent_forms_match_within_tolerance() -> None:
    ok = ["0.979", "0.98", "2.1%", "2.10 percent", "0.29", "29%", "9", "0.021", "-0.021", "12"]
    for token in ok:
        [s] = stated_numbers(token)
        assert supported(s, FACTS.numbers), token
    for token in ["0.31337", "3.5%", "0.9790001", "0.6"]:
        [s] = stated_numbers(token)
        assert not supported(s, FACTS.numbers), token
    assert stated_numbers("on 2023-03-11T07:00:00Z at 07:00 TOKEN_1 v2") == []


def test_a_hallucinated_number_is_caught() -> None:
    _, checks = check_narration(narration(text="STREAM_1 fell to 0.31337, critical."), FACTS)
    assert "0.31337" in failed(checks)["numbers_match_evidence"]
    _, checks = check_verdict(verdict(rationale="A 7.5% drop."), FACTS)
    assert "7.5%" in failed(checks)["numbers_match_evidence"]


def test_citing_a_model_that_did_not_run_is_caught() -> None:
    _, checks = check_verdict(verdict(trusted_models=["cusum", "lstm_forecaster"]), FACTS)
    assert "lstm_forecaster (did not run)" in failed(checks)["cites_only_models_that_ran"]
    _, checks = check_narration(narration(cited_models=["gpt_detector"]), FACTS)
    assert "not a model of this decision" in failed(checks)["cites_only_models_that_ran"]
    _, checks = check_narration(narration(text="The random forest agrees: critical."), FACTS)
    assert "random_forest" in failed(checks)["cites_only_models_that_ran"]
    # Saying that a model of the decision did not answer is fine; relying on it is not.
    _, checks = check_narration(narration(text="The lstm_forecaster is still warming up; critical."), FACTS)
    assert not failed(checks)


def test_lowering_a_hard_rule_action_is_caught() -> None:
    _, checks = check_verdict(verdict(verdict="likely_false_positive", requested_action="watch"), FACTS)
    bad = failed(checks)
    assert "below the hard-rule action 'critical'" in bad["hard_floor"] and "never suppress" in bad["allowed_step"]
    _, checks = check_narration(narration(stated_action="none"), FACTS)
    assert "governor's action is 'critical'" in failed(checks)["action_reported"]


@pytest.mark.parametrize(("kw", "ok"), [
    ({"verdict": "escalate_review", "requested_action": "review"}, True),
    ({"verdict": "escalate_review", "requested_action": None}, True),
    ({"verdict": "likely_false_positive", "requested_action": None}, True),
    ({"verdict": "likely_false_positive", "requested_action": "none"}, False),
    ({"verdict": "confirm", "requested_action": "critical"}, False),
    ({"verdict": "escalate_review", "requested_action": "critical"}, False),
])
def test_the_allowed_step_on_an_alert(kw: dict, ok: bool) -> None:  # type: ignore[type-arg]
    _, checks = check_verdict(verdict(**kw), ALERT)
    assert (not failed(checks)) is ok, failed(checks)


def test_accepted_verdicts_only_annotate_or_ask_for_review() -> None:
    effects = {}
    for kind, requested in (("confirm", None), ("escalate_review", "review"), ("likely_false_positive", None)):
        v, checks = check_verdict(verdict(verdict=kind, requested_action=requested), ALERT)
        assert v is not None and not failed(checks)
        effects[kind] = effect_of(v)
    assert effects == {"confirm": "none", "escalate_review": "escalate_review",
                       "likely_false_positive": "annotate_false_positive"}


def test_escalating_a_critical_to_review_would_lower_it() -> None:
    _, checks = check_verdict(verdict(verdict="escalate_review", requested_action="review"), FACTS)
    assert "allowed_step" in failed(checks)


@pytest.mark.parametrize("raw", ["{not json", '{"verdict": "suppress", "confidence": 0.9, "trusted_models": [], '
                                 '"rationale": "x"}', "[]", ""])
def test_malformed_output_fails_the_schema_check(raw: str) -> None:
    v, checks = check_verdict(raw, FACTS)
    assert v is None and [c.name for c in checks] == ["schema"] and not checks[0].ok


def test_fenced_json_still_parses_and_unknown_entities_are_caught() -> None:
    v, _ = check_verdict("```json\n" + verdict() + "\n```", FACTS)
    assert v is not None
    _, checks = check_narration(narration(text="TOKEN_7 is critical."), FACTS)
    assert "TOKEN_7" in failed(checks)["entities_known"]
