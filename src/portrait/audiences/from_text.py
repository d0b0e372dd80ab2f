"""Audiences from words: ``近30天加购未下单的高价值女性用户`` to a definition.

Two readers, one result:

- :func:`parse_audience` is rule-based and offline. It reads common Chinese and English
  phrasings of time windows (近30天, 最近三个月, in the last 30 days, past year), behaviours
  and their negation (浏览/加购/收藏/下单/评价, 未下单; viewed, carted, bought, reviewed, did
  not buy), RFM segments and lifecycle stages, value tiers, churn risk, demographics (女性,
  25-35岁, 城市 上海, in London), thresholds (消费超过1000元, at least 3 orders, 客单价200以上),
  categories (买过美妆类) and the tags of reviews and rules (物流敏感, repeat buyers), joined
  by 和, 且, 的, 、 or "and". Every phrase understood is kept beside its condition; every part not
  understood is kept too, and nothing is silently dropped.
- :func:`audience_from_text` asks the model that ``[llm]`` names, when it is not offline,
  through the LLM layer (a versioned prompt, the cache, grounding of numbers in the request);
  its answer is checked by the same checker as every definition, so a name the shop lacks or
  a type mismatch rejects it and the offline reading is used. The definition is then
  previewed against the shop (its size, share and SQL) before anything is saved, or refused
  with the words that were not understood.

A time window applies to a behaviour or an amount only where the shop has that exact window
(orders and spend: 7, 30, 90 and 365 days; views, carts, favourites and active days: 30
days, from :data:`portrait.features.FEATURES`); any other window is refused, naming the ones
there are. Calendar periods (今年, this month) are refused for the same reason.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from portrait import history
from portrait.audiences.definition import (
    FUNCTIONS,
    audience_base,
    base_types,
)
from portrait.audiences.store import AudiencePreview, preview
from portrait.errors import ConfigError
from portrait.facts import Fact
from portrait.features import FEATURES
from portrait.labels import LABELS
from portrait.llm.cache import ResponseCache
from portrait.llm.client import Language, LLMClient, make_client
from portrait.llm.grounding import Job, Problem, Source, generate_all
from portrait.llm.prompting import render_prompt
from portrait.tags.catalogue import BUILT_IN, TEXT_CONCERNS, catalogue
from portrait.tags.rules import RuleError, parse_rule

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

__all__ = [
    "AudienceAnswer",
    "AudienceDraft",
    "NotUnderstood",
    "ParsedAudience",
    "Understood",
    "audience_from_text",
    "parse_audience",
]

#: why a part was not understood: words the reader does not know, an "or", a calendar
#: period, a window the shop does not have, or a window with nothing to apply to
Reason = Literal["unknown", "or", "calendar", "window", "unbound"]
#: the text columns whose shop values :func:`parse_audience` can be given
_VALUE_NAMES = ("city", "province", "country", "member_level", "category")
_MAX_VALUES = 500


# -- facts ------------------------------------------------------------------------------------
class Understood(Fact):
    """A phrase of the request and the condition it became."""

    span: str
    condition: str


class NotUnderstood(Fact):
    """A part of the request that is not in the definition, and why."""

    span: str
    reason: Reason = "unknown"
    #: a window the shop does not have: its days, and the names there are instead
    days: int | None = None
    names: list[str] = []

    def describe(self) -> str:
        """The part and the reason, in one clause (for an error message)."""
        if self.reason == "or":
            return (
                f"{self.span!r} (conditions are joined by 和/and only; write an 'or' in the "
                "definition itself)"
            )
        if self.reason == "calendar":
            days = _listing([str(d) for d in _all_windows()], "and")
            return f"{self.span!r} (a calendar period; the windows are the last {days} days)"
        if self.reason == "unbound":
            return (
                f"{self.span!r} (a time window with no behaviour, such as 购买/bought, to apply to)"
            )
        if self.reason == "window":
            if len(self.names) == 1:
                return f"{self.span!r} ({self.names[0]} is over all history only, with no window)"
            return (
                f"{self.span!r} (there is no {self.days}-day window of it; use "
                f"{_listing(self.names, 'or')})"
            )
        return repr(self.span)


def _listing(words: Sequence[str], last: str) -> str:
    """``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


class ParsedAudience(Fact):
    """What the offline reader made of a request: the definition, phrase by phrase."""

    text: str
    language: Language
    #: the conditions joined by ``and``; empty when nothing was understood
    definition: str
    understood: list[Understood]
    not_understood: list[NotUnderstood]


class AudienceAnswer(Fact):
    """What a model answers for a request (and the offline reading in the same shape)."""

    definition: str
    understood: list[Understood] = []
    #: the words of the request the definition does not cover
    not_understood: list[str] = []


class AudienceDraft(AudiencePreview):
    """A definition read from words, checked and counted against the shop, not yet saved."""

    text: str
    understood: list[Understood]
    #: model, cache, offline (the rule-based reader) or offline_fallback (the model's
    #: answers were rejected)
    source: Source
    model: str
    #: the prompt file's version ("" when no model was asked)
    prompt_version: str
    #: why the model's answers were rejected
    rejected: list[str] = []


# -- numbers, comparisons, windows ------------------------------------------------------------
_EN_NUMBERS = {
    "once": 1, "twice": 2, "thrice": 3, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}  # fmt: skip
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_NUM = "[零一二两三四五六七八九十百千万]+"
_EN_WORD_NUM = r"(?:once|twice|thrice|one|two|three|four|five|six|seven|eight|nine|ten)\b"
_DIGITS = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_CURRENCY = r"(?:[¥￥£$€]|RMB|CNY|GBP|USD|EUR)"
_NUM_BODY = (
    rf"(?:{_CURRENCY}\s*)?(?:{_DIGITS}(?:\s*(?:万|千|[kK](?![A-Za-z])))?|{_ZH_NUM}|{_EN_WORD_NUM})"
    r"(?:\s*(?:%|％|percent\b))?"
)
_UNIT_DAYS = {"d": 1, "天": 1, "日": 1, "w": 7, "周": 7, "星": 7, "礼": 7, "q": 90, "季": 90,
              "y": 365, "年": 365}  # fmt: skip


def _num(name: str) -> str:
    return f"(?P<{name}>{_NUM_BODY})"


def _zh_int(text: str) -> int:
    total, current = 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            total += (current or 1) * _ZH_UNITS[ch]
            current = 0
        elif ch == "万":
            total = (total + current) * 10_000
            current = 0
    return total + current


def _value(written: str) -> tuple[float, bool]:
    """The number ``written`` means, and whether it is a percentage."""
    text = written.strip()
    percent = bool(re.search(r"(%|％|percent)$", text))
    text = re.sub(r"(%|％|percent)$", "", text).strip()
    text = re.sub(rf"^{_CURRENCY}\s*", "", text).strip()
    if text.lower() in _EN_NUMBERS:
        return float(_EN_NUMBERS[text.lower()]), percent
    if re.fullmatch(_ZH_NUM, text):
        return float(_zh_int(text)), percent
    scale = 1.0
    if text[-1] in "万千kK":
        scale = {"万": 10_000.0, "千": 1_000.0}.get(text[-1], 1_000.0)
        text = text[:-1].strip()
    return float(text.replace(",", "")) * scale, percent


def _days(n: float, unit: str) -> int:
    """Days of ``n`` units (天, 周, 个月, 季度, 年; days, weeks, months, quarters, years)."""
    u = unit.lstrip("个").lower()
    if u.startswith(("m", "月")):  # a year of months is a year, not 360 days
        return int(round(n * 365 / 12)) if n % 12 == 0 else int(round(n * 30))
    return int(round(n * _UNIT_DAYS.get(u[0], 1)))


_PRE: tuple[tuple[str, str], ...] = (
    (">=", "至少|不少于|不低于|不小于|大于等于|大于或等于|满|≥|>=|at least|no less than|"
           "no fewer than|not less than|a minimum of|minimum of|min"),
    ("<=", "不超过|不高于|不多于|不大于|小于等于|小于或等于|最多|至多|≤|<=|at most|no more than|"
           "not more than|up to|a maximum of|maximum of|max"),
    (">", "超过|大于|高于|多于|超出|>|over|more than|above|greater than|higher than|exceeding|"
          "exceeds|exceeded"),
    ("<", "少于|低于|小于|不到|不足|<|under|less than|below|fewer than|lower than"),
    ("==", "等于|恰好|正好|==|=|exactly|equal to|only|just"),
)  # fmt: skip
_POST: tuple[tuple[str, str], ...] = (
    (">=", r"及以上|或以上|以上|或更多|\+|or more|or above|and above|and up|or higher|or older|"
           r"and older|or over|and over|plus"),
    ("<=", "及以下|或以下|以下|以内|之内|or less|or fewer|or below|and below|or under|"
           "and under|or younger|and younger"),
)  # fmt: skip


def _alternation(table: Sequence[tuple[str, str]]) -> str:
    words = [w for _, alts in table for w in alts.split("|")]
    return "|".join(sorted(words, key=len, reverse=True))


_PRE_RE = _alternation(_PRE)
_POST_RE = _alternation(_POST)
_TO = r"\s*(?:-|–|~|～|到|至|to|and)\s*"


def _op(word: str | None, table: Sequence[tuple[str, str]]) -> str | None:
    if not word:
        return None
    for op, alts in table:
        if re.fullmatch(alts, word.strip(), re.I):
            return op
    return None  # pragma: no cover - the word came from the same alternation


@cache
def _windows(prefix: str) -> dict[int, str]:
    """The windows the feature registry has for ``prefix``: days -> name."""
    return {
        f.window: name
        for name, f in FEATURES.items()
        if f.window is not None and name == f"{prefix}_{f.window}d"
    }


@cache
def _all_windows() -> list[int]:
    return sorted({f.window for f in FEATURES.values() if f.window is not None})


# -- what a phrase becomes --------------------------------------------------------------------
@dataclass(frozen=True)
class _Measure:
    """A number a phrase compares: over all history, and in the windows it has."""

    all_time: str
    #: windowed names are ``{prefix}_{days}d``
    prefix: str | None = None
    #: a share (0..1): 70% and 70 are 0.7
    share: bool = False

    @property
    def windows(self) -> dict[int, str]:
        return _windows(self.prefix) if self.prefix else {}


@dataclass(frozen=True)
class _Cond:
    condition: str


@dataclass(frozen=True)
class _Window:
    days: int


@dataclass(frozen=True)
class _Measured:
    measure: _Measure
    op: str
    value: float
    high: float | None = None  # between value and high
    #: the condition when no window is written next to it (活跃 alone is the lifecycle stage)
    otherwise: str | None = None
    #: compared with a shop-wide statistic of itself instead of ``value`` ("p80", "mean")
    stat: str | None = None


@dataclass(frozen=True)
class _Refused:
    reason: Reason


_Item = _Cond | _Window | _Measured | _Refused
_Handler = Callable[["re.Match[str]"], "_Item | None"]


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(round(value, 6))


def _render(m: _Measured, name: str) -> str:
    if m.stat is not None:
        return f"{name} {m.op} {m.stat}({name})"
    if m.high is not None:
        return f"{name} between {_fmt(m.value)} and {_fmt(m.high)}"
    return f"{name} {m.op} {_fmt(m.value)}"


# -- the vocabulary ---------------------------------------------------------------------------
_ORDERS = _Measure("frequency", "orders")
_SPEND = _Measure("monetary", "monetary")
_VIEWS = _Measure("views", "views")
_CARTS = _Measure("carts", "carts")
_FAVS = _Measure("favs", "favs")
_REVIEWS = _Measure("review_count")
_AGE = _Measure("age")
_ACTIVE_DAYS = _Measure("active_days", "active_days")
_ACTIVE_STAGE = 'lifecycle_stage == "active"'
_RECENCY = _Measure("recency_days")

# behaviours: (measure, Chinese verbs, Chinese verbs after a negation, English verbs,
# English verbs after "did not", English nouns after "no")
_BEHAVIOURS: tuple[tuple[_Measure, str, str, str, str, str], ...] = (
    (_VIEWS, "浏览过?|看过|逛过|访问过?|查看过|点击过",
     "浏览过?|看过?|逛过?|访问过?|查看过?|点击过?",
     r"viewed|browsed|visited|looked at|seen",
     r"view|browse|visit|look at|viewed|browsed|visited|seen", r"views|visits"),
    (_CARTS, "加购过?|加入(?:了)?购物车|加过购物车|放入(?:了)?购物车|加车",
     "加购过?|加入购物车|加车",
     r"carted|added (?:\w+ )?to (?:the |their |a )?(?:shopping )?(?:cart|basket)|"
     r"put (?:\w+ )?(?:in|into) (?:the |their |a )?(?:cart|basket)",
     r"cart|add (?:\w+ )?to (?:the |their |a )?(?:cart|basket)|carted", r"carts|cart adds"),
    (_FAVS, "收藏过?|加(?:入)?收藏|加入心愿单", "收藏过?",
     r"favou?rited|saved|wishlisted|added (?:\w+ )?to (?:the |their |a )?wish ?list",
     r"favou?rite|save|wishlist|favou?rited|saved", r"favou?rites|saves"),
    (_ORDERS, "购买过|下单过?|下过单|买过|成交过|付过款|有购买|有下单",
     "购买过?|下单过?|下过单|买过?|购|成交过?|付款|支付|复购|消费过?",
     r"bought|purchased|ordered|placed an order|made a purchase|shopped",
     r"buy|purchase|order|shop|bought|purchased|ordered|shopped|placed an order|"
     r"made a purchase", r"purchases?|orders?"),
    (_REVIEWS, "评价过|评论过|写过评价|写过评论|晒过?单|打过分", "评价过?|评论过?|写过?评价|晒单",
     r"reviewed|rated|left a review|wrote a review|left reviews|wrote reviews",
     r"review|rate|reviewed|rated|leave a review|write a review", r"reviews?|ratings?"),
)  # fmt: skip
#: "never" words: all history, unless a window is written right beside them (近30天从未下单)
_ZH_NEVER = "从来没有?|从没有?|从未|不曾|未曾"
_ZH_NOT = f"{_ZH_NEVER}|一直没有?|一直未|尚未|还没有?|还未|没有|没|未|无"
_EN_NOT = (
    r"(?:did not|didn't|do not|don't|does not|doesn't|have not|haven't|has not|hasn't|"
    r"had not|hadn't|never|not)(?:\s+(?:yet|ever|been))?"
)
_EN_GERUND = {_ORDERS: "buying|purchasing|ordering|shopping", _VIEWS: "viewing|browsing|visiting",
              _CARTS: "carting|adding to (?:the )?cart", _REVIEWS: "reviewing|rating",
              _FAVS: "saving|favou?riting"}  # fmt: skip

# thresholds: (measure, Chinese nouns, Chinese units, English verbs (spent), English
# subjects (average order value), English nouns after a number (orders), English units)
_THRESHOLDS: tuple[tuple[_Measure, str, str, str, str, str, str], ...] = (
    (_SPEND, "累计消费(?:金额|额)?|总消费(?:金额|额)?|消费总额|消费金额|消费额|消费|花费|花了|"
            "购买金额|支付金额|成交金额|实付金额|总共花了",
     "元|块钱?|人民币|英镑|镑|美元|万元",
     r"spent|spend|spends|spending|spent a total of",
     r"(?:total |overall )?(?:spend|spending|amount spent|money spent)|total spent|revenue",
     r"(?:in )?(?:spend|spending)",
     r"yuan|rmb|cny|pounds?|gbp|dollars?|usd|euros?|eur"),
    (_ORDERS, "下单次数|下单|下过单|购买次数|购买过?|买过?|订单数|订单|成交次数|复购次数|消费次数|"
             r"消费(?=\D{0,4}?(?:\d+|[一二两三四五六七八九十]+)\s*[次单笔])",
     "次|单|笔|个订单",
     r"ordered|bought|purchased|shopped|placed|made",
     r"orders|order count|number of orders|purchases|purchase count|frequency",
     r"orders?|purchases?|times", r"times|orders?|purchases?"),
    (_Measure("avg_order_value"), "平均客单价|客单价|平均订单金额|平均每单(?:金额|消费)?|笔单价",
     "元|块钱?|人民币|英镑|镑|美元", "",
     r"average order value|avg\.? order value|aov|average basket(?: value)?|"
     r"average spend per order|order value",
     "", r"yuan|rmb|cny|pounds?|gbp|dollars?|usd|euros?|eur"),
    (_Measure("avg_rating"), "平均评分|平均星级|评分|打分", "分|星", r"rated|rate",
     r"(?:average |avg\.? )?(?:star )?ratings?", "", r"stars?|points?"),
    (_REVIEWS, "评价次数|评价数|评论次数|评论数|评价|评论", "次|条|篇",
     r"reviewed|wrote|left|written",
     r"reviews|review count|number of reviews", r"reviews?|times", r"times|reviews?"),
    (_VIEWS, "浏览次数|浏览量|浏览|访问次数", "次", r"viewed|visited|browsed",
     r"views|visits|page views", r"views|visits|page views", r"times|views"),
    (_CARTS, "加购次数|加购", "次", r"carted", r"carts|cart adds|add-to-carts", r"carts|cart adds",
     r"times"),
    (_FAVS, "收藏次数|收藏数|收藏", "次|个", r"favou?rited|saved", r"favou?rites|saves",
     r"favou?rites|saves", r"times"),
    (_ACTIVE_DAYS, "活跃天数|活跃了", "天", r"active for|active on",
     r"active days|days active", r"active days|days active", r"days"),
    (_RECENCY, "距(?:离)?(?:上次|上一次|最近一次|最后一次)(?:购买|下单|消费)(?:的)?(?:天数|时间)?|"
              "(?:最近一次|上次|最后一次)(?:购买|下单)(?:距今)?",
     "天", r"last (?:purchased|ordered|bought)",
     r"days since (?:the |their )?last (?:purchase|order)|recency|"
     r"last (?:purchase|order)(?: was)?", "", r"days?(?: ago)?"),
    (_Measure("churn_probability", share=True), "流失概率|流失可能性", "",
     "", r"churn probability|probability of churn(?:ing)?|chance of churn(?:ing)?|"
         r"churn likelihood", "", ""),
    (_Measure("p_alive", share=True), "仍活跃概率|存活概率|活跃概率", "", "",
     r"p_alive|probability of being (?:alive|active)|chance of being active", "", ""),
    (_Measure("clv"), "预测价值|预测消费|客户终身价值|终身价值|生命周期价值|clv|ltv",
     "元|块钱?|人民币|英镑|镑|美元", "",
     r"clv|ltv|predicted value|(?:customer )?lifetime value|predicted spend", "",
     r"yuan|rmb|cny|pounds?|gbp|dollars?|usd|euros?|eur"),
    (_Measure("cart_abandonment_rate", share=True), "加购放弃率|购物车放弃率|弃购率", "", "",
     r"cart abandonment(?: rate)?|abandonment rate", "", ""),
    (_Measure("cancel_rate", share=True), "退货率|取消率|退单率|退款率", "", "",
     r"(?:cancel(?:lation)?|return|refund) rate", "", ""),
    (_Measure("discount_share", share=True), "优惠占比|折扣占比|优惠比例", "", "",
     r"discount share", "", ""),
    (_AGE, "年龄|岁数", "岁|周岁", r"aged", r"age", "", r"years?(?: old)?|yo"),
)  # fmt: skip

# more words for a segment, stage or tag than its labels: code -> (Chinese, English)
_RFM_EXTRA = {
    "Champions": ("重要价值|冠军客户|头部客户", r"champions?"),
    "Loyal": ("忠实(?:客户|用户|顾客)|忠诚用户|铁粉", r"loyal(?: customers| users)?"),
    "Potential Loyalist": ("潜在忠诚客户", r"potential loyalists?"),
    "Promising": ("潜力新客", r"promising"),
    "Need Attention": ("需关注(?:客户|用户)|需要关注的(?:客户|用户)", r"needs? attention"),
    "About to Sleep": ("即将沉睡|快要沉睡", r"about to sleep"),
    "Can't Lose": ("重要挽留|不能流失的(?:客户|用户)", r"can'?t lose(?: them)?|cannot lose"),
    "At Risk": ("", r"at[- ]risk(?: customers| users)?"),
    "Lost": ("", r"lost(?: customers| users)?"),
    "Hibernating": ("休眠(?:客户|用户)", r"hibernating"),
}
_LIFECYCLE_EXTRA = {
    "prospect": ("潜在(?:用户|顾客)|未购(?:客户|用户)", r"prospects?|prospective customers"),
    "new": ("新客户?|新用户|新顾客|首购(?:客户|用户)", r"new(?: customers| users| buyers)?"),
    "active": ("活跃", r"active"),
    "won_back": ("回流", r"won[- ]back|reactivated|returning after a break"),
    "silent": ("沉默", r"silent|dormant"),
    "churned": ("流失(?!风险|概率|可能)|已流失(?:的)?(?:用户|顾客)", r"churned|lapsed"),
}
_TAG_EXTRA = {
    "repeat_buyer": (
        "复购(?:用户|顾客)?|回头客|老客户?",
        r"repeat (?:buyers?|customers?)|"
        r"returning (?:buyers?|customers?)",
    ),
    "cart_abandoner": ("加购未购(?:用户)?", r"cart abandoners?|abandoned (?:their )?carts?"),
    "discount_seeker": (
        "优惠敏感|羊毛党|爱用券|价格党",
        r"discount seekers?|deal hunters?|"
        r"bargain hunters?|coupon (?:lovers?|users?)",
    ),
    "logistics_sensitive": ("关注物流|在意物流|对物流敏感", r"delivery[- ]sensitive"),
    "price_sensitive": ("对价格敏感|在意价格", ""),
    "quality_focused": (
        "注重品质|关注品质|重视品质|注重质量|关注质量|重视质量",
        r"quality[- ]conscious",
    ),
    "bulk_buyer": ("批量购买|大批量", r"bulk (?:buyers?|purchasers?)"),
    "weekend_shopper": ("周末购物|周末下单", ""),
    "frequent_canceller": (
        "经常退货|频繁退货|退货多|经常取消",
        r"frequent (?:returners?|cancel+ers?)|"
        r"serial returners?",
    ),
}
#: tags whose display names are the words of the value tier or churn risk (高价值客户 is read
#: as value_tier == "high"); they are still reached by their own names
_SHADOWED = {"high_value", "at_risk_valuable"}


def _zh_label(zh: str) -> str:
    """A Chinese label as a pattern: 忠诚客户 also as 忠诚用户, 忠诚顾客."""
    if zh.endswith("客户"):
        return re.escape(zh[:-2]) + "(?:客户|用户|顾客)"
    return re.escape(zh)


def _en_label(en: str) -> str:
    """An English label as a pattern: hyphens or spaces, and a plural."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", en.strip())]
    return r"[\s-]+".join(words) + "s?"


def _rfm_words() -> list[tuple[str, str]]:
    out = []
    for code, lab in LABELS["rfm_segment"].items():
        if code == "New":  # 新客户 / new customers are the lifecycle stage, as operators use it
            continue
        zh, en = _RFM_EXTRA.get(code, ("", ""))
        out.append((f"rfm_segment == {_q(code)}", "|".join(filter(None, [_zh_label(lab.zh), zh]))))
        out.append((f"rfm_segment == {_q(code)}", en or _en_label(code)))
    return out


def _lifecycle_words() -> list[tuple[str, str]]:
    out = []
    for code, lab in LABELS["lifecycle_stage"].items():
        zh, en = _LIFECYCLE_EXTRA.get(code, ("", ""))
        cond = f"lifecycle_stage == {_q(code)}"
        out.append((cond, "|".join(filter(None, [_zh_label(lab.zh), zh]))))
        out.append((cond, "|".join(filter(None, [_en_label(lab.en) + "(?: customers| users)?",
                                                   en]))))  # fmt: skip
    return out


def _tag_words() -> list[tuple[str, str, str]]:
    """(name, Chinese pattern, English pattern) of each true/false built-in tag."""
    out = []
    for tag in BUILT_IN:
        if not (tag.kind == "rule" or tag.name in TEXT_CONCERNS) or tag.name in _SHADOWED:
            continue
        zh, en = _TAG_EXTRA.get(tag.name, ("", ""))
        zh_all = "|".join(filter(None, [_zh_label(tag.zh), zh]))
        en_all = "|".join(filter(None, [_en_label(tag.en), en]))
        out.append((tag.name, zh_all, en_all))
    return out


_FIXED: tuple[tuple[str, str], ...] = (
    ('value_tier == "high"', r"高价值|价值(?:较|很)?高|high[- ]value|most valuable|valuable"),
    ('value_tier == "medium"', r"中(?:等)?价值|价值中等|价值一般|medium[- ]value|mid[- ]value"),
    ('value_tier == "low"', r"低价值|价值(?:较|很)?低|low[- ]value"),
    ('churn_risk == "high"', r"高(?:流失)?风险|流失风险(?:较|很|非常)?高|有流失风险|"
                             r"流失(?:可能性|倾向)(?:较|很)?(?:高|大)|容易流失|可能流失|"
                             r"high (?:churn )?risk(?: of churn(?:ing)?)?|"
                             r"churn risk (?:is )?high|at (?:high )?risk of (?:churn(?:ing)?|"
                             r"leaving)|likely to churn"),
    ('churn_risk == "medium"', r"中(?:等)?(?:流失)?风险|流失风险(?:中等|一般)|"
                               r"medium (?:churn )?risk|churn risk (?:is )?medium"),
    ('churn_risk == "low"', r"低(?:流失)?风险|流失风险(?:较|很)?低|不太可能流失|"
                            r"low (?:churn )?risk|churn risk (?:is )?low|unlikely to churn"),
    ('gender == "female"', r"女性|女士|女生|女用户|女顾客|女|性别(?:为|是)?女|"
                           r"women|woman|females?|ladies|lady|girls?"),
    ('gender == "male"', r"男性|男士|男生|男用户|男顾客|男|性别(?:为|是)?男|"
                         r"men|man|males?|gentlemen|guys"),
)  # fmt: skip

_FILLER = re.compile(
    r"[\s、，,。.;；:：!！?？()（）\"'“”‘’]+|"
    r"的|和|与|以及|及|并且|并|且|而且|同时|还|也|都|但是|但|又|用户|客户|顾客|买家|消费者|会员|"
    r"人群|群体|人|们|有|是|为|在|中|里|所有|全部|那些|哪些|这些|一些|找出|找到|找|筛选出?|"
    r"圈选出?|圈出|选出|给我|帮我|请|查找|列出|看看|其中|我想要?|想要|需要|我|过|了|行为|记录|"
    r"(?:and|but|also|who|that|which|whose|with|have|has|had|are|is|were|was|been|be|the|an?|"
    r"all|any|some|of|customers?|users?|shoppers?|buyers?|people|persons?|members?|clients?|"
    r"find|show|me|list|select|give|get|those|these|please|ones?|audience|whom|did|do|does|"
    r"yet|ever|already|i|want|who've|they|them|their)(?![A-Za-z0-9_'])",
    re.I,
)
_OR = r"或者|或是|或|要么|or|either"


# -- recognisers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Recogniser:
    pattern: re.Pattern[str]
    handle: _Handler


def _fixed(condition: str) -> _Handler:
    item = _Cond(condition)
    return lambda m: item


def _behaviour(measure: _Measure, negated: bool) -> _Handler:
    if not negated:
        done = _Measured(measure, ">", 0)
        return lambda m: done
    not_done = _Measured(measure, "==", 0)
    never = _Measured(measure, "==", 0, otherwise=f"{measure.all_time} == 0")

    def handle(m: re.Match[str]) -> _Item:
        return never if re.match(rf"{_ZH_NEVER}|never", m[0], re.I) else not_done

    return handle


def _active(m: re.Match[str]) -> _Item:
    """活跃, active: on some day of a window written next to it (近30天活跃), else the
    lifecycle stage."""
    return _Measured(_ACTIVE_DAYS, ">", 0, otherwise=_ACTIVE_STAGE)


def _threshold(measure: _Measure) -> _Handler:
    def handle(m: re.Match[str]) -> _Item | None:
        groups = m.groupdict()
        value, percent = _value(groups["n"])
        if percent and not measure.share:
            return None
        scale = 0.01 if measure.share and (percent or value > 1) else 1.0
        if groups.get("m"):
            high, high_percent = _value(groups["m"])
            if high_percent and not measure.share:
                return None
            high *= 0.01 if measure.share and (high_percent or high > 1) else 1.0
            low = value * scale
            return _Measured(measure, "between", min(low, high), max(low, high))
        op = _op(groups.get("pre"), _PRE) or _op(groups.get("post"), _POST)
        if op is None:
            return None
        return _Measured(measure, op, value * scale)

    return handle


def _ranked(measure: _Measure) -> _Handler:
    """前20% / top 20% by ...: at least the 80th percentile; 高于平均 / above average: more
    than the mean (the shop's, over customers with a value, as rule tags compute them)."""

    def handle(m: re.Match[str]) -> _Item | None:
        groups = m.groupdict()
        if groups.get("cmp"):
            above = re.fullmatch("高于|超过|大于|above|over", groups["cmp"], re.I) is not None
            return _Measured(measure, ">" if above else "<", 0, stat="mean")
        share, percent = _value(groups["n"])
        if not (percent and 0 < share < 100 and float(share).is_integer()):
            return None
        return _Measured(measure, ">=", 0, stat=f"p{100 - int(share)}")

    return handle


def _ranked_patterns(zh: str, en_verb: str, en_subject: str) -> list[str]:
    n = _num("n")
    out = []
    if zh:
        out += [
            rf"(?:{zh})\s*(?:排名|排在)?\s*前\s*{n}",
            rf"(?:{zh})\s*(?P<cmp>高于|超过|大于|低于|小于|不足)\s*(?:店铺|全店)?"
            r"(?:平均(?:水平|值|数)?|均值)",
        ]
    if en_subject:
        who = r"(?:(?:of\s+)?(?:customers|users|buyers|shoppers)\s+)?"
        out += [
            rf"top\s+{n}\s+{who}(?:by|in|for)\s+(?:{en_subject})",
            rf"(?P<cmp>above|below)[- ]average\s+(?:{en_subject})",
        ]
    for lead in filter(None, [en_verb, en_subject]):
        out.append(rf"(?:{lead})\s+(?:is\s+|are\s+)?(?P<cmp>above|below|over|under)\s+(?:the\s+)?"
                   r"(?:shop(?:'s)?\s+)?average")  # fmt: skip
    return out


def _recency(m: re.Match[str]) -> _Item | None:
    value, percent = _value(m["n"])
    if percent:
        return None
    op = _op(m["pre"], _PRE) or _op(m["post"], _POST) or ">"
    return _Measured(_RECENCY, op, _days(value, m["u"]))


def _window(m: re.Match[str]) -> _Item:
    n = _value(m["n"])[0] if m["n"] else 1.0
    return _Window(_days(n, m["u"]))


def _threshold_patterns(
    zh: str, zh_unit: str, en_verb: str, en_subject: str, en_noun: str, en_unit: str
) -> list[str]:
    n, hi = _num("n"), _num("m")
    zu = f"(?:\\s*(?:{zh_unit}))?" if zh_unit else ""
    eu = f"(?:\\s*(?:{en_unit}))?" if en_unit else ""
    pre, post = f"(?P<pre>{_PRE_RE})", f"(?P<post>{_POST_RE})"
    out = []
    if zh:
        out += [
            rf"(?:{zh})过?\s*(?:在|为|是)?\s*{pre}\s*{n}{zu}(?:\s*{post})?",
            rf"(?:{zh})过?\s*(?:在|为|是)?\s*{n}{zu}\s*{post}",
            rf"{pre}\s*(?:{zh})过?\s*{n}{zu}",
            rf"(?:{zh})\s*(?:在|为|是)?\s*(?:介于)?\s*{n}{zu}{_TO}{hi}{zu}\s*(?:之间)?",
        ]
    for lead in filter(None, [en_verb, en_subject]):
        out += [
            rf"(?:{lead})\s+(?:(?:is|was|of|a total of)\s+)?{pre}\s*{n}{eu}",
            rf"(?:{lead})\s+(?:between\s+|from\s+)?{n}{eu}{_TO}{hi}{eu}",
            rf"(?:{lead})\s+{n}{eu}\s*{post}",
        ]
    if en_noun:
        out += [
            rf"{pre}\s*{n}\s*(?:(?:in|of)\s+)?(?:{en_noun})",
            rf"{n}\s*{post}\s*(?:{en_noun})",
            rf"(?:between\s+)?{n}{_TO}{hi}\s*(?:{en_noun})",
        ]
    return out


def _base_recognisers() -> list[tuple[str, _Handler]]:
    """Every recogniser that does not depend on the shop's values, in order of priority
    (the longest match wins; among equally long ones, the first)."""
    out: list[tuple[str, _Handler]] = []
    # time windows
    zh_unit = r"(?P<u>天|日|周|个?星期|个?礼拜|个?月|个?季度|年)"
    en_unit = r"(?P<u>days?|weeks?|months?|quarters?|years?)"
    n = f"(?P<n>{_DIGITS}|{_ZH_NUM}|{_EN_WORD_NUM})"
    out += [
        (rf"(?:近|最近|过去|前)\s*{n}\s*{zh_unit}(?:内|以内|之内|里|来|以来)?", _window),
        (rf"{n}\s*{zh_unit}(?:内|以内|之内)", _window),
        (r"(?:(?:in|during|within|over|for)\s+)?(?:the\s+)?(?:last|past|previous|recent)\s+"
         rf"(?:{n}\s*)?{en_unit}", _window),
        (rf"(?:in|within)\s+{n}\s*{en_unit}", _window),
        (r"(?:近|最近|过去)(?P<n>半)年(?:内|以来)?", lambda m: _Window(180)),
        (r"(?:近|最近|过去)(?:一个?)?季度(?:内|以来)?", lambda m: _Window(90)),
        (r"今年|本年度?|本月|这个月|本周|这周|这个?星期|上周|上个?月|去年|今天|昨天|本季度|上季度|"
         r"(?:this|current)\s+(?:week|month|quarter|year)|today|yesterday|"
         r"year[- ]to[- ]date|ytd|last calendar (?:week|month|year)",
         lambda m: _Refused("calendar")),
    ]  # fmt: skip
    # "or": refused, so that it is never read as "and"
    out.append((_OR, lambda m: _Refused("or")))
    # recency: 超过90天未购买, haven't bought for over 90 days, last purchase over 90 days ago
    zh_days = r"(?P<u>天|日|周|个?星期|个?月|年)"
    en_days = r"(?P<u>days?|weeks?|months?|years?)"
    out += [
        (rf"(?P<pre>{_PRE_RE})?\s*{_num('n')}\s*{zh_days}(?P<post>以上)?\s*(?:都|一直)?"
         rf"(?:{_ZH_NOT})(?:再)?(?:购买|下单|下过单|买|消费|复购)过?", _recency),
        (rf"(?:{_EN_NOT}|no)\s+(?:bought|ordered|purchased|shopped|buy|order|purchase|shop|"
         rf"purchases?|orders?)(?:\s+anything)?\s+(?:for|in)\s+(?:(?P<pre>{_PRE_RE})\s+)?"
         rf"{_num('n')}\s*{en_days}(?P<post>)", _recency),
        (rf"last\s+(?:purchase|order|purchased|ordered|bought)(?:\s+was)?\s+"
         rf"(?:(?P<pre>{_PRE_RE})\s+)?{_num('n')}\s*{en_days}\s+ago(?P<post>)", _recency),
    ]  # fmt: skip
    # thresholds
    for measure, *phrasing in _THRESHOLDS:
        for pattern in _threshold_patterns(*phrasing):
            out.append((pattern, _threshold(measure)))
        if not measure.share and measure not in (_AGE, _RECENCY):
            zh, _, en_verb, en_subject, *_ = phrasing
            out += [(p, _ranked(measure)) for p in _ranked_patterns(zh, en_verb, en_subject)]
    out.append((rf"top\s+{_num('n')}\s+(?:of\s+)?spenders", _ranked(_SPEND)))
    age = _threshold(_AGE)
    n2 = _num("m")
    out += [
        (rf"{_num('n')}\s*(?:岁|周岁)\s*(?P<post>{_POST_RE})", age),
        (rf"(?P<pre>{_PRE_RE})\s*{_num('n')}\s*(?:岁|周岁)", age),
        (rf"{_num('n')}\s*(?:岁|周岁)?{_TO}{n2}\s*(?:岁|周岁)(?:之间)?", age),
        (rf"(?P<pre>{_PRE_RE})\s+{_num('n')}\s*(?:years? old|yo)", age),
        (rf"{_num('n')}{_TO}{n2}\s*(?:years? old|yo)", age),
        (rf"{_num('n')}\s*(?:years? old|yo)\s+(?P<post>{_POST_RE})", age),
    ]
    # behaviours, and behaviours not done
    for measure, zh, zh_not, en, en_not, en_noun in _BEHAVIOURS:
        out += [
            (zh, _behaviour(measure, False)),
            (rf"(?:{_ZH_NOT})(?:再|有)?(?:{zh_not})", _behaviour(measure, True)),
            (en, _behaviour(measure, False)),
            (rf"{_EN_NOT}\s+(?:{en_not})", _behaviour(measure, True)),
            (rf"(?:no|zero|0)\s+(?:{en_noun})", _behaviour(measure, True)),
            (rf"without\s+(?:{_EN_GERUND[measure]})", _behaviour(measure, True)),
        ]
    # segments, stages, tiers, risk, gender
    for condition, words in [*_rfm_words(), *_lifecycle_words(), *_FIXED]:
        out.append((words, _active if condition == _ACTIVE_STAGE else _fixed(condition)))
    # tags, and tags negated
    for name, zh, en in _tag_words():
        words = "|".join(filter(None, [zh, en, re.escape(name)]))
        out += [
            (words, _fixed(name)),
            (rf"(?:非|不是|不|没有|not\s+|non-?)(?:{words})", _fixed(f"not {name}")),
        ]
    for name in sorted(_SHADOWED):
        out.append((re.escape(name), _fixed(name)))
    # places and levels marked as such: 城市 上海, 省份 浙江, city London, in London
    value = r"(?P<v>[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z .'-]*?)"
    end = r"(?=的|和|且|并|、|，|,|。|\s|用户|客户|会员|$)"
    for column, zh, en in (
        ("city", "所在城市|常住城市|城市", "city"),
        ("province", "所在省份|省份", "province|state"),
        ("country", "国家|国家/地区", "country"),
        ("member_level", "会员等级|会员级别", "member level|membership level|tier"),
    ):
        out.append((rf"(?:{zh})\s*(?:为|是|在|=|:|：)?\s*{value}{end}", _place(column)))
        out.append((rf"(?:{en})\s+(?:is\s+|of\s+|=\s*)?['\"]?(?P<v>[A-Za-z][\w .'-]*?)['\"]?"
                    rf"(?=\s+(?:and|who|with|but)\b|[,.;]|$)", _place(column)))  # fmt: skip
    out.append((r"(?:来自|位于|住在|常住)?(?P<v>[\u4e00-\u9fff]{2,4}?)市(?!场)", _place("city")))
    capitalised = r"(?-i:[A-Z])[\w.'-]*"
    out.append((r"(?:in|from|living in|based in|located in|who live in)\s+(?:the\s+)?"
                rf"(?P<v>{capitalised}(?:\s+{capitalised})*)", _place("city")))  # fmt: skip
    # categories marked as such: 买过美妆类, bought beauty products, in the Beauty category
    zh_buy = "购买过?|买过|下单过?|买了"
    en_buy = "bought|purchased|ordered|buy|buying|buyers of"
    cat = r"(?P<v>[\u4e00-\u9fffA-Za-z0-9&]{1,10}?)"
    out += [
        (rf"(?:{zh_buy}){cat}(?:类目|品类|类|产品|商品|用品)", _category),
        (rf"(?:{en_buy})\s+(?:from\s+|in\s+)?(?:the\s+)?"
         r"(?P<v>[A-Za-z][\w&'-]*(?:\s+[A-Za-z][\w&'-]*){0,2}?)\s+(?:category|products|items|goods)",
         _category),
        (r"in\s+the\s+(?P<v>[A-Za-z][\w&'-]*(?:\s+[A-Za-z][\w&'-]*){0,2}?)\s+category", _category),
    ]  # fmt: skip
    return out


def _place(column: str, values: Mapping[str, str] | None = None) -> _Handler:
    """``column == value``; with ``values`` (written form, casefolded -> the shop's), only a
    value the shop holds."""

    def handle(m: re.Match[str]) -> _Item | None:
        written = m["v"].strip()
        if values is not None:
            key = written.casefold()
            if key not in values:
                return None
            written = values[key]
        elif not written or _FILLER.fullmatch(written):
            return None
        return _Cond(f"{column} == {_q(written)}")

    return handle


def _category_measure(name: str) -> _Measure:
    quoted = f"'{name}'" if "'" not in name and "\\" not in name else _q(name)
    return _Measure(f"category_share({quoted})")


def _category(m: re.Match[str]) -> _Item | None:
    return _Measured(_category_measure(m["v"].strip()), ">", 0)


def _known(values: Mapping[str, Iterable[str]] | None) -> dict[str, dict[str, str]]:
    """The shop's values by column, keyed by what may be written: casefolded, and for a
    Chinese place, also without 市/省."""
    out: dict[str, dict[str, str]] = {}
    for column, vals in (values or {}).items():
        if column not in _VALUE_NAMES:
            raise ConfigError(f"names has no column {column!r}; use {', '.join(_VALUE_NAMES)}.")
        table: dict[str, str] = {}
        for v in vals:
            if not isinstance(v, str) or not v.strip():
                continue
            table.setdefault(v.casefold(), v)
            stem = re.sub(r"(市|省|自治区|特别行政区)$", "", v)
            if stem != v and len(stem) >= 2:
                table.setdefault(stem.casefold(), v)
        if table:
            out[column] = table
    return out


def _value_recognisers(known: dict[str, dict[str, str]]) -> list[tuple[str, _Handler, int]]:
    """Recognisers of the shop's own values: bare places and levels (上海的用户, London
    customers, 金卡会员), and categories after a verb (买过美妆, bought Beauty)."""
    out: list[tuple[str, _Handler, int]] = []
    for column, table in known.items():
        alt = "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))
        if column == "category":
            zh_buy = "购买过?|买过|下单过?|买了|偏好|喜欢买|常买"
            en_buy = r"bought|purchased|ordered|buy|buying|buyers of|shopped"
            out += [
                (rf"(?:{zh_buy})\s*(?P<v>{alt})(?:类目|品类|类|产品|商品|用品)?",
                 _known_category(table), re.I),
                (rf"(?:{en_buy})\s+(?:from\s+|in\s+)?(?:the\s+)?(?P<v>{alt})"
                 r"(?:\s+(?:category|products|items|goods))?", _known_category(table), re.I),
                (rf"(?P<v>{alt})\s*(?:类目|品类|类)?\s*(?:的)?(?:消费|花费|购买)?(?:占比|份额|比例)\s*"
                 rf"(?P<pre>{_PRE_RE})\s*{_num('n')}", _category_share(table), re.I),
                (rf"share of spend in\s+(?P<v>{alt})\s+(?:is\s+)?(?P<pre>{_PRE_RE})\s*"
                 rf"{_num('n')}", _category_share(table), re.I),
            ]  # fmt: skip
            continue
        marked = "来自|位于|住在|常住|在|in|from|living in|based in|located in|who live in"
        suffix = "(?:会员|members?)?" if column == "member_level" else "(?:市|省)?"
        out.append((rf"(?:(?:{marked})\s*(?:the\s+)?)?(?P<v>{alt}){suffix}",
                    _place(column, table), re.I))  # fmt: skip
    return out


def _known_category(table: Mapping[str, str]) -> _Handler:
    def handle(m: re.Match[str]) -> _Item | None:
        name = table.get(m["v"].casefold())
        return None if name is None else _Measured(_category_measure(name), ">", 0)

    return handle


def _category_share(table: Mapping[str, str]) -> _Handler:
    def handle(m: re.Match[str]) -> _Item | None:
        name = table.get(m["v"].casefold())
        op = _op(m["pre"], _PRE)
        if name is None or op is None:
            return None
        value, percent = _value(m["n"])
        share = value / 100 if percent or value > 1 else value
        return _Measured(_Measure(_category_measure(name).all_time, share=True), op, share)

    return handle


#: a phrase does not end inside an English word ("purchase" is not read in "purchased")
_END = "(?:(?<![A-Za-z0-9_])|(?![A-Za-z0-9_]))"


@cache
def _compiled_base() -> tuple[_Recogniser, ...]:
    return tuple(_Recogniser(re.compile(f"(?:{p}){_END}", re.I), h) for p, h in _base_recognisers())


# -- the reader -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    item: _Item
    span: str


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _scan(text: str, recognisers: Sequence[_Recogniser]) -> list[_Token]:
    """The text as tokens: the longest phrase at each place, fillers skipped, and runs of
    anything else as unknown parts."""
    tokens: list[_Token] = []
    unknown: int | None = None

    def flush(upto: int) -> None:
        nonlocal unknown
        if unknown is not None:
            span = text[unknown:upto].strip()
            if span:
                tokens.append(_Token(unknown, upto, _Refused("unknown"), span))
            unknown = None

    pos = 0
    while pos < len(text):
        best: tuple[int, _Item] | None = None
        for r in recognisers:
            m = r.pattern.match(text, pos)
            if m is None or m.end() == pos:
                continue
            end = m.end()
            while end > pos and text[end - 1].isspace():
                end -= 1
            if best is not None and end <= best[0]:
                continue
            item = r.handle(m)
            if item is not None:
                best = (end, item)
        if best is not None:
            flush(pos)
            tokens.append(_Token(pos, best[0], best[1], text[pos : best[0]].strip()))
            pos = best[0]
            continue
        filler = _FILLER.match(text, pos)
        if filler is not None and filler.end() > pos:
            if not (unknown is not None and filler[0].isspace()):
                flush(pos)  # spaces alone keep an unknown part whole ("love cats")
            pos = filler.end()
            continue
        if unknown is None:
            unknown = pos
        if _ascii_word(text[pos]):
            while pos < len(text) and _ascii_word(text[pos]):
                pos += 1
        else:
            pos += 1
    flush(len(text))
    return tokens


def _resolve(text: str, tokens: list[_Token]) -> tuple[list[Understood], list[NotUnderstood]]:
    """Conditions in the order written, each behaviour or amount with its time window."""
    windows = [i for i, t in enumerate(tokens) if isinstance(t.item, _Window)]
    used: set[int] = set()
    understood: list[Understood] = []
    missing: list[tuple[int, NotUnderstood]] = []
    seen: set[str] = set()

    def add(span: str, condition: str) -> None:
        if condition not in seen:
            seen.add(condition)
            understood.append(Understood(span=span, condition=condition))

    for i, tok in enumerate(tokens):
        item = tok.item
        if isinstance(item, _Cond):
            add(tok.span, item.condition)
        elif isinstance(item, _Refused):
            missing.append((tok.start, NotUnderstood(span=tok.span, reason=item.reason)))
        elif isinstance(item, _Measured):
            nearest = bool(item.measure.windows) and item.otherwise is None
            w = _window_of(tokens, i, windows, nearest)
            if w is None:
                add(tok.span, item.otherwise or _render(item, item.measure.all_time))
                continue
            used.add(w)
            win = tokens[w].item
            assert isinstance(win, _Window)
            first, last = sorted((tokens[w], tok), key=lambda t: t.start)
            # the words as written when they are together, else both phrases
            together = abs(w - i) == 1
            span = text[first.start : last.end].strip() if together else f"{first.span} {last.span}"
            name = item.measure.windows.get(win.days)
            if name is None:
                names = [*item.measure.windows.values(), item.measure.all_time]
                refused = NotUnderstood(span=span, reason="window", days=win.days, names=names)
                missing.append((first.start, refused))
            else:
                add(span, _render(item, name))
    for w in windows:
        if w in used or any(_unknown(tokens, j) for j in (w - 1, w + 1)):
            continue  # next to words not understood, it is theirs: those are named
        missing.append((tokens[w].start, NotUnderstood(span=tokens[w].span, reason="unbound")))
    return understood, [n for _, n in sorted(missing, key=lambda p: p[0])]


def _unknown(tokens: list[_Token], i: int) -> bool:
    return 0 <= i < len(tokens) and tokens[i].item == _Refused("unknown")


def _window_of(tokens: list[_Token], i: int, windows: list[int], nearest: bool) -> int | None:
    """The window a behaviour or an amount at ``i`` is read in: one written right before it
    (近30天下单) or, in English, right after it (bought in the last 30 days); else, when
    ``nearest`` (a measure that has windows), the nearest one before it, else after it."""
    before = i - 1 if i > 0 and isinstance(tokens[i - 1].item, _Window) else None
    after = i + 1 if i + 1 < len(tokens) and isinstance(tokens[i + 1].item, _Window) else None
    if after is not None and tokens[after].span.isascii():
        return after
    if before is not None:
        # an English window right after another phrase is that phrase's (bought in the last
        # 30 days, never viewed): the next one takes it only as the nearest
        taken = tokens[before].span.isascii() and isinstance(tokens[before - 1].item, _Measured)
        if before == 0 or not taken:
            return before
    if not nearest:
        return None
    earlier = [w for w in windows if w < i]
    later = [w for w in windows if w > i]
    if earlier:
        return earlier[-1]
    return later[0] if later else None


def _is_zh(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def parse_audience(
    text: str, *, names: Mapping[str, Iterable[str]] | None = None
) -> ParsedAudience:
    """Read an audience from Chinese or English words, by rules, offline.

    Parameters
    ----------
    text
        What an operator asks for, e.g. ``"近30天加购未下单的高价值女性用户"`` or
        ``"high-value women who carted but did not buy in the last 30 days"``.
    names
        The values this shop holds of its text columns (``{"city": [...], "category":
        [...]}``; also ``"province"``, ``"country"``, ``"member_level"``), so that a bare value
        is understood in the shop's own spelling (上海的用户, London customers, 买过美妆).
        Without them only marked forms are (城市 上海, in London, 买过美妆类).

    Returns
    -------
    ParsedAudience
        The definition (the conditions understood, joined by ``and``, in the order written),
        each phrase with its condition, and the parts not understood with the reason. It is
        not checked against a shop; :func:`audience_from_text` does that.
    """
    known = _known(names)
    recognisers = [
        *(_Recogniser(re.compile(f"(?:{p}){_END}", f), h) for p, h, f in _value_recognisers(known)),
        *_compiled_base(),
    ]
    tokens = _scan(text, recognisers)
    understood, missing = _resolve(text, tokens)
    return ParsedAudience(
        text=text, language="zh" if _is_zh(text) else "en",
        definition=" and ".join(u.condition for u in understood),
        understood=understood, not_understood=missing,
    )  # fmt: skip


def _refusal(text: str, parts: Sequence[NotUnderstood]) -> ConfigError:
    described = _listing([p.describe() for p in parts], "and")
    return ConfigError(
        f"did not understand {described} in {text!r}; say it with behaviours, segments, tiers, "
        "demographics or thresholds, or write the definition itself (`portrait tags "
        "--features` lists the names)."
    )


# -- against a shop, with or without a model --------------------------------------------------
def _shop_values(ws: Workspace, base: ir.Table | None = None) -> dict[str, list[str]]:
    """The values of this shop's text columns that words may name: places, member levels
    and top-level categories (as ``category_share`` reads them); ``base`` is
    :func:`audience_base`, when it is at hand."""
    base = audience_base(ws) if base is None else base
    columns = ("city", "province", "country", "member_level")
    row = base.aggregate(**{c: base[c].collect(distinct=True) for c in columns})
    found = row.to_pyarrow().to_pylist()[0]
    out = {c: sorted(str(v) for v in found[c] or [])[:_MAX_VALUES] for c in columns}
    # the top level of an item's category path, as history.lines reads it
    top = history.tables(ws.con)["items"].category.split("/")[0].strip().nullif("")
    cats = top.name("v").as_table().distinct().to_pyarrow().column(0).to_pylist()
    out["category"] = sorted(str(v) for v in cats if v is not None)[:_MAX_VALUES]
    return out


def _prompt_facts(
    ws: Workspace, text: str, types: Mapping[str, str], values: Mapping[str, list[str]]
) -> dict[str, object]:
    """What the model is told: the request, every name with its type and meaning, the codes
    of the model tags, the shop's values and the windows there are."""
    meaning = {n: f"{f.label.en} / {f.label.zh}" for n, f in FEATURES.items()}
    meaning.update({t.name: f"{t.label.en} / {t.label.zh}" for t in catalogue(ws.config)})
    vocabularies = ("rfm_segment", "lifecycle_stage", "value_tier", "churn_risk",
                    "next_purchase_window")  # fmt: skip
    return {
        "request": text,
        "names": {n: f"{t}; {meaning[n]}" if n in meaning else t for n, t in types.items()},
        "codes": {
            **{v: {code: lab.zh for code, lab in LABELS[v].items()} for v in vocabularies},
            "gender": ["female", "male", "other"],
        },
        "values": {k: v for k, v in values.items() if v},
        "windows": {
            name: sorted(_windows(prefix))
            for name, prefix in (
                ("orders_Nd", "orders"),
                ("monetary_Nd", "monetary"),
                ("views_Nd", "views"),
                ("carts_Nd", "carts"),
                ("favs_Nd", "favs"),
                ("active_days_Nd", "active_days"),
            )
        },  # fmt: skip
    }


def _written_numbers(text: str) -> list[float]:
    """Every number the request writes (in digits or words), its hundredth (70% is 0.7), the
    percentile of a share (top 20% is p80), the days of its periods (三个月 is 90), and 0 and
    1: what a definition may compare with."""
    found = {0.0, 1.0}
    for m in re.finditer(_NUM_BODY, text, re.I):
        value, percent = _value(m[0])
        found |= {value, value / 100}
        if percent:  # top 20%: the 80th percentile
            found.add(100 - value)
    for m in re.finditer(rf"(?P<n>{_DIGITS}|{_ZH_NUM})\s*(?P<u>天|日|周|个?星期|个?月|年|days?|"
                         r"weeks?|months?|years?)", text, re.I):  # fmt: skip
        found.add(float(_days(_value(m["n"])[0], m["u"])))
    return sorted(found)


def _check(types: Mapping[str, str]) -> Callable[[AudienceAnswer], list[Problem]]:
    """A model's answer is held to the checker of every definition: names, types, syntax."""

    def check(answer: AudienceAnswer) -> list[Problem]:
        if not answer.definition.strip():
            if answer.not_understood:
                return []
            return [Problem("", "limit", "the definition is empty; write a condition")]
        try:
            parse_rule("audience", answer.definition, types, functions=FUNCTIONS,
                       subject="audience")  # fmt: skip
        except RuleError as exc:
            return [Problem(answer.definition, "limit", str(exc))]
        return []

    return check


def audience_from_text(
    ws: Workspace,
    text: str,
    *,
    client: LLMClient | None = None,
    language: Language | None = None,
) -> AudienceDraft:
    """An audience definition from words, checked and counted against the shop.

    With ``[llm].backend = "offline"`` (and no ``client``), :func:`parse_audience` reads the
    words. Otherwise the model is asked (prompt ``audience_from_text``, cached in the
    workspace); an answer whose definition does not compile against this shop, or that
    compares with a number the request does not write, is sent back once and then replaced
    by the offline reading (``source="offline_fallback"``, the reasons in ``rejected``).

    Parameters
    ----------
    text
        The request, in Chinese or English.
    client
        The backend; default: the one ``[llm]`` in ``portrait.toml`` names.
    language
        The prompt's language, ``"zh"`` or ``"en"``; default: the request's.

    Returns
    -------
    AudienceDraft
        The definition, each phrase with its condition, and the preview: its size, its share
        of the customers and the members query as SQL.

    Raises
    ------
    ConfigError
        Part of the request was not understood (the message names it and why), or nothing
        was; or the definition does not compile against this shop.
    NotBuiltError
        ``portrait build`` has not run.
    """
    if not text.strip():
        raise ConfigError("The request is empty; describe the customers, e.g. '近30天下单的女性'.")
    base = audience_base(ws)
    values = _shop_values(ws, base)
    offline = parse_audience(text, names=values)
    settings = ws.config.llm
    if (client is None and settings.backend == "offline") or (
        client is not None and not client.paid
    ):
        if offline.not_understood or not offline.definition:
            raise _refusal(text, offline.not_understood or [NotUnderstood(span=text)])
        shown = preview(ws, offline.definition)
        return AudienceDraft(
            **shown.model_dump(), text=text, understood=offline.understood, source="offline",
            model="offline", prompt_version="",
        )  # fmt: skip
    types = base_types(base)
    facts = _prompt_facts(ws, text, types, values)
    fallback = AudienceAnswer(
        definition=offline.definition, understood=offline.understood,
        not_understood=[p.span for p in offline.not_understood],
    )  # fmt: skip
    prompt = render_prompt("audience_from_text", language or offline.language, facts)
    quotable = {"request": text, "numbers": _written_numbers(text), "values": values}
    job = Job(prompt, AudienceAnswer, facts, fallback, check=_check(types), quotable=quotable)
    own = client is None
    used = client or make_client(settings)
    try:
        [done] = generate_all(used, [job], cache=ResponseCache(ws.artifacts / "llm"),
                              max_paid_calls=max(settings.max_paid_calls, 1))  # fmt: skip
    finally:
        if own:
            used.close()
    answer = done.value
    if done.source == "offline_fallback":
        parts = offline.not_understood
    else:
        parts = [NotUnderstood(span=s) for s in answer.not_understood]
    if parts or not answer.definition.strip():
        raise _refusal(text, parts or [NotUnderstood(span=text)])
    rejected = list(done.rejected)
    source: Source = done.source
    try:
        shown = preview(ws, answer.definition)
    except ConfigError as exc:  # it parsed, but does not compile here (a statistic unknown)
        if done.source == "offline_fallback" or offline.not_understood or not offline.definition:
            raise
        log.warning("the model's definition %r does not compile (%s); using the offline one",
                    answer.definition, exc)  # fmt: skip
        answer, source, rejected = fallback, "offline_fallback", [*rejected, f"limit: {exc}"]
        shown = preview(ws, answer.definition)
    return AudienceDraft(
        **shown.model_dump(), text=text, understood=answer.understood, source=source,
        model=used.model, prompt_version=prompt.version, rejected=rejected,
    )  # fmt: skip
