"""Audience definitions select exactly the customers an independent pandas computation over
the demo shop (an Online Retail sample) selects; mistakes name the fix; saved audiences keep
their definition and gain a size row at every build; the CLI shows all of it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from portrait import open_workspace
from portrait.audiences import (
    delete_audience,
    get_audience,
    list_audiences,
    preview,
    save_audience,
)
from portrait.errors import ConfigError, NotFoundError
from portrait.pipeline import build

from support import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(demo_shop):
    """The built demo, only read."""
    with open_workspace(demo_shop.path) as ws:
        yield ws


@pytest.fixture(scope="module")
def frame(shop) -> pd.DataFrame:
    """One row per customer, joined in pandas from the warehouse's own tables."""
    features = shop.table("features").to_pandas()
    tags = shop.table("tags").to_pandas()
    value = shop.table("value").to_pandas()[["user_id", "clv"]]
    users = shop.table("users").to_pandas()[["user_id", "country"]]
    out = features.merge(tags, on="user_id", how="left")
    out = out.merge(value, on="user_id", how="left").merge(users, on="user_id", how="left")
    assert len(out) == len(features) == out.user_id.nunique()
    return out


def _at_least(frame: pd.DataFrame, column: str, q: float, *, positive: bool) -> pd.Series:
    values = frame[column].dropna()
    if positive:
        values = values[values > 0]
    return frame[column] >= values.quantile(q)


#: definition -> the same selection in pandas
CASES = {
    "rfm_segment in ('Champions', 'Loyal', \"Can't Lose\")": lambda f: f.rfm_segment.isin(
        ["Champions", "Loyal", "Can't Lose"]
    ),
    "recency_days between 19 and 51": lambda f: (f.recency_days >= 19) & (f.recency_days <= 51),
    "high_value": lambda f: f.high_value.eq(True),
    "repeat_buyer and not high_value": lambda f: f.repeat_buyer.eq(True) & f.high_value.eq(False),
    # counts and sums: over customers who spent; other features: over every value
    "monetary >= p80(monetary)": lambda f: _at_least(f, "monetary", 0.8, positive=True),
    "cancel_rate >= p80(cancel_rate)": lambda f: _at_least(f, "cancel_rate", 0.8, positive=False),
    "country in ('Germany', 'France')": lambda f: f.country.isin(["Germany", "France"]),
    "days_since_last_order <= 30": lambda f: f.recency_days <= 30,
    "clv > 1000 and churn_risk == 'low'": lambda f: (f.clv > 1000) & (f.churn_risk == "low"),
}


@pytest.mark.parametrize("definition", list(CASES))
def test_preview_counts_what_pandas_counts(shop, frame, definition):
    expected = int(CASES[definition](frame).fillna(False).astype(bool).sum())
    shown = preview(shop, definition)
    assert shown.customers == expected
    assert 0 < expected < len(frame), "a case that selects no one or everyone proves nothing"
    assert shown.base == len(frame)
    assert shown.share == pytest.approx(expected / len(frame))


def test_between_includes_both_ends(shop, frame):
    # customers sit on both ends, so an exclusive end would count fewer
    assert (frame.recency_days == 19).any() and (frame.recency_days == 51).any()
    inclusive = preview(shop, "recency_days between 19 and 51").customers
    assert inclusive > preview(shop, "recency_days > 19 and recency_days < 51").customers


def test_percentile_of_a_rate_is_over_every_customer_with_a_value(shop, frame):
    # over only those above zero the threshold would be higher and select fewer customers
    over_positive = int(_at_least(frame, "cancel_rate", 0.8, positive=True).sum())
    assert preview(shop, "cancel_rate >= p80(cancel_rate)").customers != over_positive


def test_json_definition_selects_the_same_as_text(shop, frame):
    text = "rfm_segment in ('Champions', 'Loyal') and recency_days between 19 and 51"
    definition = {
        "all": [
            {"field": "rfm_segment", "op": "in", "value": ["Champions", "Loyal"]},
            {"field": "days_since_last_order", "op": "between", "value": [19, 51]},
        ]
    }
    expected = frame.rfm_segment.isin(["Champions", "Loyal"]) & frame.recency_days.between(19, 51)
    from_text = preview(shop, text).customers
    assert from_text == int(expected.sum()) > 0
    assert preview(shop, definition).customers == from_text
    assert preview(shop, json.dumps(definition)).customers == from_text


@pytest.mark.parametrize(
    ("definition", "suggestion"),
    [
        ("hihg_value", "high_value"),
        ("days_since_last_ordr > 30", "days_since_last_order"),
        ("rfm_segmnt == 'Lost'", "rfm_segment"),
        ('{"field": "monetery", "op": ">", "value": 100}', "monetary"),
    ],
)
def test_unknown_names_get_did_you_mean(shop, definition, suggestion):
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'"):
        preview(shop, definition)


def test_category_share_equals_pandas_on_a_shop_with_categories(demo_ws):
    ws = demo_ws
    ws.con.raw_sql("UPDATE items SET category = 'Bags' WHERE title LIKE '%BAG%'")
    ws.con.raw_sql("UPDATE items SET category = 'Home/Candles' WHERE title LIKE '%CANDLE%'")
    build(ws, force=True)
    expected = _category_shares(ws)
    cases = {
        "category_share('Bags') > 0.3": expected.Bags > 0.3,
        "category_share('Home') >= 0.05": expected.Home >= 0.05,
        "category_share('Bags') > 0.3 and category_share('Home') > 0": (expected.Bags > 0.3)
        & (expected.Home > 0),
        "category_share('Toys') > 0": expected.Bags < 0,  # no such category: no one
    }
    for definition, selected in cases.items():
        assert preview(ws, definition).customers == int(selected.sum()), definition
    assert 0 < int((expected.Bags > 0.3).sum()) < ws.count("features")


def _category_shares(ws) -> pd.DataFrame:
    """Per customer with a portrait, the share of completed spend before the build date in
    each top-level category (0 without a purchase there)."""
    from portrait.runs import last_run

    as_of = last_run(ws, "features").as_of.date()
    cutoff = (
        pd.Timestamp(as_of).tz_localize(ws.config.shop.timezone).tz_convert("UTC").tz_localize(None)
    )
    orders = ws.table("orders").to_pandas()
    orders = orders[
        orders.user_id.notna()
        & (orders.ts < cutoff)
        & (orders.status.fillna("completed") == "completed")
    ]
    lines = ws.table("order_items").to_pandas().merge(orders[["order_id", "user_id"]])
    items = ws.table("items").to_pandas()[["item_id", "category"]]
    items["top"] = items.category.str.split("/").str[0].str.strip()
    lines = lines.merge(items, on="item_id", how="left")
    lines["amount"] = lines.quantity.astype(float) * lines.unit_price.astype(float)
    spend = lines.pivot_table(index="user_id", columns="top", values="amount", aggfunc="sum")
    total = lines.groupby("user_id").amount.sum()
    shares = spend.reindex(columns=["Bags", "Home"]).div(total, axis=0).fillna(0.0)
    users = ws.table("features").to_pandas()[["user_id"]]
    return users.merge(shares, left_on="user_id", right_index=True, how="left").fillna(
        {"Bags": 0.0, "Home": 0.0}
    )


def test_saved_audiences_list_show_and_delete(demo_ws):
    saved = save_audience(demo_ws, "lapsing", "recency_days between 60 and 180", owner="crm",
                          description="lapsing buyers")  # fmt: skip
    assert (saved.name, saved.owner, saved.description) == ("lapsing", "crm", "lapsing buyers")
    assert saved.customers == preview(demo_ws, "recency_days between 60 and 180").customers
    assert [(p.as_of, p.customers) for p in saved.sizes] == [(saved.as_of, saved.customers)]
    save_audience(demo_ws, "vip", {"field": "high_value", "op": "==", "value": True})
    assert [a.name for a in list_audiences(demo_ws).audiences] == ["lapsing", "vip"]
    with pytest.raises(ConfigError, match="exists already"):
        save_audience(demo_ws, "vip", "repeat_buyer")
    replaced = save_audience(demo_ws, "vip", "repeat_buyer", replace=True)
    assert replaced.definition == "repeat_buyer"
    assert replaced.created_at == get_audience(demo_ws, "vip").created_at
    assert replaced.customers == preview(demo_ws, "repeat_buyer").customers
    with pytest.raises(ConfigError, match="did you mean 'repeat_buyer'"):
        save_audience(demo_ws, "bad", "repeat_buyr")
    delete_audience(demo_ws, "lapsing")
    assert [a.name for a in list_audiences(demo_ws).audiences] == ["vip"]
    with pytest.raises(NotFoundError, match="saved: vip"):
        get_audience(demo_ws, "lapsing")
    assert (
        demo_ws.table("audience_sizes").filter(lambda t: t.name == "lapsing").count().execute() == 0
    )


def test_size_history_gains_a_row_per_build(demo_ws):
    save_audience(demo_ws, "vip", "rfm_segment in ('Champions', 'Loyal')")
    save_audience(demo_ws, "buyers", "frequency >= 2")
    build(demo_ws, force=True)
    for name in ("vip", "buyers"):
        a = get_audience(demo_ws, name)
        assert len(a.sizes) == 2, name
        assert a.sizes[0].recorded_at < a.sizes[1].recorded_at
        assert a.sizes[1].as_of == a.as_of and a.sizes[1].customers == a.customers


# -- the command line -------------------------------------------------------------------------
def test_cli_preview_save_list_show_delete(demo_ws):
    w = ["-w", str(demo_ws.path)]
    demo_ws.close()
    r = run_cli("audience", "preview", "high_value and recency_days > 30", "--sql", *w)
    assert r.returncode == 0, r.stderr
    with open_workspace(demo_ws.path) as ws:
        n = preview(ws, "high_value and recency_days > 30").customers
    assert f"{n:,} of " in r.stdout and "SELECT" in r.stdout

    r = run_cli("audience", "save", "vip", "high_value", "--owner", "crm", *w)
    assert r.returncode == 0, r.stderr
    assert "vip" in r.stdout and "Size history" in r.stdout

    r = run_cli("audience", "list", "--format", "json", *w)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)["audiences"]
    assert [(a["name"], a["owner"], a["definition"]) for a in listed] == [
        ("vip", "crm", "high_value")
    ]
    r = run_cli("audience", "list", "--format", "csv", *w)
    assert r.stdout.splitlines()[0].startswith("name,owner,customers")
    r = run_cli("audience", "list", *w)
    assert "vip" in r.stdout and "high_value" in r.stdout

    r = run_cli("audience", "show", "vip", "--format", "json", *w)
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["customers"] == listed[0]["customers"] and len(shown["sizes"]) == 1

    r = run_cli("audience", "delete", "vip", *w)
    assert r.returncode == 0 and "deleted" in r.stdout
    r = run_cli("audience", "show", "vip", *w)
    assert r.returncode == 6
    assert r.stderr.startswith("error: There is no audience 'vip'")


def test_cli_bad_definition_is_one_line_with_exit_code_2(demo_shop):
    for definition in ("hihg_value", "recency_days > ", '{"field": "frequency", "op": "~"}'):
        r = run_cli("audience", "preview", definition, "-w", str(demo_shop.path))
        assert r.returncode == 2, definition
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: "), r.stderr
    r = run_cli("audience", "preview", "hihg_value", "-w", str(demo_shop.path))
    assert "did you mean 'high_value'" in r.stderr
