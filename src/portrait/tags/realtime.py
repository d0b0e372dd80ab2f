"""Real-time tags: what a customer did in the last hours, from events as they arrive.

The built tags describe customers as of the last build; these three follow the events the
API server receives, within a second of each:

- ``last_active``: the time of the customer's latest event (UTC);
- ``cart_abandoned_24h``: an item carted in the last 24 hours with no ``order`` or ``pay``
  event for it since (an order or payment that names no item settles every cart before it);
- ``sessions_today``: sessions with an event today, in the shop's time zone, where an event
  more than 30 minutes after the one before starts a new session (the usual web-analytics
  rule; a ``session_id`` sent with the events is not trusted to follow it).

:class:`RecentEvents` keeps each customer's events of the last 48 hours (what the tags
need, and no more) and their latest time; :func:`realtime_tags` computes the tags from them.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from portrait.facts import Fact

__all__ = ["CART_WINDOW", "SESSION_GAP", "RealtimeTags", "RecentEvent", "RecentEvents",
           "realtime_tags"]  # fmt: skip

#: a cart older than this is not an abandoned cart of today's campaigns
CART_WINDOW = timedelta(hours=24)
#: more than this between two events starts a new session
SESSION_GAP = timedelta(minutes=30)
#: how far back the tags look (a session that began yesterday may go on today)
KEEP = timedelta(hours=48)
SETTLES = frozenset({"order", "pay"})


class RecentEvent(NamedTuple):
    """What the tags need of one event: when (UTC, no zone), what, and which item."""

    ts: datetime
    event_type: str
    item_id: str | None


class RealtimeTags(Fact):
    """A customer's real-time tags, as of ``as_of`` (from the events the server received)."""

    user_id: str
    as_of: datetime
    #: the shop's time zone, which "today" is in
    timezone: str
    #: the latest event's time (UTC); null when no event of theirs has arrived
    last_active: datetime | None
    cart_abandoned_24h: bool
    #: the items carted in the last 24 hours and neither ordered nor paid for since
    abandoned_items: list[str]
    sessions_today: int


def realtime_tags(
    user_id: str,
    events: Iterable[RecentEvent],
    *,
    now: datetime,
    timezone: str,
    last_active: datetime | None = None,
) -> RealtimeTags:
    """The real-time tags of ``user_id`` at ``now`` (UTC, no zone) from their recent events.

    ``last_active`` is the latest event time known beyond ``events`` (events older than the
    window are dropped, their time is not).
    """
    ordered = sorted(events, key=lambda e: e.ts)
    if ordered:
        newest = ordered[-1].ts
        last_active = newest if last_active is None else max(last_active, newest)
    carts: dict[str, datetime] = {}
    for e in ordered:
        if e.event_type == "cart" and e.item_id is not None:
            carts[e.item_id] = e.ts
        elif e.event_type in SETTLES:
            if e.item_id is None:
                carts.clear()
            else:
                carts.pop(e.item_id, None)
    since = now - CART_WINDOW
    abandoned = sorted(item for item, ts in carts.items() if since <= ts <= now)
    zone = ZoneInfo(timezone)
    today = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()
    sessions, counted, previous = 0, False, None
    for e in ordered:
        if previous is None or e.ts - previous > SESSION_GAP:
            counted = False  # a new session starts
        previous = e.ts
        if not counted and e.ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date() == today:
            sessions, counted = sessions + 1, True
    return RealtimeTags(
        user_id=user_id, as_of=now, timezone=timezone, last_active=last_active,
        cart_abandoned_24h=bool(abandoned), abandoned_items=abandoned, sessions_today=sessions,
    )  # fmt: skip


class RecentEvents:
    """Each customer's events of the last 48 hours and latest event time; thread-safe."""

    def __init__(self) -> None:
        self._events: dict[str, deque[RecentEvent]] = defaultdict(deque)
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def add(self, user_id: str, event: RecentEvent, *, now: datetime) -> None:
        with self._lock:
            last = self._last.get(user_id)
            if last is None or event.ts > last:
                self._last[user_id] = event.ts
            if event.ts < now - KEEP:
                return
            kept = self._events[user_id]
            kept.append(event)
            while kept and kept[0].ts < now - KEEP:
                kept.popleft()

    def knows(self, user_id: str) -> bool:
        return user_id in self._last

    def tags(self, user_id: str, *, now: datetime, timezone: str) -> RealtimeTags:
        """The tags of ``user_id`` now (no events: never active, no carts, no sessions)."""
        with self._lock:
            events = list(self._events.get(user_id, ()))
            last = self._last.get(user_id)
        return realtime_tags(user_id, events, now=now, timezone=timezone, last_active=last)

    def forget(self, user_ids: Iterable[str]) -> None:
        with self._lock:
            for user_id in user_ids:
                self._events.pop(user_id, None)
                self._last.pop(user_id, None)
