"""Line-true reading: every physical line of a text file ends in one row or one reject.

Each test reproduces a problem seen on real exports (issue 11, items 1, 2, 3 and 9) with a
small file of its own.
"""

from __future__ import annotations

import json

import pytest

from portrait.errors import SourceError
from portrait.ingest import ingest
from portrait.ingest.parse import TimestampFormat, detect_timestamp_format
from portrait.ingest.readers import scan_lines, sniff_delimiter

from support import run_cli


def _rejects(ws) -> list[dict]:
    t = ws.table("rejects")
    return t.order_by("row_number").select("row_number", "raw", "reason").to_pyarrow().to_pylist()


def test_one_unterminated_quote_does_not_swallow_the_rest_of_the_file(ws, tmp_path):
    lines = ["order_id,user_id,order_time,amount"]
    lines += [f"{i},u{i % 97},2024-03-01 10:00:00,12.5" for i in range(1, 50_002)]
    lines[40_001] = '40001,u37,2024-03-01 10:00:00,"12.5'
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(ws, path, table="orders")
    assert (report.read, report.accepted, report.rejected) == (50_001, 50_000, 1)
    (reject,) = _rejects(ws)
    assert reject["row_number"] == 40_002  # the file line: the header is line 1
    assert "unterminated quote" in reject["reason"]
    assert '"12.5' in json.loads(reject["raw"])["line"]


def test_a_stray_quote_near_the_top_of_a_chinese_file_is_one_reject(ws, tmp_path):
    path = tmp_path / "orders.csv"
    rows = "".join(f"B{i},u{i},2024-03-03 10:00:00,{i}\n" for i in range(30))
    path.write_text(
        '订单号,会员ID,下单时间,实付金额\nA001,u1,2024-03-01 10:00:00,"99.50\n' + rows,
        encoding="utf-8",
    )
    report = ingest(ws, path, table="orders")
    assert (report.read, report.accepted, report.rejected) == (31, 30, 1)
    assert report.delimiter == ","
    assert _rejects(ws)[0]["row_number"] == 2
    # and with the delimiter given, as the old advice said: the same result, no sniffing error
    again = tmp_path / "again.csv"
    again.write_bytes(path.read_bytes().replace(b"B0,", b"C0,"))
    assert ingest(ws, again, table="orders", delimiter=",").rejected == 1


def test_parser_and_value_rejects_share_one_numbering_the_file_line(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,user_id,order_time\n1,u1,2024-03-01\n2,u2,2024-03-02,EXTRA,FIELDS|x|y|z\n"
        "3,u3,not a date\n4,u4,2024-03-04\n5,u5,also not a date\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="orders")
    assert (report.read, report.accepted, report.rejected) == (5, 2, 3)
    assert report.delimiter == ","  # not '|', though one row holds more pipes than commas
    numbers = {r["row_number"]: r["reason"] for r in _rejects(ws)}
    assert sorted(numbers) == [3, 4, 6]
    assert "more fields" in numbers[3] and "not a date" in numbers[4]


def test_value_rejects_are_numbered_by_line_after_a_multi_line_field(ws, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text(
        'review_id,user_id,rating,text\nr1,u1,5,"two\nlines"\nr2,u2,9,ok\n', encoding="utf-8"
    )
    report = ingest(ws, path, table="reviews")
    assert (report.read, report.accepted, report.rejected) == (2, 1, 1)
    assert _rejects(ws)[0]["row_number"] == 4


def test_whitespace_separated_columns_are_read_and_sniffed(ws, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(
        "order_id   user_id   order_time            amount\n"
        "1          u1        2024-03-01 10:00:00   12.5\n"
        "2          u2        2024-03-02 11:00:00   13\n"
        "3          u3        2024-03-03 12:00:00   7\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="orders")
    assert report.delimiter == "whitespace"
    assert (report.read, report.accepted) == (3, 3)
    ts = ws.table("orders").order_by("order_id").ts.execute()
    assert str(ts.iloc[1]) == "2024-03-02 11:00:00"
    plain = tmp_path / "plain.txt"
    plain.write_text("order_id user_id order_time\n7 u7 2024-03-01\n8 u8 2024-03-02\n", "utf-8")
    assert ingest(ws, plain, table="orders", delimiter="whitespace").accepted == 2


def test_whitespace_is_a_delimiter_value_on_the_command_line(tmp_path):
    shop = tmp_path / "shop"
    assert run_cli("init", str(shop)).returncode == 0
    path = tmp_path / "report.txt"
    path.write_text("order_id  user_id  order_time\n1  u1  2024-03-01\n", encoding="utf-8")
    result = run_cli("ingest", str(path), "-w", str(shop), "--table", "orders",
                     "--delimiter", "whitespace")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "read 1 = accepted 1" in result.stdout and "whitespace" in result.stdout


def test_an_xlsx_named_csv_is_read_as_excel(ws, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["order_id", "user_id", "order_time"])
    sheet.append(["1", "u1", "2024-03-01 10:00:00"])
    book.save(path := tmp_path / "orders.csv")
    report = ingest(ws, path, table="orders")
    assert report.format == "excel" and report.accepted == 1


def test_a_broken_xls_says_what_to_do_in_one_sentence(ws, tmp_path):
    path = tmp_path / "orders.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    with pytest.raises(SourceError) as err:
        ingest(ws, path, table="orders")
    message = str(err.value)
    assert "xlsx" in message and "use xlrd" not in message and "\n" not in message


def test_mixed_unambiguous_date_formats_are_each_read_in_their_own(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,user_id,order_time\n1,u1,2024-03-01 10:00:00\n2,u2,2024-03-02 11:00:00\n"
        "3,u3,2024/03/03 12:00:00\n4,u4,15/03/2024 09:00\n5,u5,2024-03-05 08:00:00\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="orders")
    assert (report.accepted, report.rejected) == (5, 0)
    got = dict(ws.table("orders").select("order_id", "ts").to_pyarrow().to_pylist()[i].values()
               for i in range(5))  # fmt: skip
    assert str(got["3"]) == "2024-03-03 12:00:00" and str(got["4"]) == "2024-03-15 09:00:00"


def test_only_ambiguous_dates_are_rejected_with_a_hint_naming_ts_format(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,user_id,order_time\n1,u1,03/15/2024\n2,u2,03/16/2024\n3,u3,25/03/2024\n"
        "4,u4,04/05/2024\n5,u5,2024-03-06\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="orders")
    assert (report.accepted, report.rejected) == (4, 1)
    (reject,) = _rejects(ws)
    assert reject["row_number"] == 5 and "--ts-format" in reject["reason"]


def test_detected_formats_list_the_column_s_formats_most_first():
    fmt = detect_timestamp_format(
        ["2024-03-01", "2024-03-02", "20240303", "2024-03-04"], column="t", source="f",
        timezone="UTC",
    )  # fmt: skip
    assert fmt == TimestampFormat("iso", "UTC", ("%Y%m%d",))


def test_the_byte_scan_counts_lines_blank_lines_and_embedded_newlines(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b'a,b\n1,"x\r\ny"\n\n2,3\r\n4,5\n\n')
    scan = scan_lines(path)
    assert (scan.lines, scan.embedded, scan.blank, scan.trailing_blank) == (7, 1, 2, 1)
    assert not scan.line_simple


def test_the_sniffer_ignores_a_stray_quote_and_one_long_row():
    lines = ["a,b,c", '1,"2,3', "4,5,6|7|8|9|10", "7,8,9", "1,2,3"]
    assert sniff_delimiter(lines) == ","
    assert sniff_delimiter(["a  b  c", "1  2  3", "4  5  6"]) == "whitespace"


def test_nul_bytes_and_a_bom_in_the_middle_do_not_refuse_the_file(ws, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(
        b"order_id,user_id,order_time\n1,u1,2024-03-01\n2,u\x002,2024-03-02\n"
        b"\xef\xbb\xbf3,u3,2024-03-03\n"
    )
    report = ingest(ws, path, table="orders")
    assert (report.read, report.accepted, report.rejected) == (3, 2, 1)
    assert "NUL" in _rejects(ws)[0]["reason"]


def test_a_real_xls_file_is_read(tmp_path):
    """A BIFF8 workbook (written by xlwt, kept in tests/ingest/data) with Chinese headers."""
    from pathlib import Path

    from portrait import init_workspace
    from portrait.ingest import ingest

    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, Path(__file__).parent / "data" / "orders.xls", table="orders")
    assert report.format == "excel" and report.read == report.accepted == 3
    assert report.mapping["order_id"] == "订单号"
    amounts = ws.table("orders").order_by("order_id").amount.execute().astype(float).tolist()
    assert amounts == [99.5, 1280.0, 45.0]
    ws.close()
