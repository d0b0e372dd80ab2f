"""Audiences and campaigns over HTTP: the API returns what the library computes, reads are
viewer's, changes analyst's, and a saved audience is seen by the next read."""

from __future__ import annotations

import io

import pyarrow.csv as pacsv
import pytest

from portrait import open_workspace
from portrait.audiences import audience_insight, preview

DEFINITION = 'churn_risk == "high" and monetary > p50(monetary)'


def test_preview_insight_and_from_text_are_the_librarys_facts(shops):
    path = shops.paths["north"]
    got = shops.call("POST", "/v1/shops/north/audiences/preview", role="viewer",
                     json={"definition": DEFINITION})  # fmt: skip
    assert got.status_code == 200, got.text
    with open_workspace(path) as ws:
        want = preview(ws, DEFINITION)
        insight = audience_insight(ws, "high_value")
    assert got.json()["customers"] == want.customers and got.json()["sql"] == want.sql
    seen = shops.call("POST", "/v1/shops/north/audiences/insight", role="viewer",
                      json={"audience": "high_value"})  # fmt: skip
    assert seen.status_code == 200, seen.text
    assert seen.json()["customers"] == insight.customers
    assert [v["tgi"] for v in seen.json()["values"]] == pytest.approx(
        [v.tgi for v in insight.values]
    )
    words = shops.call("POST", "/v1/shops/north/audiences/from-text", role="viewer",
                       json={"text": "近30天加购未下单的高价值女性用户"})  # fmt: skip
    assert words.status_code == 200, words.text
    assert "carts_30d > 0" in words.json()["definition"]
    bad = shops.call("POST", "/v1/shops/north/audiences/preview", role="viewer",
                     json={"definition": "recncy_days > 3"})  # fmt: skip
    assert bad.status_code == 422 and "did you mean 'recency_days'" in bad.text
    refused = shops.call("POST", "/v1/shops/north/audiences/from-text", role="viewer",
                         json={"text": "喜欢猫的用户"})  # fmt: skip
    assert refused.status_code == 422 and "喜欢猫" in refused.text


def test_saving_exporting_and_a_campaign_need_an_analyst_and_show_in_the_next_read(shop):
    base = "/v1/shops/north"
    body = {"name": "lapsing", "definition": DEFINITION}
    assert shop.call("POST", f"{base}/audiences", role="viewer", json=body).status_code == 403
    saved = shop.call("POST", f"{base}/audiences", role="analyst", json=body)
    assert saved.status_code == 201, saved.text
    assert saved.json()["owner"].startswith("api-key:")
    listed = shop.call("GET", f"{base}/audiences", role="viewer").json()["audiences"]
    assert [a["name"] for a in listed] == ["lapsing"]  # the new snapshot has it
    again = shop.call("POST", f"{base}/audiences", role="analyst", json=body)
    assert again.status_code == 422 and "exists already" in again.text
    exported = shop.call("POST", f"{base}/audiences/lapsing/export?format=csv", role="analyst")
    assert exported.status_code == 200, exported.text
    rows = pacsv.read_csv(io.BytesIO(exported.content))
    assert rows.column_names == ["user_id"]
    assert rows.num_rows == saved.json()["customers"]
    assert shop.call("POST", f"{base}/audiences/lapsing/export",
                     role="viewer").status_code == 403  # fmt: skip
    made = shop.call("POST", f"{base}/campaigns", role="analyst",
                     json={"name": "winback", "audience": "lapsing", "seed": 3,
                           "start": "2011-11-01"})  # fmt: skip
    assert made.status_code == 201, made.text
    report = shop.call("GET", f"{base}/campaigns/winback/report", role="viewer")
    assert report.status_code == 200, report.text
    assert report.json()["verdict"] in ("effect", "no_effect_detected", "too_small")
    gone = shop.call("DELETE", f"{base}/audiences/lapsing", role="analyst")
    assert gone.status_code == 200 and gone.json()["audiences"] == []
    assert shop.call("GET", f"{base}/audiences/lapsing", role="viewer").status_code == 404
