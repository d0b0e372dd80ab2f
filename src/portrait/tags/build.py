"""Tag values for every customer, written to the warehouse table ``tags``.

Statistics rules refer to (``p80(monetary_365d)``) and percentile edges of fact tags are
computed in one aggregate query over the features table, then every tag is one column of a
single ``SELECT``: a rule is ``true``/``false`` (null where an input is unknown), a fact tag
is its bucket's label, a model tag is the segment's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.features import FEATURES
from portrait.tags.catalogue import Tag, catalogue
from portrait.tags.rules import Stat

if TYPE_CHECKING:
    from portrait.workspace import Workspace


def _statistics(features: ir.Table, tags: list[Tag]) -> dict[Stat, float]:
    stats: set[Stat] = set()
    for tag in tags:
        if tag.rule is not None:
            stats |= tag.rule.stats
        for p in tag.percentiles:
            stats.add(Stat(tag.feature or "", p / 100))
    if not stats:
        return {}
    ordered = sorted(stats, key=lambda s: (s.feature, s.quantile or -1))
    exprs = {}
    for i, s in enumerate(ordered):
        col = features[s.feature]
        # counts and sums are 0 for customers who never did the thing; their statistics are
        # taken over those who did, or p50(monetary_365d) would be 0 in most shops
        where = col > 0 if FEATURES[s.feature].default == 0 else None
        value = (
            col.mean(where=where) if s.quantile is None else col.quantile(s.quantile, where=where)
        )
        exprs[f"s{i}"] = value.cast(dt.float64)
    row = features.aggregate(**exprs).to_pyarrow().to_pylist()[0]
    return {s: row[f"s{i}"] for i, s in enumerate(ordered)}


def _bucket(value: ir.NumericValue, edges: list[float], labels: tuple[str, ...]) -> ir.Value:
    cases = [(value < edge, label) for edge, label in zip(edges, labels, strict=False)]
    return ibis.cases(*cases, else_=labels[-1]).name("bucket") if cases else value


def tag_expressions(
    features: ir.Table, tags: list[Tag], stats: dict[Stat, float], missing: set[str]
) -> dict[str, ir.Value]:
    """One expression per tag over the features (and segments) table."""
    out: dict[str, ir.Value] = {}
    for tag in tags:
        if set(tag.reads) & missing and tag.kind != "model":
            out[tag.name] = ibis.null(dt.boolean if tag.kind == "rule" else dt.string)
        elif tag.kind == "rule":
            assert tag.rule is not None
            if any(stats.get(s) is None for s in tag.rule.stats):
                out[tag.name] = ibis.null(dt.boolean)
            else:
                out[tag.name] = tag.rule.compile(features, stats)
        elif tag.kind == "fact":
            value = features[tag.feature]
            if not tag.labels:
                out[tag.name] = value.cast(dt.string)
                continue
            edges = list(tag.edges) or [
                stats[Stat(tag.feature or "", p / 100)] for p in tag.percentiles
            ]
            if any(e is None for e in edges):
                out[tag.name] = ibis.null(dt.string)
            else:
                out[tag.name] = value.isnull().ifelse(
                    ibis.null(dt.string), _bucket(value, edges, tag.labels)
                )
        else:
            out[tag.name] = (
                features[tag.column] if tag.column in features.columns else ibis.null(dt.string)
            )
    return out


@dataclass
class TagSummary:
    """A tag with its coverage (share of customers with a value) and its values."""

    tag: Tag
    coverage: float
    #: (value, customers) most common first; for rule tags, true and false
    values: list[tuple[Any, int]]
    why_empty: str = ""


def build_tags(ws: Workspace, missing: dict[str, str] | None = None) -> int:
    """Compute every tag from ``features`` (and ``segments``) into the table ``tags``."""
    features = ws.table("features")
    existing = set(ws.con.list_tables())
    for name in ("segments", "value"):
        if name in existing:
            features = features.left_join(ws.table(name), "user_id").drop("user_id_right")
    tags = catalogue(ws.config)
    stats = _statistics(features, tags)
    exprs = tag_expressions(features, tags, stats, set(missing or {}))
    ws.replace_table("tags", features.select("user_id", **exprs))
    return ws.count("tags")


def summarise_tags(ws: Workspace, missing: dict[str, str] | None = None) -> list[TagSummary]:
    """Coverage and value distribution of every tag, from the built ``tags`` table."""
    t = ws.table("tags")
    total = ws.count("tags")
    out = []
    for tag in catalogue(ws.config):
        if tag.name not in t.columns:
            continue
        col = t[tag.name]
        dist = (
            t.filter(col.notnull())
            .group_by(value=col)
            .aggregate(n=ibis._.count())
            .order_by([ibis.desc("n"), "value"])
            .to_pyarrow()
            .to_pylist()
        )
        have = sum(r["n"] for r in dist)
        why = ""
        if not have:
            lacking = [f for f in tag.reads if f in (missing or {})]
            why = (missing or {}).get(lacking[0], "") if lacking else "no customer has a value"
        out.append(TagSummary(tag, have / total if total else 0.0,
                              [(r["value"], r["n"]) for r in dist], why))  # fmt: skip
    return out
