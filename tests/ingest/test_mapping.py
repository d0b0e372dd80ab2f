"""Column mapping: suggestions from English and Chinese headers, mapping files, dry runs."""

from __future__ import annotations

import pytest

from portrait.errors import SchemaError
from portrait.ingest import ingest, suggest_columns


@pytest.mark.parametrize(
    ("table", "headers", "expected"),
    [
        ("orders", ["订单号", "会员ID", "下单时间", "实付金额"],
         {"order_id": "订单号", "user_id": "会员ID", "ts": "下单时间", "amount": "实付金额"}),
        ("orders", ["订单编号", "用户ID", "支付时间"],
         {"order_id": "订单编号", "user_id": "用户ID", "ts": "支付时间"}),
        ("order_items", ["订单号", "商品ID", "数量", "单价"],
         {"order_id": "订单号", "item_id": "商品ID", "quantity": "数量", "unit_price": "单价"}),
        ("items", ["商品ID", "商品名称", "品牌"],
         {"item_id": "商品ID", "title": "商品名称", "brand": "品牌"}),
        ("reviews", ["用户ID", "商品ID", "评价内容", "评分"],
         {"user_id": "用户ID", "item_id": "商品ID", "text": "评价内容", "rating": "评分"}),
        ("orders", ["InvoiceNo", "CustomerID", "InvoiceDate"],
         {"order_id": "InvoiceNo", "user_id": "CustomerID", "ts": "InvoiceDate"}),
        ("events", ["User Id", "Item-ID", "Behavior Type", "Timestamp"],
         {"user_id": "User Id", "item_id": "Item-ID", "event_type": "Behavior Type",
          "ts": "Timestamp"}),
    ],
)  # fmt: skip
def test_suggestions_from_common_headers(table, headers, expected):
    assert suggest_columns(table, headers) == expected


def test_specific_synonym_beats_generic(tmp_path):
    # 会员ID is the customer, not the generic 会员 column
    assert suggest_columns("orders", ["会员", "会员ID"])["user_id"] == "会员ID"


def test_dry_run_shows_the_mapping_and_writes_nothing(ws, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("订单号,会员ID,下单时间,备注\nA1,u1,2024-03-01 10:00,hi\n", encoding="utf-8")
    report = ingest(ws, path, table="orders", dry_run=True)
    assert report.mapping == {"order_id": "订单号", "user_id": "会员ID", "ts": "下单时间"}
    assert report.ignored == ["备注"]
    assert (report.read, report.accepted) == (1, 1)
    assert report.sample[0]["order_id"] == "A1"
    assert ws.count("orders") == 0 and ws.count("ingests") == 0 and ws.count("runs") == 0


def test_mapping_file_with_values_and_constants(ws, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("单据,客户,时间,状态\nA1,u1,2024/03/01 10:00,已签收\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'table = "orders"\n[columns]\norder_id = "单据"\nuser_id = "客户"\nts = "时间"\n'
        'status = "状态"\n[values.status]\n"已签收" = "completed"\n'
        '[constants]\nchannel = "tmall"\n[options]\ntimezone = "Asia/Shanghai"\n',
        encoding="utf-8",
    )
    report = ingest(ws, path, mapping=mapping)
    assert report.accepted == 1
    row = ws.table("orders").to_pyarrow().to_pylist()[0]
    assert (row["status"], row["channel"], str(row["ts"])) == (
        "completed", "tmall", "2024-03-01 02:00:00"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('table = "order"\n', "no canonical table 'order'"),
        ('table = "orders"\n[columns]\nuserid = "x"\n', "orders has no column 'userid'"),
        ('table = "orders"\n[options]\ncharset = "gbk"\n', "unknown option 'charset'"),
        ('[columns]\norder_id = "x"\n', 'add table = "orders"'),
        ('table = "orders"\ncolumns = [\n', "not valid TOML"),
    ],
)
def test_bad_mapping_files_name_the_problem(ws, tmp_path, text, message):
    mapping = tmp_path / "m.toml"
    mapping.write_text(text, encoding="utf-8")
    path = tmp_path / "o.csv"
    path.write_text("x\n1\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=message):
        ingest(ws, path, mapping=mapping)


def test_mapped_column_missing_from_the_file(ws, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text('table = "users"\n[columns]\nuser_id = "会员ID"\n', encoding="utf-8")
    path = tmp_path / "u.csv"
    path.write_text("客户编号\n1\n", encoding="utf-8")
    with pytest.raises(
        SchemaError, match="no column '会员ID' for user_id; its columns are 客户编号"
    ):
        ingest(ws, path, mapping=mapping)
