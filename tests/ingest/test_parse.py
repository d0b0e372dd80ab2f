"""Values from real exports parse to the right types; timestamps land in UTC."""

from __future__ import annotations

from datetime import datetime

import pytest

from portrait.errors import SourceError
from portrait.ingest import ingest
from portrait.ingest.parse import detect_timestamp_format


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["1511539200", "1512316799"], "epoch_s"),
        (["1511539200000", "1512316799123"], "epoch_ms"),
        (["2024-03-01T14:05:00", "2024-03-01 14:05:00.123"], "iso"),
        (["20240301", "20241231"], "%Y%m%d"),
        (["12/1/2010 8:26", "12/13/2010 18:05"], "%m/%d/%Y %H:%M"),
        (["13/1/2010 8:26", "31/12/2010 18:05"], "%d/%m/%Y %H:%M"),
        (["2024年3月1日 14:05", "2024年12月31日 09:00"], "%Y年%m月%d日 %H:%M"),
        (["31-Jul-18", "1-Aug-18"], "%d-%b-%y"),
    ],
)
def test_timestamp_formats_are_detected(values, fmt):
    assert detect_timestamp_format(values, column="t", source="f", timezone="UTC").format == fmt


def test_no_known_format_is_a_clear_error():
    with pytest.raises(SourceError, match="--ts-format"):
        detect_timestamp_format(["someday"], column="t", source="f", timezone="UTC")


def _orders(ws, tmp_path, times):
    path = tmp_path / "o.csv"
    rows = "".join(f"{i},u{i},{t}\n" for i, t in enumerate(times))
    path.write_text("order_id,user_id,order_time\n" + rows, encoding="utf-8")
    return ingest(ws, path, table="orders")


def _stored(ws):
    return [t.to_pydatetime() for t in ws.table("orders").order_by("order_id").ts.execute()]


def test_local_times_are_stored_in_utc(shanghai_ws, tmp_path):
    _orders(shanghai_ws, tmp_path, ["2024年3月1日 14:05", "2024年3月2日 00:30"])
    assert _stored(shanghai_ws) == [datetime(2024, 3, 1, 6, 5), datetime(2024, 3, 1, 16, 30)]


def test_epochs_are_instants_whatever_the_shop_zone(shanghai_ws, tmp_path):
    _orders(shanghai_ws, tmp_path, ["1709301900"])
    assert _stored(shanghai_ws) == [datetime(2024, 3, 1, 14, 5)]


def test_explicit_format_and_zone(ws, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("order_id,user_id,order_time\n1,u1,01.03.2024 14:05\n", encoding="utf-8")
    ingest(ws, path, table="orders", ts_format="%d.%m.%Y %H:%M", timezone="Europe/London")
    assert _stored(ws) == [datetime(2024, 3, 1, 14, 5)]  # GMT in March
    path.write_text("order_id,user_id,order_time\n2,u2,01.07.2024 14:05\n", encoding="utf-8")
    ingest(ws, path, table="orders", ts_format="%d.%m.%Y %H:%M", timezone="Europe/London")
    assert _stored(ws)[1] == datetime(2024, 7, 1, 13, 5)  # BST: one hour ahead of UTC


def test_money_integers_and_ids(ws, tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text(
        "order_id,item_id,quantity,unit_price\n"
        '1,17850.0,2.0,"¥1,234.50"\n'
        "1,A-1,2.5,3\n"
        "2,B,3,￥0.10\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="order_items")
    assert (report.accepted, report.rejected) == (2, 1)
    rows = ws.table("order_items").order_by("order_id").to_pyarrow().to_pylist()
    assert rows[0]["item_id"] == "17850" and rows[0]["quantity"] == 2
    assert str(rows[0]["unit_price"]) == "1234.5000"
    assert str(rows[1]["unit_price"]) == "0.1000"
    reason = ws.table("rejects").reason.execute()[0]
    assert "quantity '2.5' is not a whole number" in reason
    # lines without a line column are numbered within their order, in file order
    assert [r["line"] for r in rows] == [1, 1]


def test_a_row_gives_every_reason_at_once(ws, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("review_id,rating,ts\nr1,9,2999-01-01\n", encoding="utf-8")
    ingest(ws, path, table="reviews")
    reason = ws.table("rejects").reason.execute()[0]
    assert "rating '9' is above 5" in reason and "in the future" in reason
