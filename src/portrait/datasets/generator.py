"""A seeded synthetic shop: users, items, behaviour, orders and reviews at any scale.

Used for scale benchmarks (tens of millions of events) and for planting structure that an
analysis must find again. Customers are generated in fixed-size chunks with vectorised numpy
code and streamed to disk, so memory stays flat however many customers are asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from portrait.errors import ConfigError
from portrait.schema import EVENT_TYPES, TABLES, table

log = logging.getLogger(__name__)

_CHUNK_USERS = 100_000  # part of the output's definition: changing it changes the data
_DAY = 86_400
_F = np.float64

# fmt: off
# Category tree: top category, median price (yuan), leaves as "sub/path:中文名".
_TOPS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Apparel", 160, ("Women/Dresses:连衣裙", "Women/Tops:女士上衣", "Men/Shirts:衬衫",
                      "Men/Jeans:牛仔裤")),
    ("Shoes", 300, ("Sneakers:运动鞋", "Boots:靴子", "Sandals:凉鞋")),
    ("Beauty", 130, ("Skincare/Serums:精华", "Skincare/Creams:面霜", "Makeup/Lipstick:口红")),
    ("Electronics", 900, ("Phones:手机", "Audio/Headphones:耳机", "Computers/Laptops:笔记本电脑",
                          "Accessories/Chargers:充电器")),
    ("Home", 200, ("Kitchen/Cookware:锅具", "Bedding:床上用品", "Furniture/Chairs:椅子")),
    ("Food", 45, ("Snacks:零食", "Drinks/Tea:茶叶", "Drinks/Coffee:咖啡")),
    ("Baby", 160, ("Diapers:纸尿裤", "Formula:奶粉", "Toys:玩具")),
    ("Sports", 250, ("Fitness/Yoga:瑜伽垫", "Outdoor/Camping:露营装备", "Cycling:骑行装备")),
    ("Books", 45, ("Fiction:小说", "Children:童书", "Business:商业书")),
    ("Pets", 90, ("Dog Food:狗粮", "Cat Litter:猫砂", "Pet Toys:宠物玩具")),
)
_TOP_SHARE = np.array([18, 9, 12, 10, 12, 12, 7, 8, 6, 6], _F) / 100
_BRANDS_PER_TOP = 12
_SYLLABLES = ("Au", "Bel", "Cor", "Dan", "Eve", "Fio", "Gal", "Hua", "Jin", "Kai", "Lan", "Mei",
              "Nova", "Or", "Pei", "Qin", "Ruo", "Sol", "Tian", "Uma", "Ve", "Wei", "Xin", "Yun")
_COLORS = ("black", "white", "red", "blue", "green", "grey", "pink", "beige")
_CITIES = (("上海", "上海"), ("北京", "北京"), ("广州", "广东"), ("深圳", "广东"),
           ("杭州", "浙江"), ("成都", "四川"), ("武汉", "湖北"), ("南京", "江苏"),
           ("西安", "陕西"), ("重庆", "重庆"))
_CITY_SHARE = np.array([14, 13, 10, 11, 9, 10, 8, 9, 7, 9], _F) / 100
_GENDERS = ("female", "male", "other")
_ACQUISITION = ("organic", "search_ads", "social", "referral", "livestream")
_DEVICES = ("app", "web", "mini_program")
_LEVELS = ("normal", "silver", "gold", "platinum")
_STATUSES = ("completed", "cancelled", "returned")
_FUNNEL = ("search", "view", "fav", "cart", "order")  # codes sort in funnel order
_LANGS = ("zh", "en")

# Customer kinds; one entry per kind in each parameter (rows of the matrices).
_KINDS = ("loyal", "regular", "bargain", "one_time", "browser")
_KIND_SHARE = np.array([0.06, 0.24, 0.15, 0.20, 0.35])
_ACTIVITY = np.array([3.0, 1.0, 1.3, 0.5, 1.6])  # relative browsing intensity
_ORDERS_PER_YEAR = np.array([6.0, 1.5, 2.0, 0.0, 0.05])  # one_time: exactly one order
_RATE_SHAPE = np.array([3.0, 1.5, 1.5, 1.0, 1.0])  # gamma shape: heterogeneity within a kind
_LIFETIME_DAYS = np.array([900.0, 365.0, 300.0, 60.0, 200.0])  # mean time to churn
_PRICE_TILT = np.array([0.5, 0.0, -1.5, 0.0, 0.0])  # exponent on price relative to category
_PROMO = np.array([0.15, 0.25, 0.70, 0.30, 0.30])  # chance a line is bought on promotion
_COUPON = np.array([0.20, 0.25, 0.60, 0.30, 0.30])  # chance an order uses a coupon
_REVIEW = np.array([0.30, 0.15, 0.10, 0.10, 0.10])  # chance a bought line is reviewed
_LINES = np.array([[45, 30, 15, 10]] + [[65, 22, 9, 4]] * 4, _F) / 100  # 1-4 lines per order
_LEVEL_P = np.array([[10, 20, 40, 30], [50, 30, 15, 5], [50, 35, 12, 3], [90, 8, 2, 0],
                     [85, 12, 3, 0]], _F) / 100
_STATUS_P = np.array([[96, 2, 2], [92, 4, 4], [86, 6, 8], [91, 5, 4], [85, 10, 5]], _F) / 100
_RATING_P = np.array([[4, 3, 8, 25, 60], [40, 25, 15, 12, 8]], _F) / 100  # kept, returned
_EXTRA_VIEWS = 0.5  # views of a bought item beyond the first (Poisson mean)
_AFFINITY = 0.5  # share of item picks from the customer's favourite top category
_ZIPF = 1.05
# Review texts by language, then rating 1-5 (three each); they follow the leaf's name.
_TEMPLATES = (
    "质量太差了，不推荐。", "和描述不符，很失望。", "用了两天就坏了。",
    "一般，有点小问题。", "不太满意，物流慢。", "做工粗糙。",
    "还行，中规中矩。", "一般般，凑合用。", "性价比一般。",
    "不错，物流很快。", "挺好的，和描述一致。", "满意，推荐购买。",
    "质量很好，会回购！", "非常满意，五星好评！", "超出预期，太喜欢了。",
    ": terrible quality, avoid.", ": not as described, disappointed.", ": broke in two days.",
    ": meh, a few problems.", ": not great, slow delivery.", ": poorly made.",
    ": okay, nothing special.", ": average, it does the job.", ": so-so value.",
    ": good, fast delivery.", ": nice, as described.", ": happy with it, recommended.",
    ": great quality, will buy again!", ": love it, five stars!", ": better than expected.",
)
# fmt: on
assert set(_FUNNEL) <= set(EVENT_TYPES)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def _take(values: pa.Array | Sequence[str], idx: np.ndarray) -> pa.Array:
    """``values[idx]``, null where ``idx`` is negative."""
    values = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pc.take(values, pa.array(idx, pa.int64(), mask=idx < 0))


def _pick_rows(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element, from the probability row ``probs[rows]``."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return cast(np.ndarray, (rng.random(len(rows))[:, None] >= cum[rows]).sum(axis=1))


def _money(cents: np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """Integer cents as decimal128(18, scale), exactly and without a per-value conversion."""
    v = cents.astype(np.int64) * 10 ** (scale - 2)
    words = np.stack([v, v >> 63], axis=1)  # little-endian 128-bit two's complement
    bitmap = None if valid is None else pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(v), [bitmap, pa.py_buffer(words)])


@dataclass(frozen=True)
class _Catalogue:
    columns: dict[str, pa.Array]  # the items table
    price: np.ndarray  # cents
    leaf: np.ndarray  # leaf category of each item
    leaf_first: np.ndarray  # first leaf of each top category
    leaf_count: np.ndarray
    cdf_all: np.ndarray  # per kind: popularity x price taste, offset by the kind's code
    cdf_top: np.ndarray  # the same within each top category, offset by kind * tops + top

    def pick(self, rng: np.random.Generator, kind: np.ndarray, fav: np.ndarray) -> np.ndarray:
        """Draw one item per element; a share of them from the favourite top category."""
        u = np.minimum(rng.random(len(kind)), 1 - 1e-9)
        own = rng.random(len(kind)) < _AFFINITY
        idx = np.searchsorted(self.cdf_all, kind + u, side="right")
        key = kind[own] * len(_TOPS) + fav[own] + u[own]
        idx[own] = np.searchsorted(self.cdf_top, key, side="right")
        return idx % len(self.price)


_LEAVES: list[tuple[Any, ...]] = [
    (t, *f"{top}/{leaf}".split(":")) for t, (top, _, ls) in enumerate(_TOPS) for leaf in ls
]
_LEAF_PATHS = [path for _, path, _ in _LEAVES]
_LEAF_NAMES = [zh for _, _, zh in _LEAVES] + [p.rsplit("/", 1)[1] for p in _LEAF_PATHS]  # zh, en


def _catalogue(n: int, seed: int, scale: int) -> _Catalogue:
    rng, n_top, n_kind = _rng(seed, 0), len(_TOPS), len(_KINDS)
    leaf_top = np.array([t for t, _, _ in _LEAVES])
    leaf_count = np.bincount(leaf_top)
    leaf_first = np.cumsum(leaf_count) - leaf_count
    counts = 1 + rng.multinomial(n - n_top, _TOP_SHARE)  # every category has an item
    top = np.repeat(np.arange(n_top), counts)
    leaf = leaf_first[top] + (rng.random(n) * leaf_count[top]).astype(np.int64)
    brand_p = 1.0 / np.arange(1, _BRANDS_PER_TOP + 1) ** 1.2
    brand = top * _BRANDS_PER_TOP + rng.choice(_BRANDS_PER_TOP, n, p=brand_p / brand_p.sum())
    k = len(_SYLLABLES)
    pairs = rng.choice(k * k, n_top * _BRANDS_PER_TOP, replace=False).tolist()
    brands = [_SYLLABLES[i // k] + _SYLLABLES[i % k].lower() for i in pairs]
    leaf_median = np.array([_TOPS[t][1] for t in leaf_top]) * rng.lognormal(0, 0.4, len(leaf_top))
    relative = rng.lognormal(0, 0.3, len(brands))[brand] * rng.lognormal(0, 0.5, n)
    price = np.maximum(np.round(leaf_median[leaf] * relative), 1).astype(np.int64) * 100 - 10
    # Sampling tables: Zipf popularity tilted by each kind's price taste, as cumulative
    # distributions over all items and within each top category (items are sorted by top).
    weight = (1.0 + rng.permutation(n)) ** -_ZIPF * relative ** _PRICE_TILT[:, None]
    cum = np.cumsum(weight, axis=1)
    cdf_all = (cum / cum[:, -1:] + np.arange(n_kind)[:, None]).ravel()
    first, last = np.cumsum(counts) - counts, np.cumsum(counts) - 1
    base = cum[:, first] - weight[:, first]
    within = (cum - base[:, top]) / (cum[:, last] - base)[:, top]
    cdf_top = (within + top + n_top * np.arange(n_kind)[:, None]).ravel()
    colors = [f'{{"color": "{c}"}}' for c in _COLORS]
    model = _ids("No.", rng.integers(100, 1000, n))
    en_leaf = _take(_LEAF_NAMES, len(_LEAF_PATHS) + leaf)
    columns = {
        "item_id": _ids("I", np.arange(1, n + 1)),
        "title": pc.binary_join_element_wise(_take(brands, brand), en_leaf, model, " "),
        "category": _take(_LEAF_PATHS, leaf),
        "brand": _take(brands, brand),
        "price": _money(price, scale),
        "is_merchandise": pa.array(np.ones(n, bool)),
        "attributes": _take(colors, rng.integers(0, len(colors), n)),
    }
    return _Catalogue(columns, price, leaf, leaf_first, leaf_count, cdf_all, cdf_top)


@dataclass(frozen=True)
class _Users:
    kind: np.ndarray
    active_start: np.ndarray  # epoch seconds
    span: np.ndarray  # seconds active inside the window
    fav: np.ndarray  # favourite top category
    device: np.ndarray  # preferred device channel
    intensity: np.ndarray  # gamma-distributed activity multiplier
    columns: dict[str, np.ndarray | pa.Array]  # the users table, without user_id


def _users(rng: np.random.Generator, n: int, start: int, days: int) -> _Users:
    kind = rng.choice(len(_KINDS), n, p=_KIND_SHARE)
    signup = start + (rng.uniform(-days, days, n) * _DAY).astype(np.int64)
    active_start = np.maximum(signup, start)
    life = (rng.exponential(_LIFETIME_DAYS[kind]) * _DAY).astype(np.int64)
    span = np.minimum(active_start + life, start + days * _DAY) - active_start
    age = np.clip(rng.normal(33, 9, n), 16, 75).astype(np.int64)
    city = rng.choice(len(_CITIES), n, p=_CITY_SHARE)
    columns = {
        "signup_ts": signup,
        "gender": _take(_GENDERS, rng.choice(3, n, p=[0.55, 0.43, 0.02])),
        "birth_year": np.datetime64(start, "s").astype("datetime64[Y]").astype(int) + 1970 - age,
        "city": _take([c for c, _ in _CITIES], city),
        "province": _take([p for _, p in _CITIES], city),
        "country": _take(["CN"], np.zeros(n, np.int64)),
        "channel": _take(_ACQUISITION, rng.choice(5, n, p=[0.35, 0.25, 0.2, 0.1, 0.1])),
        "member_level": _take(_LEVELS, _pick_rows(rng, _LEVEL_P, kind)),
    }
    fav = rng.choice(len(_TOPS), n, p=_TOP_SHARE)
    device = rng.choice(len(_DEVICES), n, p=[0.6, 0.15, 0.25])
    return _Users(kind, active_start, span, fav, device, rng.gamma(2.0, 0.5, n), columns)


def _channels(rng: np.random.Generator, preferred: np.ndarray) -> np.ndarray:
    other = rng.integers(0, len(_DEVICES), len(preferred))
    return np.where(rng.random(len(preferred)) < 0.8, preferred, other)


@dataclass(frozen=True)
class _Orders:
    user: np.ndarray  # index into the chunk's users; orders are sorted by (user, ts)
    ts: np.ndarray
    status: np.ndarray
    amount: np.ndarray  # cents
    discount: np.ndarray
    channel: np.ndarray
    order: np.ndarray  # per line: index of its order
    line: np.ndarray
    item: np.ndarray
    quantity: np.ndarray
    unit: np.ndarray  # cents


def _bgnbd_purchases(
    rng: np.random.Generator, n: int, window: tuple[int, int], params: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Purchases drawn from BG/NBD (Fader, Hardie and Lee 2005) with known parameters.

    Each customer buys first at a uniform time in the window, then at rate
    lambda ~ Gamma(r, alpha) per day, dropping out after each repeat purchase with
    probability p ~ Beta(a, b); purchases after the window's end are not observed.
    """
    r, alpha, a, b = params
    start, end = window
    lam = rng.gamma(r, 1.0 / alpha, n) / _DAY
    p = rng.beta(a, b, n)
    t = start + rng.random(n) * (end - start)
    users, times = [np.arange(n)], [t.copy()]
    alive = np.ones(n, bool)  # BG/NBD: drop-out only after a repeat purchase
    idx = np.arange(n)
    while alive.any():
        idx, t, lam_i, p_i = idx[alive], t[alive], lam[idx[alive]], p[idx[alive]]
        t = t + rng.exponential(1.0, len(idx)) / lam_i
        seen = t < end
        idx, t, p_i = idx[seen], t[seen], p_i[seen]
        users.append(idx)
        times.append(t.copy())
        alive = rng.random(len(idx)) >= p_i
    return np.concatenate(users), np.concatenate(times).astype(np.int64)


def _orders(
    rng: np.random.Generator,
    u: _Users,
    cat: _Catalogue,
    window: tuple[int, int],
    planted: Sequence[float] | None = None,
) -> _Orders:
    """Repeat buying: a Poisson process with gamma-distributed rates over a churn lifetime,
    or, with ``planted`` = (r, alpha, a, b), exactly the BG/NBD process."""
    if planted is None:
        shape = _RATE_SHAPE[u.kind]
        rate = rng.gamma(shape, _ORDERS_PER_YEAR[u.kind] / shape) / 365 / _DAY
        n = rng.poisson(rate * u.span)
        n[u.kind == _KINDS.index("one_time")] = 1
        user = np.repeat(np.arange(len(n)), n)
        ts = u.active_start[user] + (rng.random(len(user)) * u.span[user]).astype(np.int64)
    else:
        user, ts = _bgnbd_purchases(rng, len(u.kind), window, planted)
    by = np.lexsort((ts, user))
    user, ts = user[by], ts[by]
    kind, n_orders = u.kind[user], len(user)
    n_lines = 1 + _pick_rows(rng, _LINES, kind)
    order = np.repeat(np.arange(n_orders), n_lines)
    line = np.arange(len(order)) - (np.cumsum(n_lines) - n_lines)[order] + 1
    item = cat.pick(rng, kind[order], u.fav[user][order])
    quantity = 1 + rng.poisson(0.3, len(order))
    promo = rng.random(len(order)) < _PROMO[kind[order]]
    factor = np.where(promo, rng.choice([0.9, 0.8, 0.7], len(order)), 1.0)
    unit = np.round(cat.price[item] * factor).astype(np.int64)
    subtotal = np.bincount(order, quantity * unit, minlength=n_orders).astype(np.int64)
    coupon = rng.random(n_orders) < _COUPON[kind]
    off = (subtotal * rng.uniform(0.03, 0.15, n_orders) // 100 * 100).astype(np.int64)
    discount = np.where(coupon, np.minimum(off, subtotal), 0)
    status = _pick_rows(rng, _STATUS_P, kind)
    if planted is not None:
        status[:] = 0  # every planted purchase is completed
    channel = _channels(rng, u.device[user])
    amount = subtotal - discount
    return _Orders(user, ts, status, amount, discount, channel, order, line, item, quantity, unit)


def _events(
    rng: np.random.Generator,
    u: _Users,
    o: _Orders,
    cat: _Catalogue,
    window: tuple[int, int],
    per_user: float,
) -> dict[str, np.ndarray]:
    """Purchase funnels (views, carts, order) plus browsing sessions."""
    start, end = window
    days = (end - start) / _DAY
    n_users, n_orders, n_lines = len(u.kind), len(o.user), len(o.order)
    vline = np.repeat(np.arange(n_lines), 1 + rng.poisson(_EXTRA_VIEWS, n_lines))
    nv = len(vline)
    of = np.concatenate([o.order[vline], o.order, np.arange(n_orders)])  # order of each event
    before = [600 + rng.exponential(1800, nv), rng.integers(30, 600, n_lines), np.zeros(n_orders)]
    units = np.bincount(o.order, o.quantity, n_orders).astype(np.int64)
    funnel = {
        "user": o.user[of],
        "ts": o.ts[of] - np.concatenate(before).astype(np.int64),
        "code": np.repeat([1, 3, 4], [nv, n_lines, n_orders]),
        "item": np.concatenate([o.item[vline], o.item, np.full(n_orders, -1)]),
        "session": of,
        "channel": o.channel[of],
        "quantity": np.concatenate([np.full(nv, -1), o.quantity, units]),
        "value": np.concatenate([np.full(nv, -1), o.quantity * o.unit, o.amount]),
        "query": np.full(len(of), -1),
    }
    # Browsing is proportional to time active and sized so that funnels plus browsing average
    # per_user. Expected time active: half the customers are there at the start and stay an
    # exponential lifetime, the other half sign up uniformly inside the window.
    m, tail = _LIFETIME_DAYS, 1 - np.exp(-days / _LIFETIME_DAYS)
    mean_span = 0.5 * (m * tail + m - m * m / days * tail)
    n_buys = np.where(_ORDERS_PER_YEAR > 0, _ORDERS_PER_YEAR / 365 * mean_span, 1.0)
    per_order = 1 + (_LINES @ np.arange(1, 5)) * (2 + _EXTRA_VIEWS)  # order, carts, views
    browse = max(per_user - _KIND_SHARE @ (n_buys * per_order), 0.0)
    activity = _ACTIVITY / (_ACTIVITY @ _KIND_SHARE)
    b = rng.poisson(browse * activity[u.kind] * u.intensity * u.span / mean_span[u.kind] / _DAY)
    # Sessions of about six events each, at uniform times while active, ~75 s between events.
    sessions = np.where(b > 0, 1 + rng.binomial(np.maximum(b - 1, 0), 1 / 6), 0)
    user = np.repeat(np.arange(n_users), b)
    k = np.arange(len(user)) - (np.cumsum(b) - b)[user]
    session = (np.cumsum(sessions) - sessions)[user] + k * sessions[user] // np.maximum(b, 1)[user]
    s_user = np.repeat(np.arange(n_users), sessions)
    s_start = u.active_start[s_user] + (rng.random(len(s_user)) * u.span[s_user]).astype(np.int64)
    first = np.flatnonzero(np.diff(session, prepend=-1))
    elapsed = np.cumsum(rng.exponential(75, len(user)))
    ts = s_start[session] + (elapsed - elapsed[first][session]).astype(np.int64)
    code = 1 + _pick_rows(rng, np.array([[0.9, 0.04, 0.06]]), np.zeros(len(user), np.int64))
    code[first[rng.random(len(first)) < 0.3]] = 0  # some sessions open with a search
    item = np.where(code == 0, -1, cat.pick(rng, u.kind[user], u.fav[user]))
    fav = u.fav[user]
    leaf = cat.leaf_first[fav] + (rng.random(len(user)) * cat.leaf_count[fav]).astype(np.int64)
    lang = (rng.random(len(user)) < 0.4) * len(_LEAF_PATHS)
    browsing = {
        "user": user,
        "ts": ts,
        "code": code,
        "item": item,
        "session": n_orders + session,
        "channel": _channels(rng, u.device[s_user])[session],
        "quantity": np.where(code == 3, 1, -1),
        "value": np.where(code == 3, cat.price[item], -1),
        "query": np.where(code == 0, lang + leaf, -1),
    }
    ev = {c: np.concatenate([funnel[c], browsing[c]]) for c in funnel}
    ev["ts"] = np.clip(ev["ts"], u.active_start[ev["user"]], end - 1)
    by = np.lexsort((ev["code"], ev["ts"], ev["user"]))
    return {c: a[by] for c, a in ev.items()}


def _reviews(rng: np.random.Generator, u: _Users, o: _Orders, end: int) -> dict[str, np.ndarray]:
    """Reviews of kept or returned lines; returned goods are rated low."""
    status = o.status[o.order]
    keep = (status != 1) & (rng.random(len(o.order)) < _REVIEW[u.kind[o.user[o.order]]])
    rating = 1 + _pick_rows(rng, _RATING_P, (status == 2).astype(np.int64))
    ts = o.ts[o.order] + (rng.uniform(1, 15, len(o.order)) * _DAY).astype(np.int64)
    keep &= ts < end
    lang = (rng.random(len(o.order)) < 0.3).astype(np.int64)  # 0 zh, 1 en
    template = (lang * 5 + rating - 1) * 3 + rng.integers(0, 3, len(o.order))
    columns = {"user": o.user[o.order], "item": o.item, "rating": rating, "ts": ts}
    columns |= {"lang": lang, "template": template}
    return {c: a[keep] for c, a in columns.items()}


#: the canonical tables a shop is generated with (``identities`` links come from the
#: ``customers`` file that ``aliases`` writes, as in a real marketplace export)
WRITTEN = tuple(t for t in TABLES if t != "identities")


class _Sinks:
    """One incremental writer per requested table, typed from the canonical schema."""

    def __init__(
        self, out: Path, names: list[str], fmt: str, extra: dict[str, pa.Schema] | None = None
    ) -> None:
        types = {
            "id": pa.string(),
            "string": pa.string(),
            "integer": pa.int64(),
            "float": pa.float64(),
            "boolean": pa.bool_(),
            "decimal": pa.decimal128(18, 4 if fmt == "parquet" else 2),
            "timestamp": pa.timestamp("us" if fmt == "parquet" else "s"),
        }
        self.schemas = {
            n: pa.schema([(c.name, types[c.kind]) for c in TABLES[n].columns]) for n in names
        } | (extra or {})
        self.rows = dict.fromkeys(self.schemas, 0)
        self.writers: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}
        for name, schema in self.schemas.items():
            path = out / f"{name}.{fmt}"
            if fmt == "parquet":
                self.writers[name] = pq.ParquetWriter(path, schema)
            else:
                self.writers[name] = pacsv.CSVWriter(path, schema)

    def write(self, name: str, n: int, columns: dict[str, pa.Array | np.ndarray]) -> None:
        if name not in self.writers:
            return
        schema, arrays = self.schemas[name], []
        for f in schema:
            col = columns.get(f.name)
            if col is None:
                col = pa.nulls(n, f.type)
            elif not isinstance(col, pa.Array):  # numpy; timestamps are epoch seconds
                col = pa.array(col, pa.timestamp("s") if pa.types.is_timestamp(f.type) else None)
            arrays.append(col.cast(f.type))
        self.writers[name].write_table(pa.Table.from_arrays(arrays, schema=schema))
        self.rows[name] += n

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def generate_shop(
    out_dir: str | Path,
    *,
    users: int,
    seed: int = 0,
    fmt: Literal["parquet", "csv"] = "parquet",
    days: int = 365,
    start: str = "2024-01-01",
    items: int | None = None,
    events_per_user: float = 10.0,
    tables: Sequence[str] | None = None,
    bgnbd: Sequence[float] | None = None,
    aliases: bool = False,
) -> dict[str, int]:
    """Write a synthetic shop's canonical tables, one file per table, and count their rows.

    The model is built so that the analyses Portrait offers have something true to find:

    * **Catalogue.** Items sit in a two- or three-level category tree (``Apparel/Women/Dresses``)
      under ten top categories, with brands. Prices are lognormal around a median per leaf
      category, times a brand premium. Popularity is Zipf-distributed (exponent 1.05), so a
      tenth of the items draws well over half the views, as in real shops.
    * **Customers** are of five hidden kinds: loyal high-value, regular, bargain hunter,
      one-time buyer and browser. Kinds differ in browsing intensity, purchase rate, price
      taste (bargain hunters prefer items cheap for their category, loyal ones the dear ones),
      promotion and coupon use, basket size, returns and reviewing. Each customer also has a
      favourite top category from which half of their items are drawn.
    * **Repeat buying and churn** follow the Pareto/NBD story (Schmittlein, Morrison and
      Colombo 1987, *Management Science* 33(1)): while active, a customer buys as a Poisson
      process whose rate is gamma-distributed across customers; the active lifetime is
      exponential, after which the customer is silent. One-time buyers buy exactly once.
    * **Events** form a funnel. Every order is preceded by views and a cart event for each of
      its lines and produces one ``order`` event (``value`` = amount paid, no item). Browsing
      sessions (views, some favourites and abandoned carts, some opened by a ``search`` with a
      ``query``) come on top, in proportion to each customer's time active and intensity.
      Events within a session are about a minute apart; sessions start at random while the
      customer is active.
    * **Reviews** go to a share of bought lines, rated mostly 4-5; returned goods get low
      ratings. Texts are short Chinese or English templates; ``sentiment`` is 1 for 4-5
      stars, 0 for 1-2 and empty for 3. Personal data (phone, e-mail, name, address) is empty.

    Customers are generated in chunks of 100,000 with their own random streams, so memory is
    flat (10 million events take well under a minute as CSV) and any table's content is the
    same whichever other tables are written. The same arguments give byte-identical files.

    Parameters
    ----------
    out_dir
        Folder to write ``users.parquet`` (or ``.csv``) and the rest into; created if needed.
    users
        Number of customers. Orders, events and reviews scale with it.
    seed
        Non-negative seed; change it for an independent shop with the same statistics.
    fmt
        ``"parquet"`` (typed: timestamps, ``decimal128(18,4)``) or ``"csv"`` (UTF-8 with a
        header, timestamps as ``YYYY-MM-DD HH:MM:SS`` UTC, money with two decimals).
    days, start
        The observation window ``[start, start + days)``; every event, order and review falls
        inside it. Customers sign up from ``days`` before ``start`` to its end.
    items
        Catalogue size; by default one item per ten customers, between 200 and 100,000.
    events_per_user
        Mean number of events per customer, which sets the events table's size (about
        ``users * events_per_user`` rows). Purchase funnels take about 3.8 of them; browsing
        gets the rest, so values below that give funnels only.
    tables
        Which tables to write (``users``, ``items``, ``events``, ``orders``, ``order_items``,
        ``reviews``); all by default. ``["events"]`` is what an ingest benchmark needs.
    bgnbd
        Plant a BG/NBD purchase process: ``r, alpha`` (in days), ``a, b``.
    aliases
        Marketplace-style ids: every order names its customer by a new id of its own
        (``C...``), and a ``customers`` file maps each of those ids (``customer_id``) to the
        person (``customer_unique_id``, the ``user_id`` of the users table), as marketplace
        exports do. Events and reviews keep the person's id.

    Returns
    -------
    dict
        ``{table_name: rows_written}`` for each table written.
    """
    names = list(WRITTEN) if tables is None else list(dict.fromkeys(table(t).name for t in tables))
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"Unknown format {fmt!r}; use 'parquet' or 'csv'.")
    if bgnbd is not None and (len(bgnbd) != 4 or min(bgnbd) <= 0):
        raise ConfigError("bgnbd takes four positive numbers: r, alpha (days), a, b.")
    if users < 1 or days < 1 or events_per_user < 0 or seed < 0:
        raise ConfigError("users and days must be at least 1, seed and events_per_user >= 0.")
    n_items = int(np.clip(users // 10, 200, 100_000)) if items is None else items
    if n_items < len(_TOPS):
        raise ConfigError(f"items must be at least {len(_TOPS)}, one per top category.")
    try:
        start_s = int(np.datetime64(start, "s").astype(np.int64))
    except ValueError:
        raise ConfigError(f"start {start!r} is not a date; write it as YYYY-MM-DD.") from None
    end_s, scale = start_s + days * _DAY, 4 if fmt == "parquet" else 2
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cat = _catalogue(n_items, seed, scale)
    item_ids = cat.columns["item_id"]
    persons = pa.schema([("customer_id", pa.string()), ("customer_unique_id", pa.string())])
    sinks = _Sinks(out, names, fmt, {"customers": persons} if aliases else None)
    try:
        sinks.write("items", n_items, cat.columns)
        seen = {"events": 0, "sessions": 0, "orders": 0, "reviews": 0}
        for chunk, lo in enumerate(range(0, users, _CHUNK_USERS)):
            n = min(_CHUNK_USERS, users - lo)
            log.info("generating customers %d to %d of %d", lo + 1, lo + n, users)
            u = _users(_rng(seed, 1, chunk), n, start_s, days)
            user_ids = _ids("U", np.arange(lo + 1, lo + n + 1))
            sinks.write("users", n, {"user_id": user_ids, **u.columns})
            if not {"events", "orders", "order_items", "reviews"} & set(names):
                continue
            o = _orders(_rng(seed, 2, chunk), u, cat, (start_s, end_s), bgnbd)
            order_ids = _ids("O", seen["orders"] + 1 + np.arange(len(o.user)))
            seen["orders"] += len(o.user)
            buyer = _take(user_ids, o.user)
            if aliases:  # a new customer id for every order, and the link to the person
                alias = _ids("C", seen["orders"] - len(o.user) + 1 + np.arange(len(o.user)))
                sinks.write("customers", len(o.user),
                            {"customer_id": alias, "customer_unique_id": buyer})  # fmt: skip
                buyer = alias
            orders = {
                "order_id": order_ids,
                "user_id": buyer,
                "ts": o.ts,
                "status": _take(_STATUSES, o.status),
                "amount": _money(o.amount, scale),
                "discount": _money(o.discount, scale),
                "channel": _take(_DEVICES, o.channel),
            }
            sinks.write("orders", len(o.user), orders)
            lines = {
                "order_id": _take(order_ids, o.order),
                "line": o.line,
                "item_id": _take(item_ids, o.item),
                "quantity": o.quantity,
                "unit_price": _money(o.unit, scale),
            }
            sinks.write("order_items", len(o.order), lines)
            if "events" in names:
                window = (start_s, end_s)
                e = _events(_rng(seed, 3, chunk), u, o, cat, window, events_per_user)
                m = len(e["user"])
                events = {
                    "event_id": _ids("E", seen["events"] + 1 + np.arange(m)),
                    "user_id": _take(user_ids, e["user"]),
                    "item_id": _take(item_ids, e["item"]),
                    "event_type": _take(_FUNNEL, e["code"]),
                    "ts": e["ts"],
                    "session_id": _ids("S", seen["sessions"] + 1 + e["session"]),
                    "channel": _take(_DEVICES, e["channel"]),
                    "quantity": pa.array(e["quantity"], mask=e["quantity"] < 0),
                    "value": _money(e["value"], scale, e["value"] >= 0),
                    "query": _take(_LEAF_NAMES, e["query"]),
                }
                sinks.write("events", m, events)
                seen["events"] += m
                seen["sessions"] += int(e["session"].max(initial=-1)) + 1
            if "reviews" in names:
                r = _reviews(_rng(seed, 4, chunk), u, o, end_s)
                k, leaf = len(r["user"]), cat.leaf[r["item"]]
                name = _take(_LEAF_NAMES, r["lang"] * len(_LEAF_PATHS) + leaf)
                reviews = {
                    "review_id": _ids("R", seen["reviews"] + 1 + np.arange(k)),
                    "user_id": _take(user_ids, r["user"]),
                    "item_id": _take(item_ids, r["item"]),
                    "rating": r["rating"],
                    "text": pc.binary_join_element_wise(name, _take(_TEMPLATES, r["template"]), ""),
                    "ts": r["ts"],
                    "lang": _take(_LANGS, r["lang"]),
                    "sentiment": pa.array(r["rating"] >= 4, mask=r["rating"] == 3),
                    "category": _take(_LEAF_PATHS, leaf),
                }
                sinks.write("reviews", k, reviews)
                seen["reviews"] += k
    finally:
        sinks.close()
    return sinks.rows
