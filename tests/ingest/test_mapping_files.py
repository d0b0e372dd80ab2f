"""A mapping file does what it says: it overrides only the columns it names, and its value
maps translate any text column (or say which column they cannot)."""

from __future__ import annotations

import pytest

from portrait import init_workspace
from portrait.errors import SchemaError
from portrait.ingest import ingest

ITEMS = (
    "product_id,product_category_name,product_weight_g\n"
    "p1,beleza_saude,500\n"
    "p2,informatica_acessorios,1200\n"
    "p3,beleza_saude,80\n"
    "p4,cama_mesa_banho,900\n"
)
ORDERS = (
    "order_id,customer_id,order_purchase_timestamp,payment_value\n"
    "o1,c1,2018-01-02 10:00:00,99.90\n"
    "o2,c2,2018-01-03 11:00:00,15.00\n"
)


def test_a_value_map_translates_a_category(tmp_path):
    (tmp_path / "items.csv").write_text(ITEMS, encoding="utf-8")
    mapping = tmp_path / "items.toml"
    mapping.write_text(
        'table = "items"\n[columns]\nitem_id = "product_id"\ncategory = "product_category_name"\n'
        '[values.category]\nbeleza_saude = "Beauty/Health"\n'
        'informatica_acessorios = "Electronics/Accessories"\n',
        encoding="utf-8",
    )
    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, tmp_path / "items.csv", mapping=mapping)
    assert report.accepted == 4
    rows = ws.table("items").select("item_id", "category").to_pyarrow().to_pylist()
    stored = {r["item_id"]: r["category"] for r in rows}
    assert stored == {"p1": "Beauty/Health", "p2": "Electronics/Accessories",
                      "p3": "Beauty/Health", "p4": "cama_mesa_banho"}  # fmt: skip
    ws.close()


def test_a_value_map_for_a_column_the_file_does_not_fill_is_an_error(tmp_path):
    (tmp_path / "items.csv").write_text(ITEMS, encoding="utf-8")
    mapping = tmp_path / "items.toml"
    mapping.write_text(
        'table = "items"\n[columns]\nitem_id = "product_id"\n[values.brand]\nx = "y"\n',
        encoding="utf-8",
    )
    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(SchemaError, match=r"\[values.brand\] translates items.brand"):
        ingest(ws, tmp_path / "items.csv", mapping=mapping)
    ws.close()


def test_a_mapping_overrides_only_the_columns_it_names(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    mapping = tmp_path / "orders.toml"
    # it names two columns; order_id is recognised from its header as before
    mapping.write_text(
        'table = "orders"\n[columns]\nts = "order_purchase_timestamp"\namount = "payment_value"\n',
        encoding="utf-8",
    )
    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, tmp_path / "orders.csv", mapping=mapping)
    assert report.mapping["order_id"] == "order_id"
    assert report.mapping["user_id"] == "customer_id"
    assert report.mapping["ts"] == "order_purchase_timestamp"
    assert report.accepted == 2
    ws.close()
