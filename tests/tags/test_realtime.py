"""Real-time tags from a customer's recent events (no server: the function the server calls)."""

from __future__ import annotations

from datetime import datetime, timedelta

from portrait.tags.realtime import RecentEvent, RecentEvents, realtime_tags

NOW = datetime(2024, 5, 1, 16, 30)  # UTC; 00:30 on 2 May in Shanghai


def _tags(events, zone="UTC", now=NOW):
    return realtime_tags("u1", [RecentEvent(NOW - timedelta(minutes=m), t, i)
                                for m, t, i in events], now=now, timezone=zone)  # fmt: skip


def test_a_cart_is_abandoned_until_the_item_is_ordered_or_paid():
    assert _tags([(10, "cart", "a")]).abandoned_items == ["a"]
    assert not _tags([(10, "cart", "a"), (5, "order", "a")]).cart_abandoned_24h
    assert not _tags([(10, "cart", "a"), (5, "pay", "a")]).cart_abandoned_24h
    assert _tags([(10, "cart", "a"), (5, "order", "b")]).abandoned_items == ["a"]
    assert not _tags([(10, "cart", "a"), (10, "cart", "b"), (5, "order", None)]).cart_abandoned_24h
    assert _tags([(10, "order", "a"), (5, "cart", "a")]).cart_abandoned_24h  # carted again


def test_only_carts_of_the_last_24_hours_count():
    assert not _tags([(24 * 60 + 1, "cart", "a")]).cart_abandoned_24h
    assert _tags([(24 * 60 - 1, "cart", "a")]).cart_abandoned_24h


def test_sessions_today_split_at_30_minutes_in_the_shops_day():
    events = [(0, "view", None), (20, "view", None), (49, "view", None),  # one session
              (90, "view", None), (200, "view", None)]  # fmt: skip
    assert _tags(events).sessions_today == 3
    # in Shanghai it is 00:30 on the next day: only the session still running counts
    assert _tags(events, zone="Asia/Shanghai").sessions_today == 1
    assert _tags([]).sessions_today == 0


def test_last_active_outlives_the_window():
    recent = RecentEvents()
    old = RecentEvent(NOW - timedelta(days=3), "view", None)
    recent.add("u1", old, now=NOW)
    tags = recent.tags("u1", now=NOW, timezone="UTC")
    assert tags.last_active == old.ts and tags.sessions_today == 0
    assert recent.knows("u1")
    recent.forget(["u1"])
    assert not recent.knows("u1") and recent.tags("u1", now=NOW, timezone="UTC").last_active is None
