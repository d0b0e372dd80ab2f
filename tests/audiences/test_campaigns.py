"""Campaigns: the holdout is the stated share of every stratum and reproducible by its seed,
and the uplift report finds an effect planted in generated data (inside its confidence
interval), finds none where none was planted, and says when the groups are too small."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from portrait import init_workspace
from portrait.asof import utc_of_local_midnight
from portrait.audiences import (
    Campaign,
    UpliftReport,
    campaign_members,
    campaign_report,
    compare_means,
    compare_proportions,
    create_campaign,
    preview,
    save_audience,
)
from portrait.config import Config, ShopConfig
from portrait.datasets.generator import generate_shop
from portrait.ingest import ingest
from portrait.labels import LABELS
from portrait.pipeline import build

from support import run_cli

ZONE = "Asia/Shanghai"
START = date(2024, 10, 1)  # the build's as-of date, so the campaign's default start
SHARE = 0.25
PLANTED_SHARE = 0.10  # of treatment members get one more completed order in the window
PLANTED_AMOUNT = 300.0


@dataclass
class Shop:
    ws: object
    campaign: Campaign
    before: UpliftReport  # nothing planted
    one_day: UpliftReport  # the first day only, nothing planted
    after: UpliftReport  # the effect planted
    planted: int  # treatment members given an order


def _orders(rows: list[tuple[str, str, datetime, str]]) -> pa.Table:
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "ts": pa.array([r[2] for r in rows], pa.timestamp("us")),
            "status": [r[3] for r in rows],
            "amount": [PLANTED_AMOUNT] * len(rows),
        }
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A generated shop of 6,000 customers built as of 1 Oct 2024 (orders run to 30 Dec),
    a campaign over its buyers, reported before and after planting an effect."""
    folder = tmp_path_factory.mktemp("campaigns")
    generate_shop(folder / "src", users=6000, seed=7, tables=["users", "orders"])
    config = Config(shop=ShopConfig(name="gen", timezone=ZONE, currency="CNY"))
    ws = init_workspace(folder / "ws", config)
    for name in ("users", "orders"):
        ingest(ws, folder / "src" / f"{name}.parquet", table=name)
    build(ws, as_of=START, stages=["features", "segments", "tags"])
    save_audience(ws, "buyers", "frequency >= 1")
    campaign = create_campaign(ws, "main", "buyers", holdout=SHARE, seed=3)
    before = campaign_report(ws, "main")
    one_day = campaign_report(ws, "main", end=START)

    groups = campaign_members(ws, "main").order_by("user_id").to_pyarrow()
    users = np.asarray(groups.column("user_id").to_pylist())
    treated = users[np.asarray(groups.column("group").to_pylist()) == "treatment"]
    held = users[np.asarray(groups.column("group").to_pylist()) == "holdout"]
    rng = np.random.default_rng(2024)
    chosen = rng.choice(treated, round(PLANTED_SHARE * len(treated)), replace=False)
    first = utc_of_local_midnight(START, ZONE)
    window = (utc_of_local_midnight(date(2024, 12, 30), ZONE) - first).total_seconds()
    rows = [(f"PLANT{i}", u, first + timedelta(seconds=float(s)), "completed")
            for i, (u, s) in enumerate(zip(chosen, rng.uniform(0, window, len(chosen)),
                                           strict=True))]  # fmt: skip
    # orders that must not count: a minute before the start (local time), and cancelled ones
    decoys = rng.choice(held, 20, replace=False)
    rows += [(f"EARLY{i}", u, first - timedelta(minutes=1), "completed")
             for i, u in enumerate(decoys)]  # fmt: skip
    rows += [(f"CANCEL{i}", u, first + timedelta(days=3), "cancelled")
             for i, u in enumerate(decoys)]  # fmt: skip
    pq.write_table(_orders(rows), folder / "planted.parquet")
    report = ingest(ws, folder / "planted.parquet", table="orders")
    assert report.accepted == len(rows)
    after = campaign_report(ws, "main")
    yield Shop(ws, campaign, before, one_day, after, len(chosen))
    ws.close()


def _group(report: UpliftReport, name: str):
    return next(g for g in report.groups if g.group == name)


# -- the holdout --------------------------------------------------------------------------------
def test_the_holdout_is_the_stated_share_of_every_stratum(shop):
    c = shop.campaign
    assert c.members == preview(shop.ws, "frequency >= 1").customers  # the whole audience
    assert len(c.strata) >= 5 and c.stratify_by == ["rfm_segment"]
    for s in c.strata:
        assert abs(s.holdout - SHARE * s.members) <= 1, s
    assert c.holdout == round(SHARE * c.members)
    assert c.treatment + c.holdout == c.members
    assert c.start == START  # the build's as-of date: the first day it did not see


def test_the_holdout_is_reproducible_by_its_seed(shop):
    def held(name: str) -> set[str]:
        m = campaign_members(shop.ws, name)
        return set(m.filter(m["group"] == "holdout").user_id.to_pyarrow().to_pylist())

    create_campaign(shop.ws, "same-seed", "buyers", holdout=SHARE, seed=3)
    create_campaign(shop.ws, "other-seed", "buyers", holdout=SHARE, seed=4)
    assert held("same-seed") == held("main")
    overlap = len(held("other-seed") & held("main")) / len(held("main"))
    assert overlap < 0.4  # independent draws share about a quarter


# -- the report on generated data ---------------------------------------------------------------
def test_no_effect_is_reported_when_none_was_planted(shop):
    r = shop.before
    last = shop.ws.table("orders").ts.max().to_pyarrow().as_py()
    assert r.start == START and r.end == last.replace(tzinfo=UTC).astimezone(ZoneInfo(ZONE)).date()
    assert r.days == (r.end - r.start).days + 1 >= 90
    assert r.verdict == "no_effect_detected" == r.conversion.verdict == r.revenue.verdict
    for u in (r.conversion, r.revenue):
        assert u.ci_low < 0 < u.ci_high and u.p_value > 0.05
    # large enough to find a difference of a few points
    assert 0.02 < r.detectable_difference < 0.07
    assert all(g.converters >= 30 for g in r.groups)


def test_a_planted_effect_is_recovered_inside_the_interval(shop):
    before, after = shop.before, shop.after
    # only the treatment changed: orders before the start and cancelled ones do not count
    assert _group(after, "holdout") == _group(before, "holdout")
    t0, t1 = _group(before, "treatment"), _group(after, "treatment")
    assert t1.revenue == pytest.approx(t0.revenue + shop.planted * PLANTED_AMOUNT)
    # the planted effect: what the extra orders did to this treatment group
    conversion = t1.conversion_rate - t0.conversion_rate
    revenue = t1.revenue_per_member - t0.revenue_per_member
    assert conversion > 0.07  # 10% of members, less those who bought anyway
    c = after.conversion
    assert c.ci_low < conversion < c.ci_high
    assert c.p_value < 0.05 and c.verdict == after.verdict == "effect"
    assert c.ci_low > 0
    assert after.revenue.ci_low < revenue < after.revenue.ci_high
    assert c.relative_lift == pytest.approx(c.difference / c.holdout)


def test_groups_too_small_to_tell_say_so(shop):
    # one day: thousands of members, but too few expected buyers
    assert shop.one_day.verdict == "too_small" == shop.one_day.revenue.verdict
    assert min(g.members for g in shop.one_day.groups) >= 30
    # a small audience: a holdout under 30 members
    save_audience(shop.ws, "frequent", "frequency >= 5")
    small = create_campaign(shop.ws, "small", "frequent", holdout=0.2, seed=1)
    assert small.holdout < 30
    r = campaign_report(shop.ws, "small")
    assert r.verdict == "too_small" and r.conversion.verdict == r.revenue.verdict == "too_small"
    assert set(LABELS["uplift_verdict"]) == {"effect", "no_effect_detected", "too_small"}
    assert "too small" in r.verdict_label.en and "样本太小" in r.verdict_label.zh


# -- the statistics -----------------------------------------------------------------------------
def test_the_proportion_interval_is_newcombes_and_the_test_the_pooled_z_test():
    # Newcombe (1998), Table II, example (a): 56/70 - 48/80, method 10
    d = compare_proportions(56, 70, 48, 80)
    assert d.difference == pytest.approx(0.2)
    assert (round(d.ci_low, 4), round(d.ci_high, 4)) == (0.0524, 0.3339)
    # the pooled z-test is the chi-square test of the 2x2 table without continuity correction
    chi2 = stats.chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert d.p_value == pytest.approx(chi2.pvalue)


def test_the_intervals_cover_the_truth_95_times_in_100():
    rng = np.random.default_rng(0)
    sims, n_t, n_h = 2000, 900, 300
    for p_t, p_h in ((0.10, 0.10), (0.15, 0.10)):
        x_t, x_h = rng.binomial(n_t, p_t, sims), rng.binomial(n_h, p_h, sims)
        found = [
            compare_proportions(int(a), n_t, int(b), n_h) for a, b in zip(x_t, x_h, strict=True)
        ]
        covered = np.mean([d.ci_low <= p_t - p_h <= d.ci_high for d in found])
        assert 0.93 <= covered <= 0.97, (p_t, p_h, covered)
        if p_t == p_h:  # the test's false-positive rate is its level
            assert 0.03 <= np.mean([d.p_value < 0.05 for d in found]) <= 0.07


def test_the_revenue_test_is_welchs_from_the_groups_aggregates():
    rng = np.random.default_rng(1)
    a = np.where(rng.random(700) < 0.2, rng.lognormal(5, 1, 700), 0.0)  # non-buyers are 0
    b = np.where(rng.random(150) < 0.15, rng.lognormal(5, 1, 150), 0.0)
    d = compare_means(a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), alpha=0.1)
    scipy = stats.ttest_ind(a, b, equal_var=False)
    ci = scipy.confidence_interval(0.9)
    assert d.p_value == pytest.approx(scipy.pvalue)
    assert (d.ci_low, d.ci_high) == pytest.approx((ci.low, ci.high))


# -- the command line ---------------------------------------------------------------------------
def test_the_cli_creates_lists_and_reports(shop):
    shop.ws.close()  # the command opens the warehouse itself
    path = str(shop.ws.path)
    made = run_cli("campaign", "create", "cli-made", "--audience", "buyers", "--seed", "5",
                   "--holdout", "0.1", "-w", path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "holdout" in made.stdout and "Champions" in made.stdout
    listed = run_cli("campaign", "list", "-f", "csv", "-w", path)
    assert listed.returncode == 0 and "\nmain,buyers,2024-10-01," in listed.stdout
    shown = run_cli("campaign", "report", "main", "-f", "json", "-w", path)
    assert shown.returncode == 0, shown.stderr
    got = UpliftReport.model_validate(json.loads(shown.stdout))
    assert got == shop.after
    table = run_cli("campaign", "report", "main", "-w", path)
    assert table.returncode == 0 and "verdict" in table.stdout and "有效果" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("create", "main", "--audience", "buyers"), 2, "exists already"),
        (("create", "x", "--audience", "buyers", "--holdout", "0.6"), 2, "at most 0.5"),
        (("create", "x", "--audience", "buyers", "--holdout", "0"), 2, "above 0"),
        (("create", "x", "--audience", "buyers", "--stratify", "segmnt"), 2, "stratify by"),
        (("create", "x", "--audience", "nobody"), 3, "no members"),
        (("create", "x", "--audience", "missing"), 6, "no audience"),
        (("report", "missing"), 6, "no campaign"),
        (("report", "main", "--end", "2024-09-01"), 2, "before campaign"),
        (("report", "main", "--end", "soon"), 2, "YYYY-MM-DD"),
    ],
)
def test_refusals_are_one_line_with_the_right_exit_code(shop, args, code, words):
    if "nobody" in args:
        save_audience(shop.ws, "nobody", "frequency > 100000", replace=True)
    shop.ws.close()
    result = run_cli("campaign", *args, "-w", str(shop.ws.path))
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("error: ") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
