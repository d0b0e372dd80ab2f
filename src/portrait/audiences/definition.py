"""Audience definitions: the rule language of tags, over everything known of a customer.

An audience (人群) is a condition in the language of rule tags (:mod:`portrait.tags.rules`)::

    rfm_segment in ("At Risk", "Can't Lose") and days_since_last_order between 30 and 120
        and category_share("Kitchen") > 0.3

Its names are the columns of one row per customer (:func:`audience_base`): every feature,
every tag (rule tags are true/false and can stand alone: ``high_value and not
cart_abandoner``), the value models' scores (``clv``, ``churn_probability``, ``p_alive`` ...),
the RFM scores and cluster number, and the customer's profile (``gender``, ``age``, ``city``,
``province``, ``country``, ``member_level``, ``signup_channel``). ``category_share('X')`` is the
share of a customer's spend (completed purchases before the as-of date) in top-level
category X, 0 for a customer who bought nothing there. A few operators' words are synonyms
(:data:`SYNONYMS`), and an unknown name gets "did you mean".

A definition may also be JSON (:func:`from_json`): ``{"all": [...]}``, ``{"any": [...]}``,
``{"not": {...}}`` and conditions ``{"field": "recency_days", "op": "between", "value": [30,
120]}`` or ``{"call": "category_share", "arg": "Kitchen", "op": ">", "value": 0.3}``; it is
turned into the same text, so there is one compiler and one set of checks.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt

from portrait import history
from portrait.asof import AsOf
from portrait.engine import Engine
from portrait.errors import ConfigError, NotBuiltError
from portrait.features import FEATURES
from portrait.runs import last_run
from portrait.tags.rules import Rule, RuleError, Stat, call_column, parse_rule

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

__all__ = [
    "FUNCTIONS",
    "SYNONYMS",
    "Compiled",
    "audience_base",
    "base_types",
    "built_as_of",
    "compile_definition",
    "from_json",
]

#: the one-string functions an audience may call
FUNCTIONS = frozenset({"category_share"})
#: words operators use for a column of another name
SYNONYMS: dict[str, str] = {
    "days_since_last_order": "recency_days",
    "days_since_last_purchase": "recency_days",
    "orders": "frequency",
    "total_spend": "monetary",
    "spend_365d": "monetary_365d",
}
#: profile columns from ``users`` (the signup channel renamed, so it is not the order channel)
_PROFILE = ("gender", "city", "province", "country", "member_level")


def built_as_of(ws: Workspace) -> date:
    """The as-of date of the last build (its features); :class:`NotBuiltError` without one."""
    run = last_run(ws, "features")
    if run is None or run.as_of is None or not ws.has_table("features"):
        raise NotBuiltError(
            f"The workspace has no features yet; run `portrait build -w {ws.path}` first."
        )
    return run.as_of.date()


def audience_base(ws: Workspace) -> ir.Table:
    """One row per customer with every name a definition may use (see the module)."""
    ws.require("features", "tags")
    as_of = built_as_of(ws)
    base = ws.table("features")
    tags = ws.table("tags")
    shared = [c for c in tags.columns if c in base.columns and c != "user_id"]
    base = base.left_join(tags.drop(*shared), "user_id").drop("user_id_right")
    if ws.has_table("value"):
        v = ws.table("value")
        numeric = [c for c in v.columns if c not in base.columns and v[c].type().is_numeric()]
        keep = ["user_id", *numeric]
        base = base.left_join(v.select(*keep), "user_id").drop("user_id_right")
    if ws.has_table("segments"):
        s = ws.table("segments")
        base = base.left_join(
            s.select("user_id", "r_score", "f_score", "m_score", cluster_id=s.cluster), "user_id"
        ).drop("user_id_right")
    users = history.tables(ws.con)["users"]
    profile = users.select(
        "user_id", *_PROFILE, signup_channel=users.channel,
        age=(ibis.literal(as_of.year) - users.birth_year).cast(dt.int64),
    )  # fmt: skip
    return base.left_join(profile, "user_id").drop("user_id_right")


def base_types(base: ir.Table) -> dict[str, str]:
    """Each name of ``base`` as the rule checker types it: number, string or boolean."""
    out: dict[str, str] = {}
    for name, kind in base.schema().items():
        if name == "user_id" or name.startswith("__"):
            continue
        out[name] = "boolean" if kind.is_boolean() else "number" if kind.is_numeric() else "string"
    for word, name in SYNONYMS.items():
        if name in out:
            out[word] = out[name]
    return out


def _category_shares(ws: Workspace, categories: list[str]) -> ir.Table:
    """Per customer, the share of spend in each of ``categories`` (top level)."""
    tables = history.tables(ws.con)
    ctx = AsOf(built_as_of(ws), ws.config.shop.timezone, engine=Engine.of(ws.con))
    lines = history.lines(tables, ctx, history.probe(tables))
    total = lines.amount.sum()
    return lines.group_by("user_id").aggregate(
        **{
            call_column("category_share", c): (
                lines.amount.sum(where=lines.category == c).fill_null(0) / total.nullif(0)
            ).fill_null(0)
            for c in categories
        }
    )


class Compiled:
    """A checked definition and its members: ``members`` is an Ibis table of ``user_id``."""

    def __init__(self, rule: Rule, base: ir.Table, condition: ir.BooleanValue) -> None:
        self.rule = rule
        self.base = base
        self.condition = condition

    @property
    def members(self) -> ir.Table:
        return self.base.filter(self.condition.fill_null(False)).select("user_id")

    def sql(self) -> str:
        """The members query as SQL (what an operator can check or reuse)."""
        return str(ibis.to_sql(self.members))


def compile_definition(ws: Workspace, text: str, *, name: str = "audience") -> Compiled:
    """Check ``text`` against this shop's names and compile it to a members query.

    Raises :class:`RuleError` (a ConfigError, exit code 2) with the position and a "did you
    mean" for an unknown name, and :class:`NotBuiltError` before the first build.
    """
    base = audience_base(ws)
    types = base_types(base)
    rule = parse_rule(name, text, types, functions=FUNCTIONS, subject="audience")
    renamed = {w: base[n] for w, n in SYNONYMS.items() if w in rule.features and n in base.columns}
    if renamed:
        base = base.mutate(**renamed)
    if rule.calls:
        unknown = {fn for fn, _ in rule.calls} - FUNCTIONS
        if unknown:  # pragma: no cover - parse_rule only allows FUNCTIONS
            raise RuleError(f"audience {name!r}: unknown function {sorted(unknown)[0]!r}.")
        shares = _category_shares(ws, sorted({arg for _, arg in rule.calls}))
        base = base.left_join(shares, "user_id").drop("user_id_right")
        base = base.mutate(
            **{call_column(fn, arg): base[call_column(fn, arg)].fill_null(0.0)
               for fn, arg in rule.calls}
        )  # fmt: skip
    stats = _statistics(base, rule)
    return Compiled(rule, base, rule.compile(base, stats))


def _statistics(base: ir.Table, rule: Rule) -> dict[Stat, float]:
    """Shop-wide percentiles and means the definition names, over customers with a value
    (above zero for counts and sums, as rule tags do: a feature that is 0 for a customer
    who never did the thing)."""
    if not rule.stats:
        return {}
    ordered = sorted(rule.stats, key=lambda s: (s.feature, s.quantile or -1))
    exprs = {}
    for i, s in enumerate(ordered):
        name = SYNONYMS.get(s.feature, s.feature)
        col = base[name]
        where = col > 0 if name in FEATURES and FEATURES[name].default == 0 else None
        if s.quantile is None:
            value = col.mean(where=where)
        else:
            value = col.quantile(s.quantile, where=where)
        exprs[f"s{i}"] = value.cast(dt.float64)
    row = base.aggregate(**exprs).to_pyarrow().to_pylist()[0]
    missing = [s for i, s in enumerate(ordered) if row[f"s{i}"] is None]
    if missing:
        raise ConfigError(
            f"{missing[0].feature} has no values (above zero, for a count or a sum) in this "
            "shop, so its statistics are unknown; compare it with a number instead."
        )
    return {s: float(row[f"s{i}"]) for i, s in enumerate(ordered)}


# -- JSON -------------------------------------------------------------------------------------
_OPS = {"==", "!=", "<", "<=", ">", ">=", "in", "not in", "between", "is null", "is not null"}


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"{value!r} is not a number, a string or true/false; use one of those.")


def from_json(definition: Any) -> str:
    """The rule text of a JSON definition (a dict, or its JSON text); :class:`ConfigError`
    for a node it does not know, naming it."""
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"The definition is not JSON ({exc.msg} at {exc.pos}).") from None
    if not isinstance(definition, dict):
        raise ConfigError('A JSON definition is an object such as {"all": [...]}.')
    if "all" in definition or "any" in definition:
        word, key = ("and", "all") if "all" in definition else ("or", "any")
        parts = definition[key]
        if not isinstance(parts, list) or not parts:
            raise ConfigError(f'"{key}" takes a non-empty list of conditions.')
        return "(" + f" {word} ".join(from_json(p) for p in parts) + ")"
    if "not" in definition:
        return f"not ({from_json(definition['not'])})"
    op = definition.get("op")
    if op not in _OPS:
        raise ConfigError(f"op {op!r} is not one of {', '.join(sorted(_OPS))}.")
    if "call" in definition:
        left = f"{definition['call']}({_literal(definition.get('arg'))})"
    elif isinstance(definition.get("field"), str):
        left = definition["field"]
    else:
        raise ConfigError('A condition names a "field" (or a "call" with its "arg").')
    value = definition.get("value")
    if op in ("is null", "is not null"):
        return f"{left} {op}"
    if op == "between":
        if not (isinstance(value, list) and len(value) == 2):
            raise ConfigError('"between" takes a value of two numbers, [low, high].')
        return f"({_literal(value[0])} <= {left} <= {_literal(value[1])})"
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise ConfigError(f'"{op}" takes a non-empty list of values.')
        return f"{left} {op} [{', '.join(_literal(v) for v in value)}]"
    return f"{left} {op} {_literal(value)}"
