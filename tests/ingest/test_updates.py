"""Corrections: changed rows are counted and applied on request; orders without amounts get
them from their lines; amounts that disagree with their lines are reported."""

from __future__ import annotations

import pytest

from portrait import init_workspace, open_workspace
from portrait.config import Config, ShopConfig
from portrait.ingest import ingest
from portrait.pipeline import build

from support import run_cli


@pytest.fixture(scope="module")
def exported(demo_shop, tmp_path_factory):
    """The demo's real orders (without their amount column) and order lines, as CSV files."""
    folder = tmp_path_factory.mktemp("export")
    with open_workspace(demo_shop.path) as ws:
        orders = ws.table("orders").to_pandas()
        lines = ws.table("order_items").to_pandas()
    orders = orders[orders.user_id.notna()]
    orders[["order_id", "user_id", "ts", "status"]].to_csv(folder / "orders.csv", index=False)
    lines = lines[lines.order_id.isin(orders.order_id)]
    lines[["order_id", "line", "item_id", "quantity", "unit_price"]].to_csv(
        folder / "order_items.csv", index=False
    )
    return folder, orders, lines


def _workspace(path):
    return init_workspace(path, Config(shop=ShopConfig(timezone="Europe/London")))


def test_orders_without_amounts_get_them_from_their_lines(exported, tmp_path):
    folder, orders, lines = exported
    ws = _workspace(tmp_path / "ws")
    ingest(ws, folder / "order_items.csv", table="order_items")
    ingest(ws, folder / "orders.csv", table="orders")
    assert ws.table("orders").amount.count().execute() == 0  # the file has no amounts
    result = build(ws, stages=["features"])
    assert not any(n.code == "amount_disagrees" for n in result.notes)
    # by hand: quantity x unit price over each customer's completed orders
    lines = lines.assign(value=lines.quantity * lines.unit_price.astype(float))
    per_order = lines.groupby("order_id").value.sum()
    done = orders[orders.status == "completed"]
    expected = done.assign(v=done.order_id.map(per_order).fillna(0)).groupby("user_id").v.sum()
    f = ws.table("features").to_pandas().set_index("user_id")
    assert f.monetary.loc[expected.index].to_numpy() == pytest.approx(expected.to_numpy())
    assert f.monetary["12347"] > 0
    ws.close()


def test_changed_orders_are_counted_then_applied_with_update(exported, tmp_path):
    folder, orders, lines = exported
    ws = _workspace(tmp_path / "ws")
    ingest(ws, folder / "order_items.csv", table="order_items")
    ingest(ws, folder / "orders.csv", table="orders")
    build(ws, stages=["features"])
    before = ws.table("features").to_pandas().set_index("user_id").monetary
    # the same orders again, now with amounts: twice their lines for customer 12347's
    value = (lines.quantity * lines.unit_price.astype(float)).groupby(lines.order_id).sum()
    amounts = orders.assign(amount=orders.order_id.map(value).fillna(0.0).round(2))
    mine = amounts.user_id == "12347"
    amounts.loc[mine, "amount"] *= 2
    path = tmp_path / "orders_with_amounts.csv"
    amounts[["order_id", "user_id", "ts", "status", "amount"]].to_csv(path, index=False)
    ws.close()

    kept = run_cli("ingest", str(path), "--table", "orders", "-w", str(tmp_path / "ws"))
    assert kept.returncode == 0, kept.stderr
    assert f"duplicates {len(amounts):,}" in kept.stdout
    assert f"{len(amounts):,} of the duplicates are stored with other values" in kept.stdout
    assert "--mode update" in kept.stdout
    applied = run_cli(
        "ingest", str(path), "--table", "orders", "--mode", "update", "-w", str(tmp_path / "ws")
    )
    assert applied.returncode == 0, applied.stderr
    assert f"updated {len(amounts):,} + duplicates 0" in applied.stdout

    with open_workspace(tmp_path / "ws") as ws:
        stored = ws.table("orders").to_pandas().set_index("order_id")
        assert stored.amount.notna().all()
        assert stored.status.to_dict() == orders.set_index("order_id").status.to_dict()
        result = build(ws, stages=["features"])
        after = ws.table("features").to_pandas().set_index("user_id").monetary
        assert after["12347"] == pytest.approx(2 * before["12347"], rel=1e-6)
        others = after.index != "12347"
        expected = before[after.index[others]].to_numpy()
        assert after[others].to_numpy() == pytest.approx(expected, abs=0.01)  # cents
        # the doubled orders disagree with their lines, and the build says how many
        note = next(n for n in result.notes if n.code == "amount_disagrees")
        assert note.values["orders"] == int((mine & (amounts.amount > 0.01)).sum())
        ingests = ws.table("ingests").to_pandas()
        assert len(ingests) == 4


def test_replace_empties_the_table_first(exported, tmp_path):
    folder, orders, _ = exported
    ws = _workspace(tmp_path / "ws")
    ingest(ws, folder / "orders.csv", table="orders")
    half = orders.iloc[: len(orders) // 2]
    path = tmp_path / "half.csv"
    half[["order_id", "user_id", "ts", "status"]].to_csv(path, index=False)
    report = ingest(ws, path, table="orders", mode="replace")
    assert report.replaced == len(orders) and report.accepted == len(half)
    assert report.balanced and ws.count("orders") == len(half)
    ws.close()
