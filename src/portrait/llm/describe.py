"""Product descriptions (商品描述): a headline, a description and selling points for an
item's page, and watch-outs for the merchant.

The facts are the item's row of the ``items`` table (title, category, brand, price in the
shop's currency, attributes) and, when the item has reviews, what they praise and criticise
(:func:`portrait.text.portraits.item_reviews`). An aspect is *praised* when more of the
item's reviews praise it than criticise it; the *top complaint* is the aspect most reviews
criticise. An item without reviews still gets a description, with no review claims.

The headline, description and selling points are for customers: they may quote only the
item's facts (its title, price and attributes; never a review figure) and may claim an
aspect (quality, delivery, value for money, looks ...) only when the reviews praise it or
the item's own facts name it. The watch-outs are for the merchant, never for customers:
what the top complaint asks them to fix, with its review counts.

The offline backend writes the text from templates; a model writes it from the same facts
and is held to them by :mod:`portrait.llm.grounding`, and to the rules above by the job's
``check`` (the aspects a text claims are found by :mod:`portrait.text.aspects`' lexicon and
by the aspects' names). An answer that breaks them is regenerated once, then replaced by
the offline text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import Field

from portrait.errors import DataError, NotFoundError
from portrait.facts import Fact
from portrait.labels import LABELS, label
from portrait.llm.cache import ResponseCache
from portrait.llm.client import Language, LLMClient, Spend, make_client, usage_summary
from portrait.llm.copy import money_text, shorten
from portrait.llm.grounding import Grounds, Job, Problem, Source, generate_all
from portrait.llm.prompting import render_prompt
from portrait.text.aspects import aspects_of
from portrait.text.portraits import AspectCount, ItemReviews, item_reviews

if TYPE_CHECKING:
    from portrait.workspace import Workspace

#: the most characters of a headline (Python ``len``), per language
HEADLINE_MAX: dict[Language, int] = {"zh": 30, "en": 60}
#: an attribute longer than this (or a link) is sent to a model but left out of the templates
_LONGEST_ATTRIBUTE = 40


# -- what a model writes ----------------------------------------------------------------------
class DescriptionText(Fact):
    """The words of a product description: what a model (or the templates) writes."""

    #: for customers: at most :data:`HEADLINE_MAX` characters
    headline: str = Field(min_length=1)
    #: for customers: 2 to 4 sentences
    description: str = Field(min_length=1)
    #: for customers: one short line each
    selling_points: list[str] = Field(min_length=2, max_length=4)
    #: for the merchant, never for customers: what to fix, from the top complaint
    watch_outs: list[str] = Field(max_length=3)


# -- the result -------------------------------------------------------------------------------
class DescribedItem(Fact):
    """The item a description is about, as the items table holds it."""

    item_id: str
    title: str | None
    category: str | None
    brand: str | None
    price: float | None
    currency: str
    #: the ``attributes`` column's JSON object (scalars and lists of scalars)
    attributes: dict[str, Any] = {}


class ProductDescription(Spend):
    """One item's description, with the facts it was written from."""

    item: DescribedItem
    language: Language
    text: DescriptionText
    #: what the item's reviews say; ``None``: it has none
    reviews: ItemReviews | None
    #: aspect codes more reviews praise than criticise, the most praised first
    praised: list[str]
    #: the aspect most reviews criticise, which the watch-outs are about
    top_complaint: str | None
    headline_max: int
    source: Source
    model: str
    prompt_version: str
    #: what was wrong with rejected answers
    rejected: list[str] = []

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "item_id": self.item.item_id,
                "headline": self.text.headline,
                "description": self.text.description,
                "selling_points": " | ".join(self.text.selling_points),
                "watch_outs": " | ".join(self.text.watch_outs),
                "source": self.source,
            }
        ]


# -- the facts --------------------------------------------------------------------------------
def _attributes(raw: str | None) -> dict[str, Any]:
    """The scalars (and lists of scalars) of an ``attributes`` JSON object."""
    try:
        parsed = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}

    def scalar(v: Any) -> bool:
        return isinstance(v, str | int | float) and not isinstance(v, bool)

    return {
        str(k): v
        for k, v in parsed.items()
        if scalar(v) or isinstance(v, bool) or (isinstance(v, list) and all(map(scalar, v)))
    }


def _item(ws: Workspace, item_id: str, currency: str) -> DescribedItem:
    t = ws.table("items")
    rows = t.filter(t.item_id == item_id).limit(1).to_pyarrow().to_pylist()
    if not rows:
        raise NotFoundError(
            f"The workspace has no item {item_id!r}; use an item_id of the items table, "
            "as the shop's data writes it (a SKU or stock code)."
        )
    row = rows[0]
    if row["is_merchandise"] is False:
        raise DataError(f"Item {item_id!r} is not merchandise; describe a product customers buy.")
    if not (row["title"] or "").strip() and not (row["category"] or "").strip():
        raise DataError(
            f"Item {item_id!r} has neither a title nor a category; add its title to the "
            "items table to describe it."
        )
    price = row["price"]
    return DescribedItem(
        item_id=str(row["item_id"]), title=row["title"], category=row["category"],
        brand=row["brand"], price=None if price is None else float(price), currency=currency,
        attributes=_attributes(row["attributes"]),
    )  # fmt: skip


def _reviews(ws: Workspace, item_id: str) -> ItemReviews | None:
    """What the item's reviews say; ``None`` when it has none (or the shop has none)."""
    if not all(ws.has_table(n) for n in ("item_text", "review_aspects", "review_sentiment")):
        return None
    t = ws.table("item_text")
    if t.filter(t.item_id == item_id).count().to_pyarrow().as_py() == 0:
        return None
    return item_reviews(ws, item_id)


def _praised(reviews: ItemReviews | None) -> list[AspectCount]:
    """The aspects more of the reviews praise than criticise, the most praised first."""
    found = [
        a for a in (reviews.aspects if reviews else []) if a.positive_reviews > a.negative_reviews
    ]
    return sorted(found, key=lambda a: (-a.positive_reviews, a.aspect))


def _complaint(reviews: ItemReviews | None) -> AspectCount | None:
    if reviews is None or reviews.top_complaint is None:
        return None
    return next((a for a in reviews.aspects if a.aspect == reviews.top_complaint), None)


def _item_facts(item: DescribedItem, shop: str) -> dict[str, Any]:
    """What customer-facing text may quote: the shop's name and the item (not its id)."""
    return {"shop": shop, "item": item.model_dump(mode="json", exclude={"item_id"})}


def description_facts(
    item: DescribedItem, reviews: ItemReviews | None, *, shop: str, language: Language
) -> dict[str, Any]:
    """The facts sent for one description: the item, what its reviews praise and criticise
    (names and counts, not the reviews' texts) and the headline's limit. No customer and no
    item id appears in them."""
    summary = None
    if reviews is not None:
        complaint = _complaint(reviews)
        summary = {
            "reviews": reviews.reviews,
            "positive_share": reviews.positive_share,
            "negative_share": reviews.negative_share,
            "category_negative_share": reviews.category_negative_share,
            "praised": [
                {"aspect": a.aspect, "name_en": a.label.en, "name_zh": a.label.zh,
                 "positive_reviews": a.positive_reviews, "negative_reviews": a.negative_reviews}
                for a in _praised(reviews)
            ],
            "criticised": [
                {"aspect": a.aspect, "name_en": a.label.en, "name_zh": a.label.zh,
                 "negative_reviews": a.negative_reviews, "positive_reviews": a.positive_reviews}
                for a in reviews.aspects if a.negative_reviews > 0
            ],
            "top_complaint": None if complaint is None else complaint.aspect,
        }  # fmt: skip
    return {**_item_facts(item, shop), "reviews": summary, "headline_max": HEADLINE_MAX[language]}


def _quotable(facts: dict[str, Any]) -> dict[str, Any]:
    """What a description may quote: its facts but the headline's limit (the watch-outs
    may quote review counts; :func:`_checker` keeps them from customers)."""
    return {k: v for k, v in facts.items() if k != "headline_max"}


# -- what a text claims -----------------------------------------------------------------------
def _label_pattern() -> dict[str, re.Pattern[str]]:
    """aspect -> its names (``"size / fit"`` is two), as whole words."""
    out = {}
    for code, lab in LABELS["aspect"].items():
        words = [w.strip() for w in lab.en.split("/")] + [lab.zh]
        out[code] = re.compile(
            "|".join(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])" for w in words if w), re.I
        )
    return out


_NAMES = _label_pattern()
#: words that say what reviews or reviewers think
_REVIEW_WORDS = re.compile(
    r"(?<![A-Za-z])(?:reviews?|reviewers?|rated|ratings?|customers? (?:love|praise|say))"
    r"(?![A-Za-z])|好评|差评|评价|口碑|买家|回头客",
    re.I,
)


def _claimed(text: str) -> dict[str, set[str]]:
    """aspect -> the polarities ``text`` names it with (``neutral`` for a bare name)."""
    found: dict[str, set[str]] = {}
    for m in aspects_of([text]):
        found.setdefault(m.aspect, set()).add(m.polarity)
    for code, pattern in _NAMES.items():
        if pattern.search(text):
            found.setdefault(code, set()).add("neutral")
    return found


def _stated(item: DescribedItem) -> set[str]:
    """The aspects the item's own words name (its title, category, brand, attributes)."""
    words = [item.title, item.category, item.brand, *item.attributes]
    words += [str(v) for v in item.attributes.values()]
    return {a for w in words if w for a in _claimed(w)}


def _sentences(text: str) -> int:
    ends = re.findall(r"[.!?](?=\s|$)|[。！？]", text.strip())
    return len(ends) + (not re.search(r"[.!?。！？]\s*$", text))


def _checker(
    item: DescribedItem, reviews: ItemReviews | None, *, shop: str, language: Language
) -> Callable[[DescriptionText], list[Problem]]:
    """The job's own check: the headline's length, the description's sentences, and what
    customer-facing text and watch-outs may claim (see the module's docstring)."""
    most = HEADLINE_MAX[language]
    praised = {a.aspect for a in _praised(reviews)}
    named = {a.aspect for a in reviews.aspects} if reviews else set()
    stated = _stated(item)
    facts = description_facts(item, reviews, shop=shop, language=language)
    item_grounds = Grounds.of(_item_facts(item, shop))
    all_grounds = Grounds.of(_quotable(facts))

    def name(aspect: str) -> str:
        lab = label("aspect", aspect)
        assert lab is not None
        return lab.zh if language == "zh" else lab.en

    def allowed(aspect: str, polarities: set[str]) -> bool:
        if aspect in praised or aspect in stated:
            return True
        # the price is the item's: saying it is no claim, praising it is
        return aspect == "price" and item.price is not None and polarities == {"neutral"}

    def check(answer: DescriptionText) -> list[Problem]:
        found: list[Problem] = []
        if (n := len(answer.headline)) > most:
            why = f"headline has {n} characters, at most {most}"
            found.append(Problem(answer.headline, "limit", why))
        if not 2 <= (n := _sentences(answer.description)) <= 4:
            why = f"description has {n} sentences, write 2 to 4"
            found.append(Problem(answer.description, "limit", why))
        customer = [("headline", answer.headline), ("description", answer.description)]
        customer += [("selling point", p) for p in answer.selling_points]
        for field, text in customer:
            own = {p.span for p in all_grounds.check(text)}
            found += [
                Problem(p.span, "limit", f"{field} quotes {p.span!r}, a review figure; "
                        "customer-facing text may quote only the item's facts")
                for p in item_grounds.check(text) if p.span not in own
            ]  # fmt: skip
            for aspect, polarities in _claimed(text).items():
                if not allowed(aspect, polarities):
                    found.append(Problem(name(aspect), "limit",
                                         f"{field} claims {name(aspect)!r}, which the reviews "
                                         "do not praise"))  # fmt: skip
            if not praised and (m := _REVIEW_WORDS.search(text)):
                found.append(Problem(m[0], "limit", f"{field} speaks of reviews ({m[0]!r}), "
                                     "but the reviews praise nothing"))  # fmt: skip
        for text in answer.watch_outs:
            for aspect in _claimed(text):
                if aspect not in named and aspect not in stated:
                    found.append(Problem(name(aspect), "limit",
                                         f"a watch-out names {name(aspect)!r}, which no review "
                                         "mentions"))  # fmt: skip
        return found

    return check


# -- the offline text -------------------------------------------------------------------------
#: what to do about a top complaint, per aspect (en, zh); each names its own aspect only
_FIX: dict[str, tuple[str, str]] = {
    "logistics": ("check the courier and dispatch times", "检查快递和发货时效"),
    "price": ("compare the price with similar items, or explain on the page what it is worth",
              "对比同类商品核对价格，或在详情页说明其价值"),
    "quality": ("inspect the stock for defects", "抽检库存，排查质量问题"),
    "service": ("check how quickly and how well enquiries are answered",
                "检查客服响应速度和售后处理"),
    "packaging": ("improve the packaging so the item is not damaged", "改进包装，防止破损"),
    "size": ("add a size chart to the page", "补充尺码表和实际尺寸"),
    "authenticity": ("show proof of authenticity on the page", "在详情页展示正品凭证和来源"),
    "freshness": ("check storage and shelf life", "检查储存条件和保质期"),
    "taste": ("describe the taste and smell honestly on the page", "在详情页如实描述口味和气味"),
    "appearance": ("use photos that show the item as it is", "使用真实反映商品外观的图片"),
    "battery": ("state the battery life on the page, and check it", "在详情页标明续航时长，并核实"),
}  # fmt: skip
#: what to do about a complaint of an aspect :data:`_FIX` does not know
_READ = ("read the negative reviews and act on each", "逐条查看差评并改进")


def _name(item: DescribedItem) -> str:
    """The item's name for customers: its title (capitalised word by word when it is all
    upper case, as stock lists write it), else its category's last level."""
    title = (item.title or "").strip()
    if title and title.isupper():
        title = " ".join(w.capitalize() for w in title.split())
    return title or (item.category or "").split("/")[-1].strip()


def _headline(name: str, price: str | None, most: int, sep: str) -> str:
    """The name and price, or the name, each shortened as far as it must be."""
    if price is not None and len(full := f"{name}{sep}{price}") <= most:
        return full
    if len(name) <= most:
        return name
    room = most - len(sep) - len(price or "")
    if price is not None and room >= 8:
        return f"{shorten(name, room)}{sep}{price}"
    return shorten(name, most)


def _shown(value: Any, zh: bool) -> str:
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if isinstance(value, list):
        return ("、" if zh else ", ").join(map(str, value))
    return str(value)


def offline_description(
    item: DescribedItem, reviews: ItemReviews | None, *, shop: str, language: Language
) -> DescriptionText:
    """The template description: every number in it is the item's (its price, or in its
    title or attributes) or, in the watch-outs only, a review count; it claims only the
    aspects the reviews praise."""
    zh = language == "zh"
    name = _name(item)
    price = money_text(item.price, item.currency) if item.price is not None else None
    category = (item.category or "").split("/")[-1].strip() or None
    details = [
        (k, _shown(v, zh)) for k, v in item.attributes.items()
        if len(_shown(v, zh)) <= _LONGEST_ATTRIBUTE and "://" not in _shown(v, zh)
    ]  # fmt: skip
    praised = [a.label.zh if zh else a.label.en for a in _praised(reviews)[:2]]
    complaint = _complaint(reviews)
    if zh:
        intro = f"为你介绍 {name}" + (f"（{item.brand}）" if item.brand else "")
        intro += f"，来自{category}品类。" if category and category != name else "。"
        sentences = [intro]
        if details:
            sentences.append("商品信息：" + "，".join(f"{k} {v}" for k, v in details) + "。")
        if praised:
            sentences.append(f"买家好评集中在{'和'.join(praised)}。")
        sentences.append(f"售价 {price}。" if price else f"由 {shop} 销售。")
        points = [f"买家好评：{p}" for p in praised]
        points += [f"售价 {price}"] if price else []
        points += [f"品牌：{item.brand}"] if item.brand else []
        points += [f"{k}：{v}" for k, v in details]
        points += [f"品类：{category}"] if category and category != name else []
        points += [f"商品：{name}", f"由 {shop} 销售"]
        watch = []
        if complaint is not None and reviews is not None:
            fix = _FIX.get(complaint.aspect, _READ)[1]
            watch.append(
                f"差评集中在{complaint.label.zh}（{reviews.reviews} 条评价中有 "
                f"{complaint.negative_reviews} 条）：推广前先{fix}。"
            )
        text = "".join(sentences)
        headline = _headline(name, price, HEADLINE_MAX[language], "｜")
    else:
        intro = f"Meet {name}" + (f" by {item.brand}" if item.brand else "")
        intro += f", from our {category} range." if category and category != name else "."
        sentences = [intro]
        if details:
            sentences.append("Details: " + ", ".join(f"{k} {v}" for k, v in details) + ".")
        if praised:
            sentences.append(f"Reviewers praise its {' and '.join(praised)}.")
        sentences.append(f"Yours for {price}." if price else f"Sold by {shop}.")
        points = [f"Praised by reviewers for its {p}" for p in praised]
        points += [f"Price: {price}"] if price else []
        points += [f"Brand: {item.brand}"] if item.brand else []
        points += [f"{k}: {v}" for k, v in details]
        points += [f"Category: {category}"] if category and category != name else []
        points += [f"Product: {name}", f"Sold by {shop}"]
        watch = []
        if complaint is not None and reviews is not None:
            fix = _FIX.get(complaint.aspect, _READ)[0]
            watch.append(
                f"Reviews criticise its {complaint.label.en} ({complaint.negative_reviews} of "
                f"{reviews.reviews} reviews): {fix} before promoting it."
            )
        text = " ".join(sentences)
        headline = _headline(name, price, HEADLINE_MAX[language], " | ")
    unique = list(dict.fromkeys(points))
    return DescriptionText(headline=headline, description=text, selling_points=unique[:4],
                           watch_outs=watch)  # fmt: skip


# -- the function -----------------------------------------------------------------------------
def product_description(
    ws: Workspace,
    item_id: str,
    *,
    client: LLMClient | None = None,
    language: Language | None = None,
) -> ProductDescription:
    """A product description of one item: a headline, a description and selling points for
    its page, and watch-outs for the merchant, from the item's row and its reviews.

    Parameters
    ----------
    item_id
        The item, as the items table writes it (a SKU or stock code).
    client
        The backend; default: the one ``[llm]`` in ``portrait.toml`` names.
    language
        ``"zh"`` or ``"en"``; default: ``[llm].language``.

    Raises
    ------
    NotFoundError
        The items table has no such item.
    DataError
        The item is not merchandise (postage, a fee), or has neither a title nor a category.

    Examples
    --------
    >>> d = product_description(ws, "22423", language="en")  # doctest: +SKIP
    >>> d.text.headline, d.text.selling_points, d.text.watch_outs  # doctest: +SKIP
    """
    settings = ws.config.llm
    language = language or settings.language
    shop = ws.config.shop.name
    item = _item(ws, item_id, ws.config.shop.currency)
    reviews = _reviews(ws, item_id)
    facts = description_facts(item, reviews, shop=shop, language=language)
    offline = offline_description(item, reviews, shop=shop, language=language)
    job = Job(
        render_prompt("product_description", language, facts), DescriptionText, facts, offline,
        check=_checker(item, reviews, shop=shop, language=language),
        quotable=_quotable(facts),
    )  # fmt: skip
    own = client is None
    used = client or make_client(settings)
    try:
        [done] = generate_all(used, [job], cache=ResponseCache(ws.artifacts / "llm"),
                              max_paid_calls=max(settings.max_paid_calls, 1))  # fmt: skip
    finally:
        if own:
            used.close()
    complaint = _complaint(reviews)
    return ProductDescription(
        item=item, language=language, text=done.value, reviews=reviews,
        praised=[a.aspect for a in _praised(reviews)],
        top_complaint=None if complaint is None else complaint.aspect,
        headline_max=HEADLINE_MAX[language], source=done.source,
        prompt_version=job.prompt.version, rejected=list(done.rejected), **usage_summary(used),
    )  # fmt: skip
