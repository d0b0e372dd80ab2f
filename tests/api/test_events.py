"""Events on a real server: none lost, duplicates ignored, real-time tags within a second."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from portrait import open_workspace
from portrait.api.events import fold

from .conftest import CUSTOMER
from support import run_cli


def _now() -> datetime:
    return datetime.now(UTC)


def test_every_distinct_event_is_stored_once(shop):
    rng = random.Random(5)
    start = _now() - timedelta(days=1)
    distinct = [
        {"event_id": f"ev-{i:05d}", "user_id": str(rng.choice([CUSTOMER, "12348", "new-1"])),
         "item_id": str(rng.randint(20000, 23000)),
         "event_type": rng.choice(["view", "view", "cart", "fav", "order", "pv"]),
         "ts": (start + timedelta(seconds=i)).isoformat(), "quantity": rng.randint(1, 3),
         "value": round(rng.uniform(1, 50), 2), "session_id": f"s{i // 50}"}
        for i in range(4000)
    ]  # fmt: skip
    sent = distinct + rng.sample(distinct, 1000)  # a client that retries
    rng.shuffle(sent)
    batches = [sent[i : i + 250] for i in range(0, len(sent), 250)]

    def post(batch):
        r = shop.call("POST", "/v1/shops/north/events", json=batch, role="analyst")
        assert r.status_code == 200, r.text
        return r.json()

    with ThreadPoolExecutor(4) as pool:  # concurrent clients, as in production
        answers = list(pool.map(post, batches))
    assert sum(a["received"] for a in answers) == 5000
    assert sum(a["accepted"] for a in answers) == 4000
    assert sum(a["duplicates"] for a in answers) == 1000
    assert not any(a["rejected"] for a in answers)

    path = shop.paths["north"]
    with open_workspace(path) as ws:
        report = fold(ws)
        assert report.events == 4000 and report.ingest.accepted == 4000
        assert ws.count("events") == 4000
        assert fold(ws).files == 0  # nothing left to fold
    incoming = list((path / "serving" / "events" / "incoming").glob("*.parquet"))
    assert not incoming and list((path / "serving" / "events" / "folded").glob("*.parquet"))
    again = post(distinct[:100])
    assert again["accepted"] == 0 and again["duplicates"] == 100
    result = run_cli("events", "fold", "-w", str(path))
    assert result.returncode == 0 and "no events waiting" in result.stdout


def _poll(shop, user_id: str, done, timeout: float = 1.0) -> float:
    """Seconds until ``done(tags)`` holds for the customer's real-time tags."""
    t0 = time.perf_counter()
    while True:
        tags = shop.get(f"/v1/shops/north/customers/{user_id}/realtime", role="analyst").json()
        elapsed = time.perf_counter() - t0
        if done(tags):
            return elapsed
        assert elapsed < timeout, tags
        time.sleep(0.02)


def test_realtime_tags_follow_events_within_a_second(shop):
    now = _now()
    cart = {"event_id": "rt-1", "user_id": CUSTOMER, "item_id": "22383", "event_type": "cart",
            "ts": now.isoformat()}  # fmt: skip
    t0 = time.perf_counter()
    assert shop.call("POST", "/v1/shops/north/events", json=[cart]).json()["accepted"] == 1
    _poll(
        shop, CUSTOMER, lambda t: t["cart_abandoned_24h"], timeout=1.0 - (time.perf_counter() - t0)
    )
    tags = shop.get(f"/v1/shops/north/customers/{CUSTOMER}/realtime").json()
    assert tags["abandoned_items"] == ["22383"] and tags["sessions_today"] >= 1
    assert tags["last_active"].startswith(now.strftime("%Y-%m-%dT%H:%M"))

    order = {**cart, "event_id": "rt-2", "event_type": "order",
             "ts": (now + timedelta(seconds=5)).isoformat()}  # fmt: skip
    t0 = time.perf_counter()
    shop.call("POST", "/v1/shops/north/events", json=[order])
    _poll(shop, CUSTOMER, lambda t: not t["cart_abandoned_24h"],
          timeout=1.0 - (time.perf_counter() - t0))  # fmt: skip
    realtime = shop.get(f"/v1/shops/north/customers/{CUSTOMER}").json()["realtime"]
    assert not realtime["cart_abandoned_24h"] and realtime["last_active"] > tags["last_active"]

    newcomer = {"event_id": "rt-3", "user_id": "first-visit", "event_type": "view",
                "ts": now.isoformat()}  # fmt: skip
    shop.call("POST", "/v1/shops/north/events", json=[newcomer])
    _poll(shop, "first-visit", lambda t: t.get("last_active") is not None)


def test_stored_events_survive_a_restart(demo_shop, tmp_path):
    from .conftest import serving, shop_copy

    path = shop_copy(demo_shop, tmp_path, "north")
    event = {"event_id": "keep-1", "user_id": CUSTOMER, "event_type": "cart",
             "item_id": "22383", "ts": _now().isoformat()}  # fmt: skip
    with serving({"north": path}) as api:
        assert api.call("POST", "/v1/shops/north/events", json=[event]).json()["accepted"] == 1
    with serving({"north": path}) as api:  # the same workspace, a new server
        answer = api.call("POST", "/v1/shops/north/events", json=[event]).json()
        assert answer["duplicates"] == 1
        tags = api.get(f"/v1/shops/north/customers/{CUSTOMER}/realtime").json()
        assert tags["cart_abandoned_24h"]
