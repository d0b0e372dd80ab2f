"""Features agree with independent computations on real data, and never see the future."""

from __future__ import annotations

import gzip
from datetime import date, datetime

import pandas as pd
import pytest

from portrait import init_workspace
from portrait.config import Config, ShopConfig
from portrait.features import FEATURES, compute_features, training_set
from portrait.ingest import ingest

from support import data_file

pytestmark = pytest.mark.slow

RETAIL = "online_retail/online_retail.csv.gz"
TAOBAO = "taobao_userbehavior/UserBehavior_user_head_814users.csv.gz"


@pytest.fixture(scope="module")
def retail_raw() -> pd.DataFrame:
    raw = pd.read_csv(data_file(RETAIL), dtype={"InvoiceNo": str, "StockCode": str})
    raw["when"] = pd.to_datetime(raw.InvoiceDate, format="%Y-%m-%d %H:%M:%S")
    return raw


def _one(ws, user_id, as_of=None):
    fs = compute_features(ws, as_of)
    rows = fs.table.filter(fs.table.user_id == user_id).to_pyarrow().to_pylist()
    assert len(rows) == 1
    return fs, rows[0]


def test_customer_12347_matches_a_hand_computation(retail_ws, retail_raw):
    fs, row = _one(retail_ws, "12347")
    assert fs.as_of.date == date(2011, 12, 10)  # the day after the data ends
    mine = retail_raw[(retail_raw.CustomerID == 12347.0)]
    bought = mine[~mine.InvoiceNo.str[0].isin(["C", "A"])]
    assert row["frequency"] == bought.InvoiceNo.nunique() == 7
    assert row["monetary"] == pytest.approx((bought.Quantity * bought.UnitPrice).sum(), abs=1e-6)
    last = bought.when.max().date()
    assert row["recency_days"] == (date(2011, 12, 10) - last).days
    first = bought.when.min().date()
    assert row["days_since_first_purchase"] == (date(2011, 12, 10) - first).days
    in_90 = bought[bought.when >= datetime(2011, 9, 11)]
    assert row["orders_90d"] == in_90.InvoiceNo.nunique()
    assert row["avg_order_value"] == pytest.approx(row["monetary"] / row["frequency"])
    assert row["basket_size"] == pytest.approx(bought.Quantity.sum() / 7)
    assert row["inter_purchase_days"] == pytest.approx((last - first).days / 6)


def test_cancellations_count_in_the_cancel_rate(retail_ws, retail_raw):
    mine = retail_raw[retail_raw.CustomerID == 17850.0]
    invoices = mine.InvoiceNo.drop_duplicates()
    _, row = _one(retail_ws, "17850")
    assert row["cancel_rate"] == pytest.approx(invoices.str.startswith("C").sum() / len(invoices))


def test_a_log_without_prices_says_money_is_unknown(taobao_ws):
    fs = compute_features(taobao_ws)
    assert fs.purchases_from == "order events"
    for name in ("monetary", "monetary_90d", "avg_order_value", "price_level"):
        assert fs.missing[name] in ("amount", "price")  # codes of the missing_data labels
    values = fs.table.select("monetary", "frequency").to_pyarrow()
    assert values.column("monetary").null_count == values.num_rows  # unknown, not zero
    assert sum(v > 0 for v in values.column("frequency").to_pylist()) > 400


def test_taobao_funnel_matches_a_hand_count(taobao_ws):
    raw = pd.read_csv(
        data_file(TAOBAO), names=["user_id", "item_id", "cat", "behavior", "ts"],
        dtype={"user_id": str, "item_id": str, "cat": str},
    )  # fmt: skip
    raw = raw[(raw.ts >= 1_511_539_200) & (raw.ts < 1_512_316_800)]
    user = raw.user_id.value_counts().index[0]
    mine = raw[raw.user_id == user]
    _, row = _one(taobao_ws, user)
    assert row["views"] == (mine.behavior == "pv").sum()
    assert row["carts"] == (mine.behavior == "cart").sum()
    assert row["favs"] == (mine.behavior == "fav").sum()
    local = pd.to_datetime(mine.ts, unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    assert row["active_days"] == local.dt.date.nunique()
    assert row["peak_hour"] == local.dt.hour.value_counts().sort_index().idxmax()
    assert row["weekend_share"] == pytest.approx((local.dt.day_of_week >= 5).mean())
    cats = mine[mine.behavior == "buy"].cat.value_counts()
    if len(cats):
        assert row["top_category"] == sorted(cats[cats == cats.max()].index)[0]


def _truncated_retail(tmp_path, retail_raw, cutoff: datetime):
    """A workspace holding only the Online Retail lines before ``cutoff`` (local time)."""
    before = retail_raw[retail_raw.when < cutoff].drop(columns="when")
    path = tmp_path / "before.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        before.to_csv(fh, index=False, float_format="%.15g")
    config = Config(shop=ShopConfig(name="t", timezone="Europe/London", currency="GBP"))
    ws = init_workspace(tmp_path / "ws", config)
    ingest(ws, path, preset="online-retail")
    return ws


def test_features_as_of_a_date_use_nothing_after_it(retail_ws, retail_raw, tmp_path):
    """Features from the full data equal features from data cut at the as-of date."""
    as_of = date(2011, 6, 1)
    full = training_set(retail_ws, as_of, horizon_days=90)
    past = _truncated_retail(tmp_path, retail_raw, datetime(2011, 6, 1))
    try:
        cut = compute_features(past, as_of).table
        cut = cut.filter(cut.frequency > 0).to_pandas().sort_values("user_id")
    finally:
        past.close()
    got = full.to_pandas().sort_values("user_id")
    assert got.user_id.tolist() == cut.user_id.tolist()
    assert len(got) > 2000
    for name in FEATURES:
        pd.testing.assert_series_equal(
            got[name].reset_index(drop=True), cut[name].reset_index(drop=True),
            check_names=False, rtol=1e-9, check_dtype=False,
        )  # fmt: skip
    # the label is the only column that looks ahead: purchases in June-August 2011
    buyers = retail_raw[
        (retail_raw.when >= datetime(2011, 6, 1)) & (retail_raw.when < datetime(2011, 8, 30))
        & ~retail_raw.InvoiceNo.str[0].isin(["C", "A"]) & retail_raw.CustomerID.notna()
    ].CustomerID.astype(int).astype(str)  # fmt: skip
    expected = got.user_id.isin(set(buyers))
    assert (got.purchased_next == expected).all()
    assert (got.churned == ~expected).all()


def test_a_training_sample_is_the_same_customers_by_the_md5_of_their_id(retail_ws):
    """A share of the buyers, chosen by the MD5 of the id (which any engine computes alike),
    with the same rows as the full set; a smaller share is within a larger one."""
    import hashlib

    as_of = date(2011, 6, 1)
    full = training_set(retail_ws, as_of, horizon_days=90).to_pandas().set_index("user_id")
    half = training_set(retail_ws, as_of, horizon_days=90, share=0.5).to_pandas()
    tenth = training_set(retail_ws, as_of, horizon_days=90, share=0.1).to_pandas()
    expected = {u for u in full.index if hashlib.md5(u.encode()).hexdigest()[:4] < "8000"}
    assert set(half.user_id) == expected
    assert abs(len(half) / len(full) - 0.5) < 0.05 and abs(len(tenth) / len(full) - 0.1) < 0.03
    assert set(tenth.user_id) <= set(half.user_id)
    pd.testing.assert_frame_equal(half.set_index("user_id"), full.loc[half.user_id],
                                  check_like=True)  # fmt: skip
