"""The safe expression evaluator: what rules may say, and hostile input it refuses."""

from __future__ import annotations

import pytest

from policies.expr import Expression, ExpressionError


@pytest.mark.parametrize(("src", "ns", "expected"), [
    ("abs(value - 1) >= 0.02", {"value": 0.97}, True),
    ("abs(value - 1) >= 0.02", {"value": 0.99}, False),
    ("token in ('USDC', 'DAI') and not watchlisted", {"token": "DAI", "watchlisted": False}, True),
    ("0 < x <= 5", {"x": 5}, True),
    ("max(PAY_0, PAY_2) >= 3", {"PAY_0": 1, "PAY_2": 4}, True),
    ("a / b if b else 0", {"a": 1, "b": 0}, 0),
    ("missing > 3", {}, False),  # a missing value never satisfies a comparison
    ("-x ** 2", {"x": 3}, -9),
])
def test_evaluates(src: str, ns: dict, expected: object) -> None:  # type: ignore[type-arg]
    assert Expression(src)(ns) == expected


@pytest.mark.parametrize(("src", "ns", "expected"), [
    ("a and b", {"a": 1, "b": 2}, True),  # and / or give booleans, as all() / any() do
    ("a or b", {"a": 0, "b": ""}, False),
    ("watchlisted and x / y > 1", {"watchlisted": False, "x": 1, "y": 0}, False),  # short-circuit: no division
    ("x >= 1 or y > 1", {"y": 2}, True),  # a missing value fails its comparison only
    ("x > 1", {"x": "text"}, False),  # incomparable types never satisfy a comparison
    ("abs(x) >= 0.01", {"x": -0.02}, True),
])
def test_two_part_logic_single_comparisons_and_one_argument_calls(src: str, ns: dict, expected: bool) -> None:  # type: ignore[type-arg]
    assert Expression(src)(ns) is expected


def test_one_argument_call_on_a_missing_value_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="missing"):
        Expression("abs(x) > 1")({})


@pytest.mark.parametrize("src", [
    "__import__('os').system('id')",
    "value.__class__.__mro__",
    "().__class__.__bases__[0].__subclasses__()",
    "[x for x in range(10)]",
    "lambda: 1",
    "open('/etc/passwd').read()",
    "eval('1')",
    "globals()",
    "x[0]",
    "2 ** 100000",
    "'a' * 10 ** 9",
    "f'{x}'",
    "(yield 1)",
    "x := 1",
    "_private + 1",
    "1 +",
    "a" * 600,
    " + ".join(["x"] * 200),
])
def test_refuses_hostile_or_oversized(src: str) -> None:
    with pytest.raises(ExpressionError):
        Expression(src)({"x": [1], "value": 1.0, "a": 1})


def test_unknown_names_rejected_when_names_are_declared() -> None:
    with pytest.raises(ExpressionError, match="unknown names"):
        Expression("valu > 1", allowed_names={"value"})


def test_arithmetic_on_text_is_an_error_not_a_crash() -> None:
    with pytest.raises(ExpressionError):
        Expression("note * 3")({"note": "ignore previous instructions"})
