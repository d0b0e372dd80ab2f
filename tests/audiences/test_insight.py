"""Audience insight on Online Retail (the demo shop is a sample of it): sizes, revenue and
value shares and the TGI of every tag value equal an independent pandas computation over
the ``tags`` table; small groups are hidden so no one is singled out; Laplace noise has the
stated scale and is reproduced by its seed; the CLI shows it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from portrait import open_workspace
from portrait.audiences import audience_insight, save_audience
from portrait.errors import ConfigError

from support import copy_workspace, run_cli

pytestmark = pytest.mark.slow

VIP = "rfm_segment in ('Champions', 'Loyal') or frequency >= 10"
LAPSING = "recency_days between 60 and 365"


@pytest.fixture(scope="module")
def shop(demo_shop, tmp_path_factory):
    """A copy of the demo with two saved audiences."""
    ws = copy_workspace(open_workspace(demo_shop.path), tmp_path_factory.mktemp("insight"))
    save_audience(ws, "vip", VIP)
    save_audience(ws, "lapsing", LAPSING)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def frame(shop) -> pd.DataFrame:
    features = shop.table("features").to_pandas()[["user_id", "recency_days", "frequency",
                                                    "monetary"]]  # fmt: skip
    value = shop.table("value").to_pandas()[["user_id", "clv"]]
    tags = shop.table("tags").to_pandas()
    out = features.merge(tags, on="user_id", how="left").merge(value, on="user_id", how="left")
    out["vip"] = out.rfm_segment.isin(["Champions", "Loyal"]) | (out.frequency >= 10)
    out["lapsing"] = out.recency_days.between(60, 365)
    return out


def _tag_counts(frame: pd.DataFrame, tags: list[str], members: pd.Series) -> pd.DataFrame:
    """(tag, value) -> members with it, for every non-null value of every tag."""
    rows = []
    for tag in tags:
        col = frame[tag]
        text = col.map(
            lambda v: (
                None if pd.isna(v) else str(v).lower() if isinstance(v, bool | np.bool_) else str(v)
            )
        )
        counts = text[members.to_numpy()].value_counts()
        for value in text.dropna().unique():
            rows.append((tag, value, int(counts.get(value, 0))))
    return pd.DataFrame(rows, columns=["tag", "value", "n"]).set_index(["tag", "value"]).n


def _expected(frame: pd.DataFrame, tags: list[str], a: str, b: str | None) -> pd.DataFrame:
    in_a = frame[a].fillna(False).astype(bool)
    in_b = pd.Series(True, index=frame.index) if b is None else frame[b].fillna(False).astype(bool)
    out = pd.DataFrame({"a": _tag_counts(frame, tags, in_a), "b": _tag_counts(frame, tags, in_b)})
    out["share"] = out.a / in_a.sum()
    out["base_share"] = out.b / in_b.sum()
    out["tgi"] = out.share / out.base_share * 100
    return out[(out.a > 0) | (out.b > 0)]


def _tags(shop) -> list[str]:
    return [c for c in shop.table("tags").columns if c != "user_id"]


@pytest.mark.parametrize("against", [None, "lapsing"])
def test_tgi_of_every_tag_value_equals_pandas(shop, frame, against):
    got = audience_insight(shop, "vip", against=against, min_group=1, min_support=30)
    want = _expected(frame, _tags(shop), "vip", against)
    in_a, in_b = frame.vip, frame[against] if against else pd.Series(True, index=frame.index)
    assert got.name == "vip" and got.definition == VIP and got.against == against
    assert (got.customers, got.base_customers) == (int(in_a.sum()), int(in_b.sum()))
    assert got.revenue_share == pytest.approx(
        frame.monetary[in_a].sum() / frame.monetary[in_b].sum()
    )
    assert got.value_share == pytest.approx(frame.clv[in_a].sum() / frame.clv[in_b].sum())
    if against is None:
        assert got.share == pytest.approx(in_a.mean())
    assert not got.suppressed and got.epsilon is None

    seen = {(v.tag, v.value): v for v in got.values}
    assert set(seen) == set(want.index), "every non-null value of every tag, and no other"
    for key, row in want.iterrows():
        v = seen[key]
        if row.a == 0:  # below the minimum group of 1
            assert v.customers is None and v.suppressed == "small", key
        else:
            assert (v.customers, v.share) == (row.a, pytest.approx(row.share)), key
        if row.b == 0:
            assert v.base_customers is None and v.tgi is None, key
        else:
            assert (v.base_customers, v.base_share) == (row.b, pytest.approx(row.base_share))
            if row.a:
                assert v.tgi == pytest.approx(row.tgi), key

    # ranked by TGI among values with at least min_support members, highest first
    eligible = want[(want.a >= 30) & (want.b > 0)]
    assert {(v.tag, v.value) for v in got.ranked} == set(eligible.index)
    tgis = [v.tgi for v in got.ranked]
    assert tgis == sorted(tgis, reverse=True)
    assert [v.rank for v in got.ranked] == list(range(1, len(eligible) + 1))
    assert got.values[: len(got.ranked)] == got.ranked
    assert got.ranked[0].tgi > 150, "an audience of the best customers stands out"


def test_labels_come_from_the_catalogue(shop):
    got = audience_insight(shop, "vip", min_group=1)
    by = {(v.tag, v.value): v for v in got.values}
    assert by[("rfm_segment", "Champions")].value_label.zh == "重要价值客户"
    assert by[("value_tier", "high")].value_label.zh == "高价值"
    assert by[("high_value", "true")].tag_label.zh == "高价值客户"
    assert by[("high_value", "true")].kind == "rule"


def test_groups_under_the_minimum_size_are_hidden(shop, frame):
    k = 50
    assert shop.config.audiences.min_group_size == k  # the default
    got = audience_insight(shop, "vip")
    want = _expected(frame, _tags(shop), "vip", None)
    assert got.min_group == k
    for v in got.values:
        row = want.loc[(v.tag, v.value)]
        if row.a < k:
            assert v.suppressed == "small" and v.customers is None and v.share is None
            assert v.tgi is None and v.rank is None
        if row.b < k:
            assert v.base_suppressed == "small" and v.base_customers is None
        if v.customers is not None:
            assert v.customers == row.a >= k
        if v.base_customers is not None:
            assert v.base_customers == row.b >= k
    assert any(v.suppressed == "small" for v in got.values), "the test needs a small group"
    assert got.hidden == sum(1 for v in got.values if v.suppressed or v.base_suppressed)
    # a hidden count cannot be recovered from the others: what a tag hides is 0 or >= k
    for tag in {v.tag for v in got.values}:
        hidden = want.loc[[(v.tag, v.value) for v in got.values if v.tag == tag and v.suppressed]]
        assert hidden.a.sum() == 0 or hidden.a.sum() >= k, tag
    assert all(v.customers is None or v.customers >= k for v in got.ranked)


def test_an_audience_below_the_minimum_is_hidden_whole(shop, frame):
    small = "frequency >= 60"
    n = int((frame.frequency >= 60).sum())
    assert 0 < n < 50
    got = audience_insight(shop, small)
    assert got.suppressed and got.customers is None and got.values == []
    assert got.revenue_share is None and got.value_share is None and got.share is None
    assert got.base_customers == len(frame)
    # the same against it as the base
    got = audience_insight(shop, "vip", against=small)
    assert got.suppressed and got.base_customers is None and got.values == []
    # a smaller minimum shows it
    assert audience_insight(shop, small, min_group=n).customers == n


def test_laplace_noise_has_the_stated_scale_and_is_reproduced_by_its_seed(shop):
    exact = audience_insight(shop, "vip", min_group=1)
    truth = {(v.tag, v.value): (v.customers, v.base_customers) for v in exact.values}
    for epsilon in (0.5, 0.05):
        noisy = audience_insight(shop, "vip", min_group=1, epsilon=epsilon, seed=7)
        assert noisy.epsilon == epsilon and noisy.seed == 7
        assert noisy.epsilon_total == pytest.approx(epsilon * 2 * (len(_tags(shop)) + 1))
        again = audience_insight(shop, "vip", min_group=1, epsilon=epsilon, seed=7)
        assert again == noisy
        other = audience_insight(shop, "vip", min_group=1, epsilon=epsilon, seed=8)
        assert other != noisy
        gaps = []
        for v in noisy.values:
            a, b = truth[(v.tag, v.value)]
            for published, true in ((v.customers, a), (v.base_customers, b)):
                if published is not None and true is not None and true > 100:
                    gaps.append(published - true)
        gaps = np.array(gaps)
        # E|Laplace(0, 1/epsilon)| = 1/epsilon; the mean of ~100 gaps is within 30% of it
        assert len(gaps) > 60
        assert abs(np.abs(gaps).mean() * epsilon - 1) < 0.3, (epsilon, np.abs(gaps).mean())
        assert abs(np.median(gaps)) < 1 / epsilon, "noise is centred on the true count"
        assert noisy.customers != exact.customers or noisy.base_customers != exact.base_customers


def test_bad_options_say_what_to_do(shop):
    with pytest.raises(ConfigError, match="epsilon must be a number above 0"):
        audience_insight(shop, "vip", epsilon=0)
    with pytest.raises(ConfigError, match="min_group must be"):
        audience_insight(shop, "vip", min_group=0)
    with pytest.raises(ConfigError, match="did you mean 'high_value'"):
        audience_insight(shop, "hihg_value")


def test_min_group_size_comes_from_the_configuration(demo_ws):
    text = (demo_ws.path / "portrait.toml").read_text(encoding="utf-8")
    assert "min_group_size = 50" in text
    (demo_ws.path / "portrait.toml").write_text(
        text.replace("min_group_size = 50", "min_group_size = 300"), encoding="utf-8"
    )
    demo_ws.close()
    with open_workspace(demo_ws.path) as ws:
        got = audience_insight(ws, "high_value")  # 200-odd customers
        assert got.min_group == 300 and got.suppressed


# -- the command line -------------------------------------------------------------------------
def test_cli_insight(shop):
    shop.close()  # the command opens it itself
    w = ["-w", str(shop.path)]
    r = run_cli("audience", "insight", "vip", "--format", "json", *w)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["customers"] > 0 and got["min_group"] == 50 and got["values"]
    top = got["values"][0]
    r = run_cli("audience", "insight", "vip", "--top", "5", *w)
    assert r.returncode == 0, r.stderr
    assert "TGI" in r.stdout and f"{got['customers']:,} of" in r.stdout
    assert top["value"] in r.stdout or top["value_label"]["en"] in r.stdout
    r = run_cli("audience", "insight", "vip", "--against", "lapsing", "--min-group", "10",
                "--epsilon", "1", "--format", "csv", *w)  # fmt: skip
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert {"tag", "value", "tgi", "rank", "suppressed"} <= set(header)
    r = run_cli("audience", "insight", "frequency >= 60", *w)
    assert r.returncode == 0 and "nothing is shown" in r.stdout
    r = run_cli("audience", "insight", "vip", "--epsilon", "-1", *w)
    assert r.returncode == 2 and r.stderr.startswith("error: epsilon must be")
