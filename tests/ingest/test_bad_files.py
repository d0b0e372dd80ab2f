"""Bad files: each gives one clear sentence or rejects rows with reasons, never a traceback.

Run through the real command line, as an operator would meet them.
"""

from __future__ import annotations

import os

import pytest

from portrait.errors import DataError, PortraitError, WorkspaceError

from support import run_cli

ORDERS_CSV = (
    "订单号,会员ID,下单时间,实付金额,订单状态\n"
    "A001,u1,2024-03-01 10:00:00,99.50,交易成功\n"
    'A002,u2,2024-03-02 11:30:00,"1,280.00",交易成功\n'
    "A003,u1,2024-03-05 09:15:00,45.00,交易关闭\n"
)


@pytest.fixture
def shop(tmp_path):
    result = run_cli("init", str(tmp_path / "shop"), "--timezone", "Asia/Shanghai")
    assert result.returncode == 0, result.stderr
    return tmp_path / "shop"


def _ingest(shop, path, *args):
    return run_cli("ingest", str(path), "-w", str(shop), *args)


def _one_clear_line(result, kind: type[PortraitError] = DataError) -> str:
    """One line that says what is wrong, with the exit code of its kind of error."""
    assert result.returncode == kind.exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_good_chinese_export_is_mapped_from_its_headers(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV, encoding="utf-8")
    result = _ingest(shop, path, "--table", "orders")
    assert result.returncode == 0, result.stderr
    assert "read 3 = accepted 3 + duplicates 0 + rejected 0" in result.stdout
    for canonical, header in [("order_id", "订单号"), ("user_id", "会员ID"), ("ts", "下单时间"),
                              ("amount", "实付金额"), ("status", "订单状态")]:  # fmt: skip
        assert any(canonical in ln and header in ln for ln in result.stdout.splitlines())


def test_missing_required_column(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("会员ID,实付金额\nu1,10\n", encoding="utf-8")
    line = _one_clear_line(_ingest(shop, path, "--table", "orders"))
    assert "order_id" in line and "ts" in line and "--mapping" in line


def test_unmapped_column_name_is_named_with_the_fix(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("单据号码,会员ID,下单时间\nX1,u1,2024-03-01 10:00\n", encoding="utf-8")
    line = _one_clear_line(_ingest(shop, path, "--table", "orders"))
    assert "单据号码" in line and "order_id" in line and "--mapping" in line


def test_unparseable_dates_are_rejected_with_reasons(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,user_id,order_time\n1,u1,2024-03-01 10:00:00\n2,u2,not a date\n"
        "3,u3,2024-13-45 10:00:00\n4,u4,2024-03-04 10:00:00\n",
        encoding="utf-8",
    )
    result = _ingest(shop, path, "--table", "orders")
    assert result.returncode == 0, result.stderr
    assert "read 4 = accepted 2 + duplicates 0 + rejected 2" in result.stdout
    shown = run_cli("rejects", "-w", str(shop))
    assert "not a date" in shown.stdout and "2024-13-45" in shown.stdout
    assert "is not a date/time" in shown.stdout


def test_dates_in_no_known_format_say_how_to_fix(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,user_id,order_time\n1,u1,Mar the 1st\n", encoding="utf-8")
    line = _one_clear_line(_ingest(shop, path, "--table", "orders"))
    assert "--ts-format" in line and "Mar the 1st" in line


def test_wrong_delimiter(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id;user_id;order_time\n1;u1;2024-03-01\n", encoding="utf-8")
    line = _one_clear_line(_ingest(shop, path, "--table", "orders", "--delimiter", ","))
    assert "delimiter" in line and "';'" in line
    # left to detection, the same file reads fine
    assert _ingest(shop, path, "--table", "orders").returncode == 0


def test_gbk_file_read_as_utf8_is_refused_and_detected_without_the_option(shop, tmp_path):
    path = tmp_path / "orders_gbk.csv"
    path.write_bytes(ORDERS_CSV.encode("gbk"))
    line = _one_clear_line(_ingest(shop, path, "--table", "orders", "--encoding", "utf-8"))
    assert "UTF-8" in line and "gbk" in line.lower()
    result = _ingest(shop, path, "--table", "orders")
    assert result.returncode == 0, result.stderr
    assert "encoding gb18030" in result.stdout
    assert "accepted 3" in result.stdout


def test_empty_file(shop, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty" in _one_clear_line(_ingest(shop, path, "--table", "orders"))


def test_header_only(shop, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("order_id,user_id,order_time\n", encoding="utf-8")
    assert "no data rows" in _one_clear_line(_ingest(shop, path, "--table", "orders"))


def test_binary_junk(shop, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(os.urandom(4096))
    assert "not a text file" in _one_clear_line(_ingest(shop, path, "--table", "orders"))


def test_duplicated_file_changes_nothing(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV, encoding="utf-8")
    assert _ingest(shop, path, "--table", "orders").returncode == 0
    again = _ingest(shop, path, "--table", "orders")
    assert again.returncode == 0
    assert "read 3 = accepted 0 + duplicates 3 + rejected 0" in again.stdout
    assert "ingested before" in again.stdout
    from portrait import open_workspace

    with open_workspace(shop) as ws:
        assert ws.count("orders") == 3
        assert ws.count("ingests") == 2


def test_ragged_rows_are_rejected_with_their_line(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,user_id,order_time\n1,u1,2024-03-01\n2,u2,2024-03-02,EXTRA,FIELDS\n"
        "3,u3,2024-03-03\n",
        encoding="utf-8",
    )
    result = _ingest(shop, path, "--table", "orders")
    assert result.returncode == 0, result.stderr
    assert "read 3 = accepted 2 + duplicates 0 + rejected 1" in result.stdout
    shown = run_cli("rejects", "-w", str(shop)).stdout
    assert "more fields than the header" in shown and "EXTRA" in shown


def test_unknown_table_and_preset(shop, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV, encoding="utf-8")
    assert "canonical table" in _one_clear_line(_ingest(shop, path, "--table", "order"))
    assert "presets are" in _one_clear_line(_ingest(shop, path, "--preset", "tmall"))


def test_not_a_workspace(tmp_path):
    line = _one_clear_line(run_cli("status", "-w", str(tmp_path)), WorkspaceError)
    assert "portrait init" in line
