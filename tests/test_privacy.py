"""PII is pseudonymised on the way in: never stored raw, stable per person, keyed per shop."""

from __future__ import annotations

from portrait import init_workspace
from portrait.ingest import ingest

USERS = (
    "会员ID,手机号,邮箱,姓名,收货地址,城市\n"
    "u1,138 0013 8000,Li.Lei@Example.com,李雷,上海市 浦东新区 1号,上海\n"
    "u2,+86 13800138000,li.lei@example.com ,李雷,北京市,北京\n"
    "u3,,,,,\n"
)


def _ingest(ws, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    ingest(ws, path, table="users")
    return ws.table("users").order_by("user_id").to_pyarrow().to_pylist()


def test_raw_pii_is_never_stored(ws, tmp_path):
    rows = _ingest(ws, tmp_path)
    raw_values = ["13800138000", "138 0013 8000", "Li.Lei@Example.com", "李雷", "浦东"]
    for row in rows:
        for column in ("phone", "email", "name", "address"):
            value = row[column]
            assert value is None or (len(value) == 64 and not any(r in value for r in raw_values))
    ws.close()
    blob = (ws.path / "warehouse.duckdb").read_bytes()
    for raw in raw_values:
        assert raw.encode() not in blob
    assert "上海".encode() in blob  # non-PII columns are kept as they are


def test_same_person_same_pseudonym_across_formats(ws, tmp_path):
    u1, u2, u3 = _ingest(ws, tmp_path)
    assert u1["phone"] == u2["phone"]  # spaces and +86 do not matter
    assert u1["email"] == u2["email"]  # nor case and stray spaces
    assert u1["address"] != u2["address"]
    assert u3["phone"] is None and u3["email"] is None


def test_pseudonyms_are_keyed_per_workspace(tmp_path):
    a = init_workspace(tmp_path / "a")
    b = init_workspace(tmp_path / "b")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    pa, pb = _ingest(a, tmp_path / "x")[0], _ingest(b, tmp_path / "y")[0]
    assert pa["phone"] != pb["phone"]
    assert (a.path / "pii.key").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_rejected_rows_keep_pii_pseudonymised(ws, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("user_id,phone,birth_year\nu9,13912345678,eighteen\n", encoding="utf-8")
    report = ingest(ws, path, table="users")
    assert report.rejected == 1
    raw = ws.table("rejects").raw.execute()[0]
    assert "13912345678" not in raw and "eighteen" in raw
