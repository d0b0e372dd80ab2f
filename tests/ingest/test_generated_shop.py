"""A generated shop ingests completely: every table, both formats, nothing rejected."""

from __future__ import annotations

import pytest

from portrait.datasets.generator import WRITTEN, generate_shop
from portrait.ingest import ingest

from support import run_cli


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_generated_table_ingests_without_rejects(ws, tmp_path, fmt):
    written = generate_shop(tmp_path / "shop", users=2_000, seed=3, fmt=fmt)
    for name in WRITTEN:
        report = ingest(ws, tmp_path / "shop" / f"{name}.{fmt}", table=name)
        assert (report.read, report.rejected) == (written[name], 0), (name, report.reasons)
        assert report.accepted == written[name], name
        assert report.ignored == [], name  # every generated column is recognised
    # money survives as decimals: order amounts equal their lines minus the discount
    orders, lines = ws.table("orders"), ws.table("order_items")
    per_order = lines.group_by("order_id").aggregate(
        total=(lines.quantity * lines.unit_price).sum()
    )
    joined = orders.join(per_order, "order_id")
    gap = (joined.total - joined.discount.fill_null(0) - joined.amount).abs().max().execute()
    assert gap <= 0.01


def test_generate_command(tmp_path):
    result = run_cli("generate", "--users", "500", "--format", "csv", "--out", str(tmp_path / "g"),
                     "--tables", "users,events")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["events.csv", "users.csv"]
    assert "users: 500 rows" in result.stdout
