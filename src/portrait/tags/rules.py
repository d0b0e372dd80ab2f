"""The rule-tag language: conditions over features, checked at load and compiled to Ibis.

A rule reads like the conditions operators write in tag platforms::

    monetary_365d >= p80(monetary_365d) and orders_90d >= 2
    top_category in ["Beauty", "Baby"] and not cancel_rate > 0.3
    recency_days is null

Features are named as in ``portrait tags``; numbers, 'strings', ``true``/``false``; ``and``,
``or``, ``not``; comparisons ``== != < <= > >=``, ``in [...]``, ``is null``/``is not null``;
arithmetic ``+ - * /``; ``x between a and b`` (both ends included); and shop-wide statistics
of a feature: ``p1(f)`` .. ``p99(f)`` (percentiles), ``median(f)`` and ``mean(f)``, computed
over customers with a value (for counts and sums, over customers with a value above zero).
Names may also be true/false columns (another tag), used as conditions. A caller may allow
functions of one string, such as audiences' ``category_share('Kitchen')``: each call is a
number column the caller provides (:func:`call_column`).

The grammar is Python's expression grammar, parsed with :mod:`ast` and restricted to the
node types above: a parser that already exists and reports positions, rather than a new one
to get wrong. Every mistake names the tag, the position and the fix, when the configuration
is loaded, before any data is read.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir

from portrait.errors import ConfigError

Type = Literal["number", "string", "boolean", "null", "list"]
_STAT = re.compile(r"^(p(?P<q>[1-9]\d?)|median|mean)$")
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_NULLS = {"null", "None"}
_BOOLS = {"true": True, "false": False, "True": True, "False": False}


class RuleError(ConfigError):
    """A rule tag that cannot be compiled: names the tag, the position and the fix."""


@dataclass(frozen=True)
class Stat:
    """A shop-wide statistic a rule needs: ``p80(monetary_365d)`` is ("monetary_365d", 0.8)."""

    feature: str
    quantile: float | None  # None: the mean


@dataclass(frozen=True)
class Rule:
    """A checked rule: its text, the features and statistics it reads, and its compiler."""

    tag: str
    text: str
    features: frozenset[str]
    stats: frozenset[Stat]
    _tree: ast.expr
    #: (function, argument) of each allowed one-string call, e.g. ("category_share", "Kitchen")
    calls: frozenset[tuple[str, str]] = frozenset()

    def compile(self, table: ir.Table, stats: Mapping[Stat, float]) -> ir.BooleanValue:
        """The rule as a boolean Ibis expression over a features table."""
        return _Compiler(table, stats).visit(self._tree)


def call_column(function: str, argument: str) -> str:
    """The column that holds ``function(argument)`` for :meth:`Rule.compile`."""
    return f"__{function}__{hashlib.md5(argument.encode()).hexdigest()[:12]}"


_BETWEEN = re.compile(
    r"(?P<x>[A-Za-z_][\w]*(?:\([^()]*\))?)\s+between\s+(?P<a>-?[\w.]+)\s+and\s+(?P<b>-?[\w.]+)"
)


def parse_rule(
    tag: str,
    text: str,
    feature_types: Mapping[str, str],
    *,
    functions: frozenset[str] = frozenset(),
    subject: str = "tag",
) -> Rule:
    """Parse and type-check ``text``; raise :class:`RuleError` naming ``tag`` and the position.

    ``feature_types`` maps each name to "number", "string" or "boolean"; ``functions`` are
    the one-string functions allowed (numbers); ``subject`` is what errors call the rule's
    owner ("tag", "audience").
    """
    source = _BETWEEN.sub(lambda m: f"({m['a']} <= {m['x']} <= {m['b']})", text.strip())
    if not source:
        raise RuleError(
            f"{subject} {tag!r}: the rule is empty; write a condition such as 'orders_90d >= 2'."
        )
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        pos = exc.offset or 1
        hint = _syntax_hint(source, pos)
        raise RuleError(
            f"{subject} {tag!r}, position {pos} of {source!r}: syntax error ({exc.msg}){hint}."
        ) from None
    checker = _Checker(tag, source, feature_types, functions, subject)
    kind = checker.visit(tree)
    if kind != "boolean":
        raise RuleError(
            f"{subject} {tag!r}, position 1 of {source!r}: the rule is a {kind}, not a "
            f"condition; compare it, e.g. '{source} > 0'."
        )
    return Rule(tag, source, frozenset(checker.features), frozenset(checker.stats), tree,
                frozenset(checker.calls))  # fmt: skip


def _syntax_hint(source: str, pos: int) -> str:
    if re.search(r"(?<![=!<>])=(?!=)", source):
        return "; compare with '==', not '='"
    if re.search(r"\b(AND|OR|NOT|&&|\|\|)\b|&&|\|\|", source):
        return "; write 'and', 'or', 'not' in lower case"
    return "; check the brackets and quotes near there"


class _Checker:
    """Walks the tree once: only allowed nodes, known features, matching types."""

    def __init__(
        self, tag: str, source: str, feature_types: Mapping[str, str],
        functions: frozenset[str] = frozenset(), subject: str = "tag",
    ) -> None:  # fmt: skip
        self.tag, self.source, self.types = tag, source, feature_types
        self.functions, self.subject = functions, subject
        self.features: set[str] = set()
        self.stats: set[Stat] = set()
        self.calls: set[tuple[str, str]] = set()

    def fail(self, node: ast.AST, problem: str) -> RuleError:
        pos = getattr(node, "col_offset", 0) + 1
        return RuleError(
            f"{self.subject} {self.tag!r}, position {pos} of {self.source!r}: {problem}."
        )

    def visit(self, node: ast.AST) -> Type:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            snippet = ast.get_source_segment(self.source, node) or type(node).__name__
            raise self.fail(node, f"{snippet!r} is not allowed in a rule (see docs/tags.md)")
        return cast(Type, method(node))

    def visit_Name(self, node: ast.Name) -> Type:
        if node.id in _NULLS:
            return "null"
        if node.id in _BOOLS:
            return "boolean"
        if node.id not in self.types:
            close = difflib.get_close_matches(node.id, list(self.types), n=1)
            hint = (
                f" (did you mean {close[0]!r}?)"
                if close
                else " (`portrait tags --features` lists them)"
            )
            what = "feature" if self.subject == "tag" else "name"
            raise self.fail(node, f"unknown {what} {node.id!r}{hint}")
        self.features.add(node.id)
        kind = self.types[node.id]
        return "string" if kind == "string" else "boolean" if kind == "boolean" else "number"

    def visit_Constant(self, node: ast.Constant) -> Type:
        if isinstance(node.value, bool):
            return "boolean"
        if isinstance(node.value, int | float):
            return "number"
        if isinstance(node.value, str):
            return "string"
        raise self.fail(node, f"{node.value!r} is not a number or a string")

    def visit_List(self, node: ast.List | ast.Tuple) -> Type:
        kinds = {self.visit(e) for e in node.elts}
        if not node.elts or len(kinds) > 1 or not kinds <= {"number", "string"}:
            raise self.fail(node, "a list must hold numbers or strings, all of one kind")
        for e in node.elts:
            if not isinstance(e, ast.Constant):
                raise self.fail(e, "a list holds plain values only")
        return "list"

    visit_Tuple = visit_List

    def visit_Call(self, node: ast.Call) -> Type:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name in self.functions:
            arg0 = node.args[0] if len(node.args) == 1 and not node.keywords else None
            if not (isinstance(arg0, ast.Constant) and isinstance(arg0.value, str)):
                raise self.fail(node, f"{name}() takes one quoted name, e.g. {name}('Kitchen')")
            self.calls.add((name, arg0.value))
            return "number"
        match = _STAT.match(name)
        if not match or len(node.args) != 1 or node.keywords:
            allowed = "".join(f", {f}('name')" for f in sorted(self.functions))
            raise self.fail(
                node,
                "the only functions are p1(f)..p99(f), median(f) and mean(f) of one feature"
                + allowed,
            )
        arg = node.args[0]
        if not isinstance(arg, ast.Name) or self.visit(arg) != "number":
            raise self.fail(arg, f"{name}() takes one numeric feature")
        q = match.group("q")
        quantile = int(q) / 100 if q else (0.5 if name == "median" else None)
        self.stats.add(Stat(arg.id, quantile))
        return "number"

    def visit_BinOp(self, node: ast.BinOp) -> Type:
        if not isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
            raise self.fail(node, "only + - * / are allowed in arithmetic")
        for side in (node.left, node.right):
            if self.visit(side) != "number":
                raise self.fail(side, "type mismatch: arithmetic needs numbers")
        return "number"

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Type:
        kind = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            if kind != "boolean":
                raise self.fail(node, "type mismatch: 'not' needs a condition")
            return "boolean"
        if isinstance(node.op, ast.USub) and kind == "number":
            return "number"
        raise self.fail(node, "type mismatch: a sign needs a number")

    def visit_BoolOp(self, node: ast.BoolOp) -> Type:
        for value in node.values:
            if self.visit(value) != "boolean":
                word = "and" if isinstance(node.op, ast.And) else "or"
                raise self.fail(value, f"type mismatch: '{word}' joins conditions, not values")
        return "boolean"

    def visit_Compare(self, node: ast.Compare) -> Type:
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if isinstance(op, ast.Is | ast.IsNot):
                if right != "null":
                    raise self.fail(right_node, "'is' and 'is not' compare with null only")
            elif isinstance(op, ast.In | ast.NotIn):
                elts = right_node.elts if isinstance(right_node, ast.List | ast.Tuple) else []
                if right != "list" or self.visit(elts[0]) != left:
                    raise self.fail(right_node, f"type mismatch: 'in' needs a list of {left}s")
            elif right == "null" or left == "null":
                raise self.fail(right_node, "compare with null using 'is null' or 'is not null'")
            elif left != right or left not in ("number", "string", "boolean"):
                raise self.fail(
                    right_node,
                    f"type mismatch: {_CMP.get(type(op), '?')} compares a {left} with a {right}",
                )
            elif left in ("string", "boolean") and not isinstance(op, ast.Eq | ast.NotEq):
                raise self.fail(right_node, f"{left}s compare with == and != only")
            left = right
        return "boolean"


class _Compiler:
    """Turns a checked tree into an Ibis expression; statistics arrive as numbers."""

    def __init__(self, table: ir.Table, stats: Mapping[Stat, float]) -> None:
        self.t, self.stats = table, stats

    def visit(self, node: ast.AST) -> Any:
        return getattr(self, f"visit_{type(node).__name__}")(node)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in _NULLS:
            return None
        if node.id in _BOOLS:
            return ibis.literal(_BOOLS[node.id])
        return self.t[node.id]

    def visit_Constant(self, node: ast.Constant) -> Any:
        return ibis.literal(node.value)

    def visit_List(self, node: ast.List | ast.Tuple) -> list[Any]:
        return [e.value for e in node.elts if isinstance(e, ast.Constant)]

    visit_Tuple = visit_List

    def visit_Call(self, node: ast.Call) -> Any:
        name = node.func.id  # type: ignore[attr-defined]
        arg0 = node.args[0]
        if isinstance(arg0, ast.Constant) and isinstance(arg0.value, str):
            return self.t[call_column(name, arg0.value)]
        match = _STAT.match(name)
        assert match is not None
        q = match.group("q")
        quantile = int(q) / 100 if q else (0.5 if name == "median" else None)
        return ibis.literal(float(self.stats[Stat(node.args[0].id, quantile)]))  # type: ignore[attr-defined]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        ops: dict[type, Callable[[Any, Any], Any]] = {
            ast.Add: lambda a, b: a + b,
            ast.Sub: lambda a, b: a - b,
            ast.Mult: lambda a, b: a * b,
            ast.Div: lambda a, b: a / b,
        }
        return ops[type(node.op)](left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        value = self.visit(node.operand)
        return ~value if isinstance(node.op, ast.Not) else -value

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        values = [self.visit(v) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out

    def visit_Compare(self, node: ast.Compare) -> Any:
        result = None
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.visit(right_node)
            if isinstance(op, ast.Is):
                term = left.isnull()
            elif isinstance(op, ast.IsNot):
                term = left.notnull()
            elif isinstance(op, ast.In):
                term = left.isin(right)
            elif isinstance(op, ast.NotIn):
                term = left.notin(right)
            else:
                term = {
                    ast.Eq: left == right, ast.NotEq: left != right, ast.Lt: left < right,
                    ast.LtE: left <= right, ast.Gt: left > right, ast.GtE: left >= right,
                }[type(op)]  # fmt: skip
            result = term if result is None else result & term
            left = right
        return result
