"""Audience insight (人群洞察): what sets an audience apart from the whole shop, or from another.

For an audience and a base (every customer with a portrait, or the members of another
audience) it gives their sizes, the audience's share of the base's revenue (``monetary``,
spend before the as-of date) and of its expected value (``clv``), and for every value of
every tag its share in each and its **TGI** (target group index)::

    TGI = share of the audience with the value / share of the base with it x 100

100 is "as common as in the base", 200 "twice as common". A share is of all the group's
members, those without a value for the tag included. Values held by at least
``min_support`` members are ranked by TGI; the rest are listed after them.

Privacy. Insight must not single out a person:

- **minimum group size** (``[audiences] min_group_size``, default 50): a count below it is
  not published (null, with the reason); if the audience or the base is below it, nothing is.
  Within a tag, when the hidden counts add up to fewer than the minimum, the next smallest
  are hidden too (complementary suppression), so a hidden count cannot be recovered as the
  group's size minus the counts shown.
- **differential privacy**, optional (off by default): with ``epsilon`` every published count
  gets Laplace noise of scale 1/epsilon (the Laplace mechanism; one person changes a count by
  at most 1), from a seeded generator (Dwork, McSherry, Nissim & Smith 2006, "Calibrating
  noise to sensitivity in private data analysis", TCC). Shares and TGI are computed from the
  noisy counts. A person is in one value of each tag and in each size, so the whole result
  spends at most ``epsilon_total`` (stated in it) by sequential composition. Which counts are
  hidden is decided on the exact counts, and the revenue and value shares are exact: they
  are aggregates of at least ``min_group`` customers, not counts.

All of it is two aggregate queries: the sizes and sums, and the tag values, with the tag
columns unpivoted into (tag, value) rows and grouped once.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.selectors as s
import numpy as np

from portrait.audiences.definition import built_as_of, compile_definition
from portrait.audiences.store import resolve
from portrait.errors import ConfigError
from portrait.facts import Fact
from portrait.labels import Label, label
from portrait.tags import catalogue

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.audiences.definition import Compiled
    from portrait.workspace import Workspace

__all__ = ["DEFAULT_MIN_SUPPORT", "AudienceInsight", "TagValueInsight", "audience_insight"]

#: members a tag value needs to be ranked by TGI
DEFAULT_MIN_SUPPORT = 30

Suppressed = Literal["small", "complement"]


class TagValueInsight(Fact):
    """One value of one tag: how common it is in the audience and in the base, and its TGI."""

    tag: str
    tag_label: Label
    kind: Literal["fact", "rule", "model"] | None
    #: the value as text; true/false for a rule tag
    value: str
    #: the value in words where it is a code (a segment, a tier)
    value_label: Label | None = None
    #: members of the audience with the value (noisy with epsilon); null when suppressed
    customers: int | None
    share: float | None
    base_customers: int | None
    base_share: float | None
    tgi: float | None
    #: why the audience's count is hidden: below the minimum group ("small"), or so that a
    #: hidden count cannot be worked out from the others ("complement")
    suppressed: Suppressed | None = None
    base_suppressed: Suppressed | None = None
    #: place by TGI among values with at least ``min_support`` members; null otherwise
    rank: int | None = None


class AudienceInsight(Fact):
    """An audience against a base (the whole shop or another audience)."""

    #: the saved audience's name; null for a definition given as it is
    name: str | None
    definition: str
    #: the other audience's name, or its definition; null for the whole shop
    against: str | None
    against_definition: str | None
    as_of: date
    #: members of the audience and of the base (noisy with epsilon); null when suppressed
    customers: int | None
    base_customers: int | None
    #: customers / base_customers, against the whole shop; null against another audience
    share: float | None
    #: the audience's spend (``monetary``) over the base's: a share of the shop's revenue, or
    #: against another audience a ratio (above 1 when the audience spends more)
    revenue_share: float | None
    #: the same of expected value (``clv``); null without a value model
    value_share: float | None
    min_group: int
    min_support: int
    #: the Laplace noise per published count; null when no noise was added
    epsilon: float | None
    #: what the whole result spends: epsilon x the counts one person is in
    epsilon_total: float | None
    seed: int | None
    #: the audience or the base is below the minimum group: nothing is published
    suppressed: bool
    #: ranked values first (by TGI, highest first), then the rest by tag
    values: list[TagValueInsight]
    #: values with a count hidden (in the audience or in the base)
    hidden: int = 0
    #: values with a TGI but fewer than ``min_support`` members, so not ranked
    below_support: int = 0

    @property
    def ranked(self) -> list[TagValueInsight]:
        """The values ranked by TGI, highest first."""
        return [v for v in self.values if v.rank is not None]

    def csv_rows(self) -> list[dict[str, Any]]:
        head = {"audience": self.name or self.definition, "against": self.against or "shop",
                "customers": self.customers, "base_customers": self.base_customers}  # fmt: skip
        if not self.values:
            return [{**head, "suppressed": self.suppressed}]
        keep = ("tag", "value", "customers", "share", "base_customers", "base_share", "tgi",
                "rank", "suppressed", "base_suppressed")  # fmt: skip
        return [{**head, **{k: getattr(v, k) for k in keep},
                 "customers": v.customers, "base_customers": v.base_customers}
                for v in self.values]  # fmt: skip


def audience_insight(
    ws: Workspace,
    name_or_definition: str | dict[str, Any],
    *,
    against: str | dict[str, Any] | None = None,
    min_group: int | None = None,
    epsilon: float | None = None,
    min_support: int = DEFAULT_MIN_SUPPORT,
    seed: int = 0,
) -> AudienceInsight:
    """Sizes, revenue and value shares, and the TGI of every tag value of an audience.

    Parameters
    ----------
    ws
        A built workspace.
    name_or_definition
        A saved audience's name, or a definition (rule text or JSON).
    against
        The base: another audience (name or definition); default the whole shop.
    min_group
        Counts below this are suppressed; default ``[audiences] min_group_size``.
    epsilon
        Laplace noise of scale 1/epsilon on every published count; default none.
    min_support
        Members a value needs to be ranked by TGI.
    seed
        Seed of the noise, so a result can be reproduced.

    Raises :class:`ConfigError` for a bad option or a definition that does not compile, and
    :class:`NotBuiltError` before the first build.
    """
    k = ws.config.audiences.min_group_size if min_group is None else min_group
    if k < 1:
        raise ConfigError(f"min_group must be a whole number of customers >= 1, not {k!r}.")
    if epsilon is not None and not (math.isfinite(epsilon) and epsilon > 0):
        raise ConfigError(
            f"epsilon must be a number above 0 (smaller adds more noise), not {epsilon!r}."
        )
    if min_support < 0:
        raise ConfigError(f"min_support must be 0 or more members, not {min_support!r}.")
    ws.require("tags")
    name, text = resolve(ws, name_or_definition)
    audience = compile_definition(ws, text, name=name or "audience")
    other: Compiled | None = None
    other_name = other_text = None
    if against is not None:
        other_name, other_text = resolve(ws, against)
        other = compile_definition(ws, other_text, name=other_name or "against")
    totals, cells = _counts(ws, audience, other)
    tag_names = [c for c in ws.table("tags").columns if c != "user_id"]

    noise = _Noise(epsilon, seed)
    n_a, n_b = noise.count(totals["n_a"]), noise.count(totals["n_b"])
    hidden = totals["n_a"] < k or totals["n_b"] < k
    values: list[TagValueInsight] = []
    if not hidden:
        values = _values(ws, cells, n_a, n_b, k, min_support, noise)
    return AudienceInsight(
        name=name, definition=audience.rule.text,
        against=other_name or (other.rule.text if other is not None else None),
        against_definition=other.rule.text if other is not None else None,
        as_of=built_as_of(ws),
        customers=None if totals["n_a"] < k else n_a,
        base_customers=None if totals["n_b"] < k else n_b,
        share=None if hidden or other is not None else _share(n_a, n_b),
        revenue_share=None if hidden else _ratio(totals["rev_a"], totals["rev_b"]),
        value_share=None if hidden else _ratio(totals.get("clv_a"), totals.get("clv_b")),
        min_group=k, min_support=min_support, epsilon=epsilon,
        epsilon_total=None if epsilon is None else epsilon * 2 * (len(tag_names) + 1),
        seed=None if epsilon is None else seed, suppressed=hidden, values=values,
        hidden=sum(1 for v in values if v.suppressed or v.base_suppressed),
        below_support=sum(1 for v in values if v.tgi is not None and v.rank is None),
    )  # fmt: skip


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else float(a) / float(b)


def _share(part: int, whole: int) -> float | None:
    return None if not whole else min(part / whole, 1.0)


def _counts(
    ws: Workspace, audience: Compiled, other: Compiled | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sizes and sums (one query) and the members of each tag value (one query)."""
    base = audience.base
    sums = {"monetary": base.monetary.cast(dt.float64)}
    if "clv" in base.columns:
        sums["clv"] = base.clv.cast(dt.float64)
    flags = base.select("user_id", in_a=audience.condition.fill_null(False), **sums)
    if other is None:
        flags = flags.mutate(in_b=ibis.literal(True))
    else:
        b = other.base.select("user_id", in_b=other.condition.fill_null(False))
        flags = flags.inner_join(b, "user_id")
    pop = flags.filter(flags.in_a | flags.in_b)
    aggs = {"n_a": pop.in_a.cast(dt.int64).sum(), "n_b": pop.in_b.cast(dt.int64).sum()}
    for col, short in (("monetary", "rev"), ("clv", "clv")):
        if col in sums:
            aggs[f"{short}_a"] = pop[col].sum(where=pop.in_a)
            aggs[f"{short}_b"] = pop[col].sum(where=pop.in_b)
    totals = dict(pop.aggregate(**aggs).to_pyarrow().to_pylist()[0])
    totals["n_a"], totals["n_b"] = int(totals["n_a"] or 0), int(totals["n_b"] or 0)

    tags = ws.table("tags")
    names = [c for c in tags.columns if c != "user_id"]
    if not names:
        return totals, []
    as_text = tags.select("user_id", **{c: tags[c].cast(dt.string) for c in names})
    long = as_text.pivot_longer(s.cols(*names), names_to="tag", values_to="value")
    long = long.filter(long.value.notnull())
    joined = long.inner_join(pop.select("user_id", "in_a", "in_b"), "user_id")
    cells: ir.Table = joined.group_by("tag", "value").aggregate(
        a=joined.in_a.cast(dt.int64).sum(), b=joined.in_b.cast(dt.int64).sum()
    )
    rows = cells.order_by("tag", "value").to_pyarrow().to_pylist()
    return totals, [dict(r) for r in rows]


class _Noise:
    """Laplace noise of scale 1/epsilon on counts, rounded and kept at 0 or more; none
    without epsilon. Draws are made in a fixed order, so a seed reproduces them."""

    def __init__(self, epsilon: float | None, seed: int) -> None:
        self.scale = None if epsilon is None else 1.0 / epsilon
        self.rng = np.random.default_rng(seed)

    def count(self, true: int) -> int:
        if self.scale is None:
            return true
        return max(0, round(true + float(self.rng.laplace(0.0, self.scale))))


def _suppress(counts: dict[str, int], k: int) -> dict[str, Suppressed]:
    """Which of one tag's counts to hide: those below ``k``, and then the smallest others
    until the hidden ones add up to ``k`` (or all are hidden)."""
    out: dict[str, Suppressed] = {v: "small" for v, n in counts.items() if n < k}
    hidden = sum(counts[v] for v in out)
    rest = sorted((n, v) for v, n in counts.items() if v not in out)
    while 0 < hidden < k and rest:
        n, v = rest.pop(0)
        out[v] = "complement"
        hidden += n
    return out


def _values(
    ws: Workspace,
    cells: list[dict[str, Any]],
    n_a: int,
    n_b: int,
    k: int,
    min_support: int,
    noise: _Noise,
) -> list[TagValueInsight]:
    known = {t.name: t for t in catalogue(ws.config)}
    order = {name: i for i, name in enumerate(known)}
    by_tag: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        by_tag.setdefault(cell["tag"], []).append(cell)
    out: list[TagValueInsight] = []
    for tag_name in sorted(by_tag, key=lambda t: (order.get(t, len(order)), t)):
        group = by_tag[tag_name]
        tag = known.get(tag_name)
        hide_a = _suppress({c["value"]: int(c["a"]) for c in group}, k)
        hide_b = _suppress({c["value"]: int(c["b"]) for c in group}, k)
        for cell in group:
            value = cell["value"]
            a = None if value in hide_a else noise.count(int(cell["a"]))
            b = None if value in hide_b else noise.count(int(cell["b"]))
            # (a noisy count may exceed its noisy group: a share stays at most 1)
            share = None if a is None else _share(a, n_a)
            base_share = None if b is None else _share(b, n_b)
            tgi = None if share is None or not base_share else 100.0 * share / base_share
            out.append(TagValueInsight(
                tag=tag_name, tag_label=tag.label if tag else Label(en=tag_name, zh=tag_name),
                kind=tag.kind if tag else None, value=value,
                value_label=label(tag.vocabulary, value) if tag and tag.vocabulary else None,
                customers=a, share=share, base_customers=b, base_share=base_share, tgi=tgi,
                suppressed=hide_a.get(value), base_suppressed=hide_b.get(value),
            ))  # fmt: skip
    ranked = sorted(
        (v for v in out if v.tgi is not None and (v.customers or 0) >= min_support),
        key=lambda v: (-(v.tgi or 0.0), -(v.share or 0.0), v.tag, v.value),
    )
    place = {(v.tag, v.value): i + 1 for i, v in enumerate(ranked)}
    rest = [v for v in out if (v.tag, v.value) not in place]
    return [v.model_copy(update={"rank": place[(v.tag, v.value)]}) for v in ranked] + rest
