"""The same rows in every supported format and encoding give the same warehouse rows."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portrait.ingest import ingest

ROWS = [
    {"review_id": "r1", "user_id": "u1", "rating": "5", "text": "物流很快，质量不错",
     "ts": "2024-03-01 14:05:00"},
    {"review_id": "r2", "user_id": "u2", "rating": "2", "text": "Arrived broken,\nsecond line",
     "ts": "2024-03-02 09:00:00"},
    {"review_id": "r3", "user_id": "u3", "rating": "4", "text": 'Café "ok"; würde',
     "ts": "2024-03-03 23:59:59"},
]  # fmt: skip
HEADER = list(ROWS[0])


def _csv(sep: str = ",") -> str:
    def q(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in f'{sep}"\n') else v

    lines = [sep.join(HEADER)] + [sep.join(q(r[c]) for c in HEADER) for r in ROWS]
    return "\n".join(lines) + "\n"


def _write(tmp_path, kind: str):
    if kind == "csv":
        (p := tmp_path / "r.csv").write_text(_csv(), encoding="utf-8")
    elif kind == "tsv":
        (p := tmp_path / "r.tsv").write_text(_csv("\t"), encoding="utf-8")
    elif kind == "semicolon":
        (p := tmp_path / "r.csv").write_text(_csv(";"), encoding="utf-8")
    elif kind == "bom":
        (p := tmp_path / "r.csv").write_bytes(_csv().encode("utf-8-sig"))
    elif kind == "crlf":
        (p := tmp_path / "r.csv").write_bytes(_csv().replace("\n", "\r\n").encode())
    elif kind == "gzip":
        (p := tmp_path / "r.csv.gz").write_bytes(gzip.compress(_csv().encode()))
    elif kind == "gb18030":
        (p := tmp_path / "r.csv").write_bytes(_csv().encode("gb18030"))
    elif kind == "jsonl":
        p = tmp_path / "r.jsonl"
        p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), "utf-8")
    elif kind == "parquet":
        pq.write_table(pa.Table.from_pylist(ROWS), p := tmp_path / "r.parquet")
    elif kind == "excel":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(HEADER)
        for r in ROWS:
            sheet.append([r[c] for c in HEADER])
        book.save(p := tmp_path / "r.xlsx")
    return p


KINDS = ["csv", "tsv", "semicolon", "bom", "crlf", "gzip", "gb18030", "jsonl", "parquet", "excel"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_gives_the_same_rows(ws, tmp_path, kind):
    report = ingest(ws, _write(tmp_path, kind), table="reviews")
    assert (report.read, report.accepted, report.rejected) == (3, 3, 0), report.reasons
    got = ws.table("reviews").order_by("review_id").to_pyarrow().to_pylist()
    # a CRLF file's quoted multi-line field holds CRLF itself
    texts = [r["text"].replace("\r\n", "\n") if kind == "crlf" else r["text"] for r in got]
    assert texts == [r["text"] for r in ROWS]
    assert [r["rating"] for r in got] == [5, 2, 4]
    assert str(got[0]["ts"]) == "2024-03-01 14:05:00"  # UTC workspace: wall time unchanged


def test_latin1_is_detected(ws, tmp_path):
    path = tmp_path / "items.csv"
    path.write_bytes("item_id,title\n1,Café crème\n2,Señor Ñandú\n".encode("latin-1"))
    report = ingest(ws, path, table="items")
    assert report.encoding == "latin-1" and report.accepted == 2
    assert set(ws.table("items").title.execute()) == {"Café crème", "Señor Ñandú"}


def test_broken_json_line_is_a_reject_not_a_failed_file(ws, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(ROWS[0], ensure_ascii=False) + "\n{not json\n" + json.dumps(ROWS[1]) + "\n",
        encoding="utf-8",
    )
    report = ingest(ws, path, table="reviews")
    assert (report.read, report.accepted, report.rejected) == (3, 2, 1)
    reject = ws.table("rejects").to_pyarrow().to_pylist()[0]
    assert reject["row_number"] == 2 and "not a JSON object" in reject["reason"]
    assert "{not json" in reject["raw"]


def test_duplicate_keys_in_one_file_keep_the_first(ws, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("user_id,city\nu1,上海\nu2,北京\nu1,深圳\n", encoding="utf-8")
    report = ingest(ws, path, table="users")
    assert (report.accepted, report.duplicates) == (2, 1)
    cities = dict(ws.table("users").select("user_id", "city").to_pyarrow().to_pylist()[i].values()
                  for i in range(2))  # fmt: skip
    assert cities["u1"] == "上海"
