"""Tag values for every customer, written to the warehouse table ``tags``.

Statistics rules refer to (``p80(monetary_365d)``) and percentile edges of fact tags are
computed in one aggregate query over the features table, then every tag is one column of a
single ``SELECT``: a rule is ``true``/``false`` (null where an input is unknown), a fact tag
is its bucket's label, a model tag is the segment's name.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from portrait.facts import Fact, Note
from portrait.features import FEATURES, feature_gaps
from portrait.labels import Label, label
from portrait.stages import Stage, StageParams, StageResult
from portrait.tags.catalogue import TEXT_CONCERNS, Tag, catalogue
from portrait.tags.rules import Stat

if TYPE_CHECKING:
    from portrait.workspace import Workspace


def _over(features: ir.Table, feature: str) -> ir.BooleanValue | None:
    """Which customers a statistic of ``feature`` is taken over: counts and sums are 0 for
    customers who never did the thing, so theirs are taken over those who did, or
    p50(monetary_365d) would be 0 in most shops."""
    col = features[feature]
    return col > 0 if FEATURES[feature].default == 0 else None


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
        col, where = features[s.feature], _over(features, s.feature)
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


def build_tags(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The tags stage: every tag from ``features`` (and ``segments``, ``value``,
    ``user_text``) into ``tags``; a tag whose features the shop's data lacks is null.

    It runs on the build's engine: on Spark the tables are read and ``tags`` written by
    Spark, and only the statistics' one row comes to the driver."""
    features = ws.output("features", params.engine)
    for name in ("segments", "value", "user_text"):
        if ws.has_table(name):
            other = ws.output(name, params.engine)
            if name == "user_text":  # only its marks: "reviews" is no tag
                other = other.select("user_id", *TEXT_CONCERNS)
            features = features.left_join(other, "user_id").drop("user_id_right")
    tags = catalogue(ws.config)
    stats = _statistics(features, tags)
    exprs = tag_expressions(features, tags, stats, set(feature_gaps(ws)))
    ws.replace_table("tags", features.select("user_id", **exprs))
    notes = rules_true_at_minimum(features, ws.output("tags", params.engine), tags, stats)
    return StageResult(rows=ws.count("tags"), notes=notes)


def _stat_text(s: Stat) -> str:
    assert s.quantile is not None
    return f"p{s.quantile * 100:g}({s.feature})"


def rules_true_at_minimum(
    features: ir.Table, built: ir.Table, tags: list[Tag], stats: dict[Stat, float]
) -> list[Note]:
    """A note for each rule tag whose percentile threshold is the lowest value there is:
    ``basket_size >= p90(basket_size)`` on a shop where nine customers in ten buy one item a
    time is true for everyone, which is rarely what the rule meant."""
    candidates = [(tag, s) for tag in tags if tag.rule is not None and tag.name in built.columns
                  for s in sorted(tag.rule.stats, key=lambda s: (s.feature, s.quantile or -1))
                  if s.quantile is not None and stats.get(s) is not None]  # fmt: skip
    if not candidates:
        return []
    names = sorted({s.feature for _, s in candidates})
    lowest = features.aggregate(**{
        f"m{i}": features[n].min(where=_over(features, n)).cast(dt.float64)
        for i, n in enumerate(names)
    }).to_pyarrow().to_pylist()[0]  # fmt: skip
    at_minimum = [(tag, s) for tag, s in candidates
                  if lowest[f"m{names.index(s.feature)}"] == stats[s]]  # fmt: skip
    if not at_minimum:
        return []
    share = built.aggregate(**{
        f"t{i}": built[tag.name].cast(dt.float64).mean() for i, (tag, _) in enumerate(at_minimum)
    }).to_pyarrow().to_pylist()[0]  # fmt: skip
    return [
        Note.of("rule_true_for_all", tag=tag.name, statistic=_stat_text(s), threshold=stats[s],
                share=share[f"t{i}"] or 0.0)
        for i, (tag, s) in enumerate(at_minimum)
    ]  # fmt: skip


STAGE = Stage(
    name="tags",
    label=Label(en="tags", zh="标签"),
    reads=("features", "feature_gaps", "segments", "value", "user_text"),
    writes=("tags",),
    config=("tags",),
    run=build_tags,
)


# -- facts ------------------------------------------------------------------------------------
class TagValue(Fact):
    """One value of a tag and the customers who have it."""

    value: str | bool | float | int
    #: the value in words where it is a code (a model tag's tier or risk band)
    label: Label | None = None
    customers: int
    #: share of the customers who have a value of this tag
    share: float


class TagSummary(Fact):
    """A tag with its coverage (share of customers with a value) and its values."""

    name: str
    kind: Literal["fact", "rule", "model"]
    label: Label
    description: str
    coverage: float
    #: most common first; for rule tags, true and false
    values: list[TagValue]
    #: why no customer has a value (a ``missing_data`` code), when none has
    empty_because: str | None = None

    def csv_rows(self) -> list[dict[str, Any]]:
        base = {"tag": self.name, "kind": self.kind, "coverage": self.coverage}
        if not self.values:
            return [{**base, "value": None, "customers": 0, "share": None}]
        return [{**base, "value": v.value, "customers": v.customers, "share": v.share}
                for v in self.values]  # fmt: skip


class TagReport(Fact):
    customers: int
    tags: list[TagSummary]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [row for t in self.tags for row in t.csv_rows()]


def tag_report(ws: Workspace) -> TagReport:
    """Coverage and value distribution of every tag, from the built ``tags`` table."""
    ws.require("tags")
    t = ws.table("tags")
    total = ws.count("tags")
    gaps = feature_gaps(ws)
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
        why = None
        if not have:
            lacking = [gaps[f] for f in tag.reads if f in gaps]
            why = lacking[0] if lacking else "no_values"
        vocabulary = tag.vocabulary
        values = [
            TagValue(value=r["value"], customers=r["n"], share=r["n"] / have,
                     label=label(vocabulary, r["value"]) if vocabulary else None)
            for r in dist
        ]  # fmt: skip
        out.append(TagSummary(name=tag.name, kind=tag.kind, label=tag.label,
                              description=tag.description,
                              coverage=have / total if total else 0.0, values=values,
                              empty_because=why))  # fmt: skip
    return TagReport(customers=total, tags=out)


class FeatureInfo(Fact):
    """A feature rules can use: its type, window, meaning, and whether this shop has it."""

    name: str
    dtype: str
    #: days it looks back; null for all history
    window: int | None
    unit: str
    label: Label
    #: what the shop's data lacks for it (a ``missing_data`` code), if it is empty
    empty_because: str | None = None


class FeatureCatalogue(Fact):
    features: list[FeatureInfo]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{**f.model_dump(mode="json", exclude={"label"}), "en": f.label.en,
                 "zh": f.label.zh} for f in self.features]  # fmt: skip


def feature_catalogue(ws: Workspace) -> FeatureCatalogue:
    """Every feature, with what this shop's data lacks for those the last build left empty."""
    gaps = feature_gaps(ws)
    return FeatureCatalogue(
        features=[
            FeatureInfo(name=f.name, dtype=f.dtype, window=f.window, unit=f.unit,
                        label=f.label, empty_because=gaps.get(f.name))
            for f in FEATURES.values()
        ]
    )  # fmt: skip
