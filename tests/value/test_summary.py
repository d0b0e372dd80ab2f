"""The RFM summary: real cases that break naive code, checked on Online Retail by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from portrait.value import rfm_summary


@pytest.mark.slow
def test_online_retail_summary_matches_a_pandas_computation(retail_ws):
    from support import data_file

    raw = pd.read_csv(data_file("online_retail/online_retail.csv.gz"), dtype={"CustomerID": str})
    raw = raw[raw.CustomerID.notna() & ~raw.InvoiceNo.astype(str).str.startswith(("C", "A"))]
    raw = raw[raw.Quantity > 0]
    raw["day"] = pd.to_datetime(raw.InvoiceDate).dt.normalize()
    raw["user_id"] = raw.CustomerID.str.removesuffix(".0")
    cal = raw[raw.day < "2011-07-01"]
    cust = cal[cal.user_id == "12347"]
    days = sorted(cust.day.unique())
    s = rfm_summary(retail_ws, date(2011, 7, 1), holdout_end=date(2011, 12, 10)).to_pandas()
    row = s.set_index("user_id").loc["12347"]
    # many invoices on one day count once: the frequency is in purchase days
    assert row.frequency == len(days) - 1
    assert row.recency == (days[-1] - days[0]).days
    assert row["T"] == (pd.Timestamp("2011-07-01") - days[0]).days
    amounts = (cust.Quantity * cust.UnitPrice).groupby(cust.day).sum()
    assert row.monetary_value == pytest.approx(amounts.iloc[1:].mean())
    later = raw[(raw.user_id == "12347") & (raw.day >= "2011-07-01")]
    assert row.holdout_purchases == later.day.nunique()
    # one-time buyers have recency 0 and no repeat spend; nobody's recency exceeds T
    assert (s.loc[s.frequency == 0, "recency"] == 0).all()
    assert s.loc[s.frequency == 0, "monetary_value"].isna().all()
    assert (s.recency < s["T"]).all()
    assert len(s) == cal.user_id.nunique()
