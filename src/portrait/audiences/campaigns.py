"""Campaigns (营销活动): a random, stratified holdout drawn from an audience, and the uplift
report that compares what the treated members did with what the held-out ones did.

:func:`create_campaign` freezes an audience's members as of the last build into
``campaign_members`` (campaign, user_id, group ``treatment``/``holdout``, stratum) and records
the campaign in ``campaigns``. The holdout is the same share of every stratum (the values of
``stratify_by``, ``rfm_segment`` by default; a missing value is a stratum of its own): each
stratum holds out the floor of its quota, and the members left over from rounding go to the
strata with the largest remainders (Hamilton's method), so every stratum is within one member
of its share and the whole holdout is the share of the audience, rounded. Who is held out
within a stratum is a seeded random draw over the members sorted by id, so the same seed on
the same members gives the same groups. Without a seed, one is drawn and recorded: campaigns
on one audience should not all hold out the same customers.

:func:`campaign_report` reads the completed orders of the members from the campaign's start to
an end date (by default the data's last day) and compares the groups:

* **conversion** (the share of members with at least one completed order): the difference
  of proportions, Newcombe's hybrid score interval (Newcombe 1998, *Statistics in Medicine*
  17(8), method 10, from Wilson's 1927 score intervals of each group) and the two-sided
  pooled two-proportion z-test;
* **revenue per member** (members who bought nothing count as 0): the difference of means,
  Welch's t-test and its interval with the Welch-Satterthwaite degrees of freedom (Welch 1947,
  *Biometrika* 34(1-2)).

Conversion is the primary metric: the campaign's verdict is conversion's, so that looking at
two tests does not double the chance of a false "effect". The counts and sums come from one
aggregate query; the statistics are computed from the two groups' aggregates with scipy.
"""

from __future__ import annotations

import difflib
import json
import logging
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa
from scipy import stats

from portrait import history
from portrait.asof import AsOf, default_as_of, parse_date, utc_of_local_midnight
from portrait.audiences.definition import built_as_of, compile_definition
from portrait.audiences.store import _NAME, get_audience
from portrait.engine import Engine
from portrait.errors import ConfigError, DataError, NotFoundError
from portrait.facts import Fact
from portrait.labels import Label, label

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

__all__ = [
    "MIN_EXPECTED",
    "MIN_MEMBERS",
    "POWER",
    "Campaign",
    "CampaignList",
    "Difference",
    "GroupOutcome",
    "Stratum",
    "Uplift",
    "UpliftReport",
    "Verdict",
    "campaign_members",
    "campaign_report",
    "compare_means",
    "compare_proportions",
    "create_campaign",
    "get_campaign",
    "list_campaigns",
]

log = logging.getLogger(__name__)

Group = Literal["treatment", "holdout"]
Verdict = Literal["effect", "no_effect_detected", "too_small"]

#: fewest members a group needs before the report tells anything
MIN_MEMBERS = 30
#: fewest expected buyers, and non-buyers, a group needs (members x the pooled conversion rate)
MIN_EXPECTED = 5
#: the power at which :attr:`UpliftReport.detectable_difference` is stated
POWER = 0.8
#: the stratum of members with no value in a stratifying column
MISSING = "(missing)"
_SEP = " | "
_CENTS, _CENTS_SQ = dt.Decimal(38, 2), dt.Decimal(38, 4)

_MEMBERS_SCHEMA = pa.schema(
    [("campaign", pa.string()), ("user_id", pa.string()), ("group", pa.string()),
     ("stratum", pa.string())]
)  # fmt: skip


# -- facts ------------------------------------------------------------------------------------
class Stratum(Fact):
    """One stratum of a campaign's audience and how many of it are held out."""

    stratum: str
    members: int
    holdout: int


class Campaign(Fact):
    """A campaign: the audience it was drawn from, frozen, and its two groups."""

    name: str
    audience: str
    #: the audience's definition when the campaign was created
    definition: str
    #: the build date the members were selected as of
    audience_as_of: date
    holdout_share: float
    seed: int
    stratify_by: list[str]
    #: first day of the campaign (local date of the shop)
    start: date
    end: date | None
    owner: str
    created_at: datetime
    members: int
    treatment: int
    holdout: int
    strata: list[Stratum]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"campaign": self.name, **s.model_dump()} for s in self.strata]


class CampaignList(Fact):
    campaigns: list[Campaign]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "audience": c.audience, "start": c.start, "members": c.members,
                 "treatment": c.treatment, "holdout": c.holdout,
                 "holdout_share": c.holdout_share, "seed": c.seed, "owner": c.owner}
                for c in self.campaigns]  # fmt: skip


class GroupOutcome(Fact):
    """What one group did in the campaign's window."""

    group: Group
    members: int
    #: members with at least one completed order in the window
    converters: int
    conversion_rate: float
    revenue: float
    revenue_per_member: float


class Difference(Fact):
    """A difference between treatment and holdout, its confidence interval and p-value."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float


class Uplift(Difference):
    """A metric in both groups, their difference, and what it says."""

    metric: Literal["conversion", "revenue_per_member"]
    treatment: float
    holdout: float
    #: the difference relative to the holdout's value; None when the holdout's is 0
    relative_lift: float | None
    verdict: Verdict

    @property
    def verdict_label(self) -> Label:
        found = label("uplift_verdict", self.verdict)
        assert found is not None
        return found


class UpliftReport(Fact):
    """Treatment against holdout over a campaign's window, with the verdict.

    The verdict is the primary metric's, conversion's (see :func:`campaign_report`).
    """

    campaign: str
    audience: str
    start: date
    #: last day counted (inclusive)
    end: date
    days: int
    alpha: float
    #: 1 - alpha, the confidence level of the intervals
    confidence: float
    currency: str
    groups: list[GroupOutcome]
    conversion: Uplift
    revenue: Uplift
    #: the conversion difference the test would find with probability :data:`POWER`
    detectable_difference: float
    power: float = POWER
    min_members: int = MIN_MEMBERS
    min_expected: int = MIN_EXPECTED
    verdict: Verdict

    @property
    def verdict_label(self) -> Label:
        return self.conversion.verdict_label

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"campaign": self.campaign, "start": self.start, "end": self.end,
                 **u.model_dump(mode="json"), "alpha": self.alpha}
                for u in (self.conversion, self.revenue)]  # fmt: skip


# -- creating ---------------------------------------------------------------------------------
def create_campaign(
    ws: Workspace,
    name: str,
    audience: str,
    *,
    holdout: float = 0.1,
    stratify_by: Sequence[str] = ("rfm_segment",),
    seed: int | None = None,
    start: str | date | None = None,
    owner: str = "",
) -> Campaign:
    """Freeze an audience's members and draw a stratified random holdout from them.

    Parameters
    ----------
    ws
        The workspace (built: the members are the audience's as of the last build).
    name
        The campaign's name: 1-64 letters, digits, '_', '-' or '.', not in use.
    audience
        A saved audience (:func:`portrait.audiences.save_audience`).
    holdout
        The share of every stratum held out of the campaign, above 0 and at most 0.5.
    stratify_by
        Columns of the audience base (:func:`portrait.audiences.audience_base`) whose values
        are the strata; not numbers with decimals. Empty for one stratum.
    seed
        Seed of the draw; by default a random one, recorded with the campaign.
    start
        First day of the campaign (the shop's local date, ``YYYY-MM-DD``); by default the
        as-of date of the last build, the first day the build did not see.
    owner
        Who runs it.

    Raises :class:`ConfigError` for a bad name or share, a name in use or an unknown
    stratifying column, :class:`NotFoundError` for an unknown audience and
    :class:`DataError` for an audience too small to split (empty, or a group of fewer than
    two).
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a campaign name; use 1-64 letters, digits, '_', '-' or '.'."
        )
    if not 0 < holdout <= 0.5:
        raise ConfigError(
            f"The holdout share is {holdout}; give a share above 0 and at most 0.5 "
            "(0.1 holds out a tenth of every stratum)."
        )
    if seed is not None and not 0 <= seed < 2**63:
        raise ConfigError(f"The seed is {seed}; give a whole number from 0 to 2**63 - 1.")
    c = ws.table("campaigns")
    if int(c.filter(c.name == name).count().execute()):
        raise ConfigError(
            f"A campaign {name!r} exists already; choose another name "
            "(`portrait campaign list` shows them)."
        )
    saved = get_audience(ws, audience)  # NotFoundError for an unknown one
    first = built_as_of(ws) if start is None else parse_date(start, option="--start")
    strata_by = list(dict.fromkeys(stratify_by))
    compiled = compile_definition(ws, saved.definition, name=audience)
    base = compiled.base
    for column in strata_by:
        if column not in base.columns:
            close = difflib.get_close_matches(column, list(base.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"There is no column {column!r} to stratify by{hint}.")
        if base[column].type().is_floating():
            raise ConfigError(
                f"{column} is a number with decimals and would make a stratum of almost "
                "every member; stratify by a category such as rfm_segment or value_tier."
            )
    parts = [base[c].cast(dt.string).fill_null(MISSING) for c in strata_by]
    stratum = ibis.literal(_SEP).join(parts) if parts else ibis.literal("all")
    chosen = (
        base.filter(compiled.condition.fill_null(False))
        .select("user_id", stratum=stratum)
        .order_by("user_id")
        .to_pyarrow()
    )
    if chosen.num_rows == 0:
        raise DataError(
            f"The audience {audience!r} has no members as of {saved.as_of}; "
            "a campaign needs someone to treat and someone to hold out."
        )
    seed = secrets.randbelow(2**31) if seed is None else seed
    held = _draw(np.asarray(chosen.column("stratum").to_pylist(), dtype=object), holdout, seed)
    if min(int(held.sum()), int((~held).sum())) < 2:
        raise DataError(
            f"The audience {audience!r} has {chosen.num_rows} member(s): a holdout of "
            f"{holdout:.0%} leaves a group of fewer than two; choose a larger audience."
        )
    rows = pa.table(
        {
            "campaign": pa.array([name] * chosen.num_rows, pa.string()),
            "user_id": chosen.column("user_id").cast(pa.string()),
            "group": pa.array(np.where(held, "holdout", "treatment"), pa.string()),
            "stratum": chosen.column("stratum"),
        },
        schema=_MEMBERS_SCHEMA,
    )
    # (the name is checked above: it cannot close the quote) leftovers of a failed creation
    ws.con.raw_sql(f"DELETE FROM campaign_members WHERE campaign = '{name}'")
    ws.con.insert("campaign_members", rows)
    ws.append("campaigns", [{"name": name, "audience": audience, "definition": saved.definition,
                             "audience_as_of": saved.as_of, "holdout_share": holdout,
                             "seed": seed, "stratify_by": json.dumps(strata_by),
                             "start_date": first, "end_date": None, "owner": owner,
                             "created_at": datetime.now()}])  # fmt: skip
    log.info("campaign %s: %d members, %d held out", name, chosen.num_rows, int(held.sum()))
    return get_campaign(ws, name)


def _draw(strata: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Which members are held out: ``share`` of each stratum (largest remainders), at
    random within it; ``strata`` is in the members' fixed order."""
    rng = np.random.default_rng(seed)
    n = len(strata)
    _, code = np.unique(strata, return_inverse=True)
    sizes = np.bincount(code)
    quota = sizes * share
    take = np.floor(quota).astype(np.int64)
    left = int(np.floor(n * share + 0.5)) - int(take.sum())  # 0 <= left <= strata
    tie = rng.random(len(sizes))
    take[np.lexsort((tie, -(quota - take)))[:left]] += 1
    order = np.lexsort((rng.random(n), code))  # by stratum, then at random
    first = np.cumsum(sizes) - sizes
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - first[code[order]]
    held: np.ndarray = rank < take[code]
    return held


# -- reading ----------------------------------------------------------------------------------
def _row(ws: Workspace, name: str) -> dict[str, Any]:
    t = ws.table("campaigns")
    rows = t.filter(t.name == name).to_pyarrow().to_pylist()
    if not rows:
        known = sorted(t.name.to_pyarrow().to_pylist())
        hint = f" (there are: {', '.join(known[:5])})" if known else ""
        raise NotFoundError(
            f"There is no campaign {name!r}{hint}; `portrait campaign list` shows them."
        )
    return dict(rows[0])


def campaign_members(ws: Workspace, name: str) -> ir.Table:
    """A campaign's frozen members: ``user_id``, ``group`` and ``stratum``."""
    _row(ws, name)
    m = ws.table("campaign_members")
    return m.filter(m.campaign == name).select("user_id", "group", "stratum")


def get_campaign(ws: Workspace, name: str) -> Campaign:
    """A campaign with its groups' sizes in every stratum."""
    row = _row(ws, name)
    m = campaign_members(ws, name)
    counts = (
        m.group_by("stratum")
        .aggregate(members=m.count(), holdout=(m["group"] == "holdout").sum())
        .order_by("stratum")
        .to_pyarrow()
        .to_pylist()
    )
    strata = [Stratum(stratum=r["stratum"], members=r["members"], holdout=int(r["holdout"]))
              for r in counts]  # fmt: skip
    members = sum(s.members for s in strata)
    held = sum(s.holdout for s in strata)
    return Campaign(
        name=name, audience=row["audience"], definition=row["definition"],
        audience_as_of=row["audience_as_of"], holdout_share=row["holdout_share"],
        seed=row["seed"], stratify_by=json.loads(row["stratify_by"]), start=row["start_date"],
        end=row["end_date"], owner=row["owner"] or "", created_at=row["created_at"],
        members=members, treatment=members - held, holdout=held, strata=strata,
    )  # fmt: skip


def list_campaigns(ws: Workspace) -> CampaignList:
    """Every campaign, by name."""
    names = ws.table("campaigns").order_by("name").name.to_pyarrow().to_pylist()
    return CampaignList(campaigns=[get_campaign(ws, n) for n in names])


# -- statistics -------------------------------------------------------------------------------
def compare_proportions(
    converters_t: int, members_t: int, converters_h: int, members_h: int, *, alpha: float = 0.05
) -> Difference:
    """The difference of two proportions (treatment - holdout) with Newcombe's hybrid score
    interval and the two-sided pooled z-test.

    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. *Statistics in Medicine* 17(8), 873-890
    (method 10); Wilson, E. B. (1927), *JASA* 22(158), 209-212.
    """
    if min(members_t, members_h) < 1:
        raise DataError("Each group needs at least one member to compare proportions.")
    p1, p2 = converters_t / members_t, converters_h / members_h
    level = 1 - alpha
    l1, u1 = stats.binomtest(converters_t, members_t).proportion_ci(level, method="wilson")
    l2, u2 = stats.binomtest(converters_h, members_h).proportion_ci(level, method="wilson")
    diff = p1 - p2
    low = diff - float(np.hypot(p1 - l1, u2 - p2))
    high = diff + float(np.hypot(u1 - p1, p2 - l2))
    pooled = (converters_t + converters_h) / (members_t + members_h)
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / members_t + 1 / members_h)))
    p_value = 1.0 if se == 0 else float(2 * stats.norm.sf(abs(diff) / se))
    return Difference(difference=diff, ci_low=low, ci_high=high, p_value=p_value)


def compare_means(
    mean_t: float,
    var_t: float,
    members_t: int,
    mean_h: float,
    var_h: float,
    members_h: int,
    *,
    alpha: float = 0.05,
) -> Difference:
    """The difference of two means (treatment - holdout) from each group's mean, sample
    variance and size: Welch's t-test and its interval.

    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. *Biometrika* 34(1-2), 28-35.
    """
    if min(members_t, members_h) < 2:
        raise DataError("Each group needs at least two members to compare means.")
    a, b = max(var_t, 0.0) / members_t, max(var_h, 0.0) / members_h
    diff = mean_t - mean_h
    se = float(np.sqrt(a + b))
    if se == 0:  # both groups constant: the difference is known exactly
        return Difference(difference=diff, ci_low=diff, ci_high=diff,
                          p_value=1.0 if diff == 0 else 0.0)  # fmt: skip
    df = (a + b) ** 2 / (a**2 / (members_t - 1) + b**2 / (members_h - 1))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    p_value = float(2 * stats.t.sf(abs(diff) / se, df))
    return Difference(difference=diff, ci_low=diff - half, ci_high=diff + half, p_value=p_value)


# -- the report -------------------------------------------------------------------------------
def campaign_report(
    ws: Workspace, name: str, *, end: str | date | None = None, alpha: float = 0.05
) -> UpliftReport:
    """Conversion and revenue per member in treatment against holdout, from the campaign's
    start to ``end`` (inclusive, local dates; by default the data's last day).

    A member converts with at least one completed order in the window; revenue is the sum of
    those orders' amounts, 0 for a member who bought nothing. See the module for the tests.

    **Too small to tell** (verdict ``too_small``, for both metrics): either group has fewer
    than :data:`MIN_MEMBERS` (30) members, or fewer than :data:`MIN_EXPECTED` (5) expected
    converters or non-converters (its members times the pooled conversion rate), below which
    the normal approximations behind the tests fail. Otherwise a metric's verdict is
    ``effect`` when its p-value is below ``alpha`` and ``no_effect_detected`` when not; the
    report's verdict is conversion's, and :attr:`UpliftReport.detectable_difference` says
    how large a difference in conversion the groups could have found (power 0.8).

    Raises :class:`NotFoundError` for an unknown campaign, :class:`ConfigError` for a bad
    ``alpha`` or an ``end`` before the start, and :class:`DataError` when the data ends
    before the campaign started.
    """
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha is {alpha}; give a significance level such as 0.05.")
    row = _row(ws, name)
    start: date = row["start_date"]
    if end is None:
        last = default_as_of(ws) - timedelta(days=1)
        if last < start:
            raise DataError(
                f"The data ends on {last}, before campaign {name!r} started on {start}; "
                "ingest the orders since (portrait ingest FILE) and report again."
            )
    else:
        last = parse_date(end, option="--end")
        if last < start:
            raise ConfigError(
                f"--end {last} is before campaign {name!r} started on {start}; give a later day."
            )
    rows = _outcomes(ws, name, start, last)
    ot, oh = (_outcome(g, rows[g]) for g in ("treatment", "holdout"))
    pooled = (ot.converters + oh.converters) / (ot.members + oh.members)
    small = any(
        o.members < MIN_MEMBERS
        or o.members * pooled < MIN_EXPECTED
        or o.members * (1 - pooled) < MIN_EXPECTED
        for o in (ot, oh)
    )
    conversion = compare_proportions(ot.converters, ot.members, oh.converters, oh.members,
                                     alpha=alpha)  # fmt: skip
    revenue = compare_means(
        ot.revenue_per_member, rows["treatment"]["revenue_var"], ot.members,
        oh.revenue_per_member, rows["holdout"]["revenue_var"], oh.members, alpha=alpha,
    )  # fmt: skip

    def uplift(metric: Any, d: Difference, treated: float, held: float) -> Uplift:
        verdict: Verdict = (
            "too_small" if small else "effect" if d.p_value < alpha else "no_effect_detected"
        )
        return Uplift(**d.model_dump(), metric=metric, treatment=treated, holdout=held,
                      relative_lift=d.difference / held if held else None,
                      verdict=verdict)  # fmt: skip

    conv = uplift("conversion", conversion, ot.conversion_rate, oh.conversion_rate)
    rev = uplift("revenue_per_member", revenue, ot.revenue_per_member, oh.revenue_per_member)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(POWER)
    detectable = float(z * np.sqrt(pooled * (1 - pooled) * (1 / ot.members + 1 / oh.members)))
    return UpliftReport(
        campaign=name, audience=row["audience"], start=start, end=last,
        days=(last - start).days + 1, alpha=alpha, confidence=1 - alpha,
        currency=ws.config.shop.currency,
        groups=[ot, oh], conversion=conv, revenue=rev, detectable_difference=detectable,
        verdict=conv.verdict,
    )  # fmt: skip


def _outcome(group: Group, r: dict[str, Any]) -> GroupOutcome:
    n, converters, revenue = int(r["members"]), int(r["converters"]), float(r["revenue"])
    return GroupOutcome(group=group, members=n, converters=converters,
                        conversion_rate=converters / n, revenue=revenue,
                        revenue_per_member=revenue / n)  # fmt: skip


def _outcomes(ws: Workspace, name: str, start: date, last: date) -> dict[str, dict[str, Any]]:
    """Per group: members, converters, revenue and the per-member sample variance of
    revenue, from one query over the members and their completed orders in the window (sums
    and sums of squares of cents, exact, so the variance is the same on every run)."""
    zone = ws.config.shop.timezone
    tables = history.tables(ws.con)
    ctx = AsOf(last + timedelta(days=1), zone, engine=Engine.of(ws.con))
    o = history.orders(tables, ctx, history.probe(tables))
    o = o.filter(
        o.completed, o.ts >= ibis.literal(utc_of_local_midnight(start, zone), dt.timestamp)
    )
    bought = o.group_by(_buyer=o.user_id).aggregate(
        _orders=o.count(), _revenue=o.amount.fill_null(0.0).sum()
    )
    m = campaign_members(ws, name)
    j = m.left_join(bought, m.user_id == bought._buyer)
    # in cents, as decimals: exact sums, so the same data gives the same report to the digit
    revenue = j._revenue.fill_null(0.0).round(2).cast(_CENTS)
    per = j.group_by("group").aggregate(
        members=j.count(),
        converters=(j._orders.fill_null(0) > 0).sum(),
        revenue=revenue.sum(),
        revenue_sq=(revenue * revenue).cast(_CENTS_SQ).sum(),
    )
    rows = {r["group"]: r for r in per.to_pyarrow().to_pylist()}
    if set(rows) != {"treatment", "holdout"}:  # pragma: no cover - refused at creation
        raise DataError(f"Campaign {name!r} has an empty group; create it again.")
    for r in rows.values():
        n, total, squares = (
            r["members"],
            Fraction(r["revenue"] or 0),
            Fraction(r["revenue_sq"] or 0),
        )
        r["revenue"] = float(total)
        r["revenue_var"] = float((squares - total * total / n) / (n - 1)) if n > 1 else 0.0
    return rows
