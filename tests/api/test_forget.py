"""Forgetting a customer: afterwards no table, snapshot, event file, cache file, export or
audit line of the workspace names them or their aliases."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from portrait import open_workspace
from portrait.api.events import fold
from portrait.api.snapshot import publish
from portrait.ingest import ingest

from support import run_cli

PERSON, ALIAS, OTHER = "17611", "17611-member-card", "14911"  # customers with reviews


def _pattern(ids: list[str]) -> str:
    return '"(' + "|".join(ids) + r')(\.0+)?"'


def _named_in_duckdb(path: Path, ids: list[str]) -> list[str]:
    """``table.column`` of every string cell that is one of ``ids`` or quotes one (JSON)."""
    found = []
    with duckdb.connect(str(path), read_only=True) as con:
        for (table,) in con.execute("SHOW TABLES").fetchall():
            for name, kind, *_ in con.execute(f'DESCRIBE "{table}"').fetchall():
                if kind != "VARCHAR":
                    continue
                n = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE list_contains($ids, "{name}") '
                    f'OR regexp_matches("{name}", $pattern)',
                    {"ids": ids, "pattern": _pattern(ids)},
                ).fetchone()[0]
                if n:
                    found.append(f"{table}.{name}")
    return found


def _named_in_sqlite(path: Path, ids: list[str]) -> list[str]:
    found = []
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str) and (
                        value in ids or any(f'"{i}"' in value for i in ids)
                    ):
                        found.append(table)
    finally:
        con.close()
    return found


def _named_in_files(folder: Path, ids: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix in (".duckdb", ".sqlite", ".wal", ".lock"):
            continue
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            cells = [str(v) for c in table.columns for v in c.to_pylist() if v is not None]
        else:
            cells = [path.read_text(encoding="utf-8", errors="replace")]
        if any(i == c or f'"{i}"' in c or f",{i}\n" in c or f"\n{i}," in c
               for c in cells for i in ids):  # fmt: skip
            found.append(str(path.relative_to(folder)))
    return found


def everywhere(path: Path, ids: list[str]) -> list[str]:
    """Every place in the workspace (and its exports) that still names one of ``ids``."""
    found = [f"warehouse:{w}" for w in _named_in_duckdb(path / "warehouse.duckdb", ids)]
    serving = path / "serving"
    for snap in serving.glob("warehouse-*.duckdb"):
        found += [f"{snap.name}:{w}" for w in _named_in_duckdb(snap, ids)]
    for store in serving.glob("profiles-*.sqlite"):
        found += [f"{store.name}:{w}" for w in _named_in_sqlite(store, ids)]
    found += _named_in_files(path, ids)
    found += _named_in_files(path.parent / "exports", ids)
    return found


def _event(i: int, user_id: str, kind: str = "cart") -> dict:
    return {"event_id": f"f-{user_id}-{i}", "user_id": user_id, "item_id": "22383",
            "event_type": kind, "ts": datetime.now(UTC).isoformat()}  # fmt: skip


def _prepare(shop, tmp_path: Path) -> Path:
    """The person with an alias, events folded and waiting, a cached model response that names
    them and two audience exports; published and served."""
    path = shop.paths["north"]
    links = tmp_path / "identities.csv"
    links.write_text(f"alias,person\n{ALIAS},{PERSON}\n", encoding="utf-8")
    events = [_event(i, who) for i, who in enumerate([PERSON, ALIAS, OTHER, PERSON])]
    assert shop.call("POST", "/v1/shops/north/events", json=events).json()["accepted"] == 4
    cache = path / "artifacts" / "llm" / "customer_persona"
    cache.mkdir(parents=True)
    (cache / "a1.json").write_text(json.dumps({"facts": {"user_id": PERSON}, "text": "..."}))
    (cache / "b2.json").write_text(json.dumps({"facts": {"user_id": OTHER}, "text": "..."}))
    members = pa.table({"user_id": [PERSON, OTHER, ALIAS], "clv": [1.0, 2.0, 3.0]})
    exports = path.parent / "exports"
    exports.mkdir()
    pa_csv.write_csv(members, exports / "vip.csv")
    pq.write_table(members, exports / "vip.parquet")
    with open_workspace(path) as ws:
        ingest(ws, links, table="identities")
        fold(ws)
        for fmt in ("csv", "parquet"):
            ws.append("audience_exports", [{"name": "vip", "path": str(exports / f"vip.{fmt}"),
                                            "format": fmt, "rows": 3}])  # fmt: skip
        published = publish(ws)
    later = [_event(9, PERSON, "view"), _event(9, ALIAS, "view")]  # waiting in the store
    assert shop.call("POST", "/v1/shops/north/events", json=later).json()["accepted"] == 2
    deadline = time.monotonic() + 3
    while shop.get("/v1/shops/north").json()["snapshot"]["run_id"] != published.run_id:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return path


def test_forgetting_leaves_no_trace(shop, tmp_path):
    path = _prepare(shop, tmp_path)
    ids = [PERSON, ALIAS]
    assert shop.get(f"/v1/shops/north/customers/{ALIAS}").json()["profile"]["user_id"] == PERSON
    before = everywhere(path, ids)
    assert {"warehouse:users.user_id", "warehouse:events.user_id", "warehouse:identities.alias",
            "vip.csv", "vip.parquet"} <= {b.rsplit("/", 1)[-1] for b in before}  # fmt: skip
    assert any("incoming" in b for b in before) and any("audit.jsonl" in b for b in before)

    r = shop.call("DELETE", f"/v1/shops/north/customers/{PERSON}")
    assert r.status_code == 200, r.text
    report = r.json()
    assert PERSON not in r.text
    removed = {t["table"] for t in report["tables"]}
    assert {
        "users",
        "orders",
        "order_items",
        "reviews",
        "review_sentiment",
        "features",
        "tags",
        "segments",
        "value",
        "recommendations",
        "events",
        "identities",
    } <= removed
    assert report["ids"] == 2 and report["cache_files"] == 1 and report["export_files"] == 2
    assert report["event_files"] >= 2 and report["requested_by"].startswith("api-key:")

    assert everywhere(path, ids) == []
    with open_workspace(path) as ws:
        forgotten = ws.table("forgotten").to_pyarrow().to_pylist()
        assert fold(ws).events == 0  # only theirs were waiting
    assert len(forgotten) == 1 and forgotten[0]["rows"] == report["rows"] > 0
    assert PERSON not in json.dumps(forgotten, default=str)
    assert everywhere(path, ids) == []
    # what was not theirs is still there
    assert shop.get(f"/v1/shops/north/customers/{OTHER}").status_code == 200
    assert (path / "artifacts" / "llm" / "customer_persona" / "b2.json").exists()
    exported = path.parent / "exports" / "vip.parquet"
    assert pq.read_table(exported).column("user_id").to_pylist() == [OTHER]
    for who in ids:  # (asking about an id is itself audited, as any read of a customer)
        assert shop.get(f"/v1/shops/north/customers/{who}").status_code == 404
        assert shop.get(f"/v1/shops/north/customers/{who}/realtime").status_code == 404


def test_the_cli_forgets_too(shop):
    path = shop.paths["north"]
    assert shop.get(f"/v1/shops/north/customers/{OTHER}").status_code == 200
    assert run_cli("forget", OTHER, "-w", str(path)).returncode != 0  # asks first; no tty
    result = run_cli("forget", OTHER, "-w", str(path), "--yes")
    assert result.returncode == 0, result.stderr
    assert "forgotten" in result.stdout and OTHER not in result.stdout
    assert everywhere(path, [OTHER]) == []
    deadline = time.monotonic() + 3
    while shop.get(f"/v1/shops/north/customers/{OTHER}").status_code != 404:
        assert time.monotonic() < deadline, "the server still serves a forgotten customer"
        time.sleep(0.05)
