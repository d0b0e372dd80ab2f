"""One person behind many ids: a marketplace export names the customer by a new id on every
order; a customers file links those ids to the person, and every stage sees the person."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from portrait import init_workspace
from portrait.datasets.generator import generate_shop
from portrait.ingest import ingest
from portrait.pipeline import build, workspace_status
from portrait.profile import customer_profile
from portrait.recommend import recommendations_for

from support import run_cli


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory):
    """A generated shop with a new customer id per order, and the truth per person."""
    out = tmp_path_factory.mktemp("marketplace")
    generate_shop(out, users=1_200, seed=11, aliases=True,
                  tables=["orders", "order_items", "items"])  # fmt: skip
    orders = pq.read_table(out / "orders.parquet")
    links = pq.read_table(out / "customers.parquet")
    assert pc.count_distinct(orders.column("user_id")).as_py() == orders.num_rows  # per order
    joined = orders.join(links, "user_id", right_keys="customer_id").filter(
        pc.equal(pc.field("status"), "completed")
    )
    truth = joined.group_by("customer_unique_id").aggregate(
        [("order_id", "count"), ("amount", "sum")]
    )
    truth = {
        person: (n, float(spend))
        for person, n, spend in zip(
            truth.column("customer_unique_id").to_pylist(),
            truth.column("order_id_count").to_pylist(),
            truth.column("amount_sum").to_pylist(),
            strict=True,
        )
    }
    people = pc.count_distinct(links.column("customer_unique_id")).as_py()
    return out, truth, people


def _check(ws, truth):
    features = ws.table("features").select("user_id", "frequency", "monetary").to_pyarrow()
    got = {
        u: (f, m)
        for u, f, m in zip(
            *(features.column(c).to_pylist() for c in features.column_names), strict=True
        )  # fmt: skip
        if f
    }
    assert set(got) == set(truth)  # people, not per-order ids
    for person, (n, spend) in truth.items():
        assert got[person][0] == n, person
        assert got[person][1] == pytest.approx(spend, abs=1e-6), person
    repeat = {p for p, (n, _) in truth.items() if n >= 2}
    assert len(repeat) > 50
    tags = ws.table("tags").select("user_id", "repeat_buyer").to_pyarrow().to_pylist()
    assert {r["user_id"] for r in tags if r["repeat_buyer"]} == repeat


def test_per_order_ids_are_attributed_to_their_person(marketplace, tmp_path):
    out, truth, people = marketplace
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, out / "items.parquet", table="items")
    ingest(ws, out / "orders.parquet", table="orders")
    ingest(ws, out / "order_items.parquet", table="order_items")
    before = build(ws, stages=["features"])  # one order per id: it says what that may mean
    hint = next(n for n in before.notes if n.code == "one_order_ids")
    assert hint.values["share"] == 1.0 and "identities" in hint.label.en
    report = ingest(ws, out / "customers.parquet", table="identities")
    assert report.mapping == {"alias": "customer_id", "person": "customer_unique_id"}
    after = build(ws)
    assert after.ran[0] == "features"  # the new links are data: everything is rebuilt
    assert not any(n.code == "one_order_ids" for n in after.notes)
    _check(ws, truth)
    # any of a person's per-order ids finds the person's profile and list
    alias, person = ws.table("identities").select("alias", "person").limit(1).execute().iloc[0]
    assert customer_profile(ws, alias).user_id == person
    assert recommendations_for(ws, alias, n=3).user_id == person
    status = workspace_status(ws)
    assert status.identities.aliases == report.accepted
    assert status.identities.people == people > len(truth) / 2
    ws.close()
    shown = run_cli("status", "-w", str(tmp_path / "ws"))
    assert f"{report.accepted:,} ids linked to {people:,} people" in shown.stdout


def test_a_customers_file_read_as_users_says_which_column_is_the_person(marketplace, tmp_path):
    out, _, people = marketplace
    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, out / "customers.parquet", table="users", dry_run=True)
    assert report.mapping["user_id"] == "customer_id"
    hint = next(n for n in report.notes if "customer_unique_id repeats" in n)
    assert f"({people:,} values)" in hint and '[identity] alias = "customer_id"' in hint
    ws.close()


def test_a_users_mapping_names_the_alias_column(marketplace, tmp_path):
    out, truth, _ = marketplace
    mapping = tmp_path / "customers.toml"
    mapping.write_text(
        'table = "users"\n[columns]\nuser_id = "customer_unique_id"\n'
        '[identity]\nalias = "customer_id"\n',
        encoding="utf-8",
    )
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, out / "items.parquet", table="items")
    ingest(ws, out / "orders.parquet", table="orders")
    report = ingest(ws, out / "customers.parquet", mapping=mapping)
    people = ws.count("users")
    assert report.accepted == people and report.duplicates == report.read - people
    assert report.derived["identities"] == report.read  # every row's alias is linked
    build(ws)
    _check(ws, truth)
    ws.close()


def test_a_shared_phone_or_email_makes_one_person(tmp_path):
    users = tmp_path / "users.csv"
    users.write_text(
        "user_id,phone,email\n"
        "app-17,+86 138 0013 8000,\n"  # the app's member id
        "web-9,13800138000,LI@example.com\n"  # the same phone, written another way
        "mini-3,,li@example.com\n"  # the mini-program: the same e-mail
        "other,13900000000,x@example.com\n",
        encoding="utf-8",
    )
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,user_id,ts,amount\n"
        "o1,app-17,2024-01-05 10:00:00,10\n"
        "o2,web-9,2024-02-05 10:00:00,20\n"
        "o3,mini-3,2024-03-05 10:00:00,30\n"
        "o4,other,2024-03-06 10:00:00,5\n",
        encoding="utf-8",
    )
    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, users, table="users")
    assert report.derived["identities"] == 2
    ingest(ws, orders, table="orders")
    build(ws, stages=["features"])
    f = {r["user_id"]: r for r in ws.table("features").to_pyarrow().to_pylist()}
    assert set(f) == {"app-17", "other"}  # web-9 and mini-3 are app-17
    assert f["app-17"]["frequency"] == 3 and f["app-17"]["monetary"] == 60
    assert workspace_status(ws).identities.model_dump() == {"aliases": 2, "people": 1}
    # asked for by any of their ids, the person's profile
    build(ws)
    assert customer_profile(ws, "mini-3").user_id == "app-17"
    ws.close()
