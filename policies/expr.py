"""A small, safe expression language for rule conditions (Python syntax subset, no eval, no attributes)."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

MAX_LENGTH = 500
MAX_NODES = 120
MAX_POWER = 64
MAX_CONTAINER = 64

_FUNCS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round,
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "float": float, "int": int,
}
_BIN = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
}
_CMP = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class ExpressionError(ValueError):
    """The expression is not in the allowed language, or failed to evaluate."""


Compiled = Callable[[Mapping[str, Any]], Any]


class Expression:
    """A parsed, validated expression; evaluate with a mapping of names to values."""

    def __init__(self, source: str, allowed_names: set[str] | None = None) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("expression must be a non-empty string")
        if len(source) > MAX_LENGTH:
            raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"syntax error: {exc.msg}") from None
        nodes = sum(1 for _ in ast.walk(tree))
        if nodes > MAX_NODES:
            raise ExpressionError(f"expression too complex ({nodes} nodes, max {MAX_NODES})")
        self.source = source
        self.names: set[str] = set()
        self._fn = self._compile(tree.body)
        if allowed_names is not None:
            unknown = self.names - allowed_names
            if unknown:
                raise ExpressionError(f"unknown names {sorted(unknown)}")

    def __call__(self, namespace: Mapping[str, Any]) -> Any:
        try:
            return self._fn(namespace)
        except ExpressionError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, ArithmeticError) as exc:
            raise ExpressionError(f"{type(exc).__name__}: {exc}") from None

    def _compile(self, node: ast.AST) -> Compiled:  # noqa: C901 - one branch per node type
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool, type(None))):
                raise ExpressionError("only numbers, strings, booleans and None are allowed")
            value = node.value
            return lambda ns: value
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                raise ExpressionError("names starting with '_' are not allowed")
            if name in ("True", "False", "None"):
                const = {"True": True, "False": False, "None": None}[name]
                return lambda ns: const
            self.names.add(name)
            return lambda ns: ns.get(name)
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(v) for v in node.values]
            if len(parts) == 2:  # the common case, without a generator: same truth tests, same short-circuit
                a, b = parts
                if isinstance(node.op, ast.And):
                    return lambda ns: bool(a(ns)) and bool(b(ns))
                return lambda ns: bool(a(ns)) or bool(b(ns))
            if isinstance(node.op, ast.And):
                return lambda ns: all(p(ns) for p in parts)
            return lambda ns: any(p(ns) for p in parts)
        if isinstance(node, ast.UnaryOp):
            operand = self._compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda ns: not operand(ns)
            if isinstance(node.op, ast.USub):
                return lambda ns: -_num(operand(ns))
            if isinstance(node.op, ast.UAdd):
                return lambda ns: +_num(operand(ns))
            raise ExpressionError("unsupported unary operator")
        if isinstance(node, ast.BinOp):
            op = _BIN.get(type(node.op))
            if op is None:
                raise ExpressionError(f"operator {type(node.op).__name__} is not allowed")
            left, right = self._compile(node.left), self._compile(node.right)
            if isinstance(node.op, ast.Pow):
                return lambda ns: _safe_pow(left(ns), right(ns))
            return lambda ns: op(_num(left(ns)), _num(right(ns)))
        if isinstance(node, ast.Compare):
            first = self._compile(node.left)
            ops = []
            for cmp_op, comp in zip(node.ops, node.comparators, strict=True):
                fn = _CMP.get(type(cmp_op))
                if fn is None:
                    raise ExpressionError(f"comparison {type(cmp_op).__name__} is not allowed")
                ops.append((fn, self._compile(comp)))
            if len(ops) == 1:
                (op1, right), = ops
                return lambda ns: _compare_one(first(ns), op1, right(ns))
            return lambda ns: _compare(first(ns), ops, ns)
        if isinstance(node, ast.IfExp):
            test, body, orelse = self._compile(node.test), self._compile(node.body), self._compile(node.orelse)
            return lambda ns: body(ns) if test(ns) else orelse(ns)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if len(node.elts) > MAX_CONTAINER:
                raise ExpressionError("literal list too long")
            items = [self._compile(e) for e in node.elts]
            return lambda ns: tuple(i(ns) for i in items)
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
                raise ExpressionError(f"only these functions are allowed: {', '.join(sorted(_FUNCS))}")
            if node.keywords:
                raise ExpressionError("keyword arguments are not allowed")
            fn = _FUNCS[node.func.id]
            args = [self._compile(a) for a in node.args]
            if len(args) == 1:
                (arg,) = args
                return lambda ns: fn(_num(arg(ns)))
            return lambda ns: fn(*(_num(a(ns)) for a in args))
        raise ExpressionError(f"{type(node).__name__} is not allowed in expressions")


def _num(value: Any) -> Any:
    if value is None:
        raise ExpressionError("a value used in arithmetic is missing")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExpressionError(f"expected a number, got {type(value).__name__}")
    return value


def _safe_pow(base: Any, exp: Any) -> Any:
    base, exp = _num(base), _num(exp)
    if abs(exp) > MAX_POWER:
        raise ExpressionError(f"exponent larger than {MAX_POWER}")
    return base**exp


def _compare_one(left: Any, fn: Callable[[Any, Any], bool], right: Any) -> bool:
    """`left op right` for a single comparison: what _compare does for a chain of one."""
    if left is None or right is None:
        return False
    try:
        return bool(fn(left, right))
    except TypeError:
        return False


def _compare(first: Any, ops: list[tuple[Callable[[Any, Any], bool], Compiled]], ns: Mapping[str, Any]) -> bool:
    left = first
    for fn, right_fn in ops:
        right = right_fn(ns)
        if left is None or right is None:
            return False  # a missing value never satisfies a comparison
        try:
            if not fn(left, right):
                return False
        except TypeError:
            return False
        left = right
    return True
