"""The customer-service assistant: one customer's question answered from their own data.

``ask(ws, user_id, question)`` works in four steps, and only the last may use a model:

1. **Access.** Every id in the question is looked up: an order id that is not the asker's,
   a customer id that is not theirs (or an alias of them), or words about somebody else
   (另一个客户, 别人的订单, "another customer", "my friend's order") end the request with a
   refusal, before anything is read. The refusal is decided here, in code, never by a model.
2. **Intent** (order status, delivery, return/refund, product question, recommendation,
   complaint, or other), by English and Chinese phrasings, in that order of precedence:
   a complaint about a late parcel is a complaint.
3. **Retrieval** from that customer's orders (through identities, so an alias finds its
   person), the lines of the order asked about (or of the last one), their reviews, their
   recommendations, and catalogue items whose titles the question names.
4. **The answer**, from the facts only: the offline templates by intent, or a model held to
   the facts by grounding (every number, date and order id must be one of them). What the
   data cannot tell (tracking, a return decision) is said, not guessed.

The question and the facts sent to a model carry no customer id, e-mail or phone number.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.datatypes as dt
from pydantic import Field

from portrait import history
from portrait.errors import ConfigError, NotFoundError
from portrait.facts import Fact
from portrait.labels import Label, label
from portrait.llm.cache import ResponseCache
from portrait.llm.client import Language, LLMClient, make_client
from portrait.llm.grounding import Job, generate_all
from portrait.llm.prompting import mask_pii, render_prompt

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

__all__ = ["Answer", "AnswerText", "AssistantFacts", "OrderFact", "ProductFact", "ask", "intent_of"]

Intent = Literal[
    "order_status", "delivery", "return_refund", "product_question", "recommendation",
    "complaint", "other",
]  # fmt: skip
Refusal = Literal["other_order", "other_customer", "other_person"]

# -- step 2: intent ---------------------------------------------------------------------------
# the first intent whose pattern matches wins: the order is the precedence
_PATTERNS: tuple[tuple[Intent, str], ...] = (
        ("complaint", r"complain|broken|damaged|terrible|awful|disappoint|angry|unacceptable"
                      r"|wrong (?:item|product|size)|faulty|defective|投诉|差评|坏了|破损|损坏"
                      r"|质量(?:太)?差|不满意|生气|太差|气死|发错|少发|漏发"),
        ("return_refund", r"\breturn|refund|exchange|money back|send (?:it )?back|退货|退款"
                          r"|换货|退钱|退回|售后|退换"),
        ("delivery", r"deliver|shipping|shipped|ship\b|arriv|track|courier|parcel|dispatch"
                     r"|where is (?:my|the)|物流|快递|发货|到货|送到|配送|几天到|什么时候到"
                     r"|到哪|在哪|到了吗|运单|包裹"),
        ("recommendation", r"recommend|suggest|what (?:else )?should i buy|gift idea|推荐"
                           r"|买什么|建议|有什么好"),
        ("product_question", r"product|\bitem\b|how much|price|in stock|available|size|material"
                             r"|商品|产品|多少钱|价格|尺码|有货|库存|材质|怎么样|好用"),
        ("order_status", r"\border|purchase|bought|did i buy|last time|invoice|receipt|spent"
                         r"|订单|买了|购买|下单"
                         r"|下的单|消费"),
)  # fmt: skip
_INTENTS = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _PATTERNS)
_ABOUT_OTHERS = re.compile(
    r"another (?:customer|user|person|account)|other (?:customer|user|people|account)s?"
    r"|someone else|somebody else|(?:my )?(?:friend|wife|husband|neighbou?r|colleague)'?s "
    r"(?:order|account|purchase)|\b(?:his|her|their) (?:order|account|purchase|address)"
    r"|(?:customer|user|client|account) ?(?:no\.? ?|number |id |#)?"
    r"(?P<who>[A-Za-z]*\d[A-Za-z0-9_-]*)"
    r"|别人|他人|其他(?:客户|用户|顾客|人)|另一个(?:客户|用户|顾客|人)|别的(?:客户|用户|顾客)"
    r"|(?:他|她|他们|朋友|同事|邻居)的(?:订单|账户|账号|购买|地址)"
    r"|(?:客户|用户|顾客|账户|账号)(?:号|编号|ID|id)?\s*"
    r"(?P<zh_who>[A-Za-z]*\d[A-Za-z0-9_-]*)",
    re.IGNORECASE,
)
# an id-like token (ASCII: in Python ``\w`` also matches Chinese characters)
_TOKEN = re.compile(r"(?<![\w.])[A-Za-z]?\d[\w-]{2,}(?![\w.])", re.ASCII)
_YEAR_OR_DATE = re.compile(r"(?:19|20)\d\d(?:[-/年]\d{1,2})?")
_WORD = re.compile(r"[A-Za-z]{3,}|[\u4e00-\u9fff]{2,}")
_STOP = {
    "the", "and", "for", "you", "your", "what", "how", "much", "does", "have", "can", "this",
    "that", "with", "about", "any", "are", "is", "was", "my", "price", "item", "product",
    "stock", "available", "size", "material", "there", "tell", "more", "buy", "want", "good",
}  # fmt: skip


def intent_of(question: str) -> Intent:
    """The intent of a question, by the first pattern that matches (see ``_INTENTS``)."""
    for name, pattern in _INTENTS:
        if pattern.search(question):
            return name
    return "other"


def language_of(question: str) -> Language:
    han = len(re.findall(r"[\u4e00-\u9fff]", question))
    return "zh" if han and han * 4 >= len(re.findall(r"[A-Za-z]", question)) else "en"


# -- facts ------------------------------------------------------------------------------------
class OrderFact(Fact):
    """One of the customer's orders as the assistant may quote it."""

    order_id: str
    #: local date in the shop's time zone
    date: str
    status: str
    amount: float | None
    currency: str
    lines: int
    #: titles of its first lines
    titles: list[str] = []


class ProductFact(Fact):
    """A catalogue item the question names, with what its reviews say when it has some."""

    item_id: str
    title: str | None
    category: str | None
    price: float | None
    reviews: int = 0
    positive_share: float | None = None
    top_praise: str | None = None
    top_complaint: str | None = None


class ReviewFact(Fact):
    item_id: str | None
    date: str | None
    rating: int | None
    sentiment: str | None


class AssistantFacts(Fact):
    """Everything an answer may use: the customer's own data and the catalogue's."""

    intent: Intent
    currency: str
    orders_total: int
    #: the order asked about, or the last one
    focus: OrderFact | None = None
    recent_orders: list[OrderFact] = []
    reviews: list[ReviewFact] = []
    recommendations: list[ProductFact] = []
    products: list[ProductFact] = []


class AnswerText(Fact):
    """What the assistant says."""

    answer: str = Field(min_length=1, max_length=1200)


class Answer(Fact):
    """The answer to one question, with the facts it used (or the refusal)."""

    user_id: str
    question: str
    language: Language
    intent: Intent
    intent_label: Label
    refused: bool
    refusal: Refusal | None = None
    text: AnswerText
    facts: AssistantFacts | None = None
    source: str
    model: str
    prompt_version: str | None = None
    rejected: list[str] = []

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"user_id": self.user_id, "intent": self.intent, "refused": self.refused,
                 "refusal": self.refusal, "answer": self.text.answer,
                 "source": self.source}]  # fmt: skip


# -- step 1: access ---------------------------------------------------------------------------
def _refusal(ws: Workspace, person: str, asker: str, question: str) -> Refusal | None:
    """Why the question reaches beyond the asker's own data, if it does: words about
    somebody else, a customer id that is not the asker's, or an order that is not theirs."""
    links = ws.table("identities")
    own = {asker, person}
    own |= set(
        links.filter(links.person == person)["alias"].cast(dt.string).to_pyarrow().to_pylist()
    )
    for m in _ABOUT_OTHERS.finditer(question):
        who = m.group("who") or m.group("zh_who")
        if who is None:
            return "other_person"
        if who not in own:
            return "other_customer"
    tokens = {t for t in _TOKEN.findall(question) if not _YEAR_OR_DATE.fullmatch(t)} - own
    if not tokens:
        return None
    tables = history.tables(ws.con)
    orders = tables["orders"].select(order_id=ibis._.order_id.cast(dt.string), person="user_id")
    found = orders.filter(orders.order_id.isin(sorted(tokens))).to_pyarrow().to_pylist()
    if any(r["person"] != person for r in found):
        return "other_order"
    tokens -= {r["order_id"] for r in found}
    if not tokens:
        return None
    ids = tables["orders"].select(uid=ibis._.user_id.cast(dt.string))
    ids = ids.union(tables["users"].select(uid=ibis._.user_id.cast(dt.string)))
    ids = ids.union(links.select(uid=links["alias"].cast(dt.string)))
    known = ids.filter(ids.uid.isin(sorted(tokens))).uid.to_pyarrow().to_pylist()
    return "other_customer" if set(known) - own else None


# -- step 3: retrieval ------------------------------------------------------------------------
def _local_date(ts: datetime | None, zone: ZoneInfo) -> str | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date().isoformat()


def _orders(person: str, tables: dict[str, ir.Table]) -> list[dict[str, Any]]:
    """The person's orders, newest first, with amounts (from the lines where the order has
    none) and line counts; only their own order lines are read."""
    o = tables["orders"].filter(ibis._.user_id == person)
    mine = tables["order_items"].semi_join(o.select("order_id"), "order_id")
    totals = history.line_totals({"order_items": mine})
    lines = mine.group_by("order_id").aggregate(lines=ibis._.count())
    joined = o.left_join(totals, "order_id").drop("order_id_right")
    joined = joined.left_join(lines, "order_id").drop("order_id_right")
    rows: list[dict[str, Any]] = (
        joined.select(
            order_id=joined.order_id.cast(dt.string), ts=joined.ts, status=joined.status,
            amount=joined.amount.cast(dt.float64).coalesce(joined.lines_total),
            lines=joined.lines.fill_null(0),
        )
        .order_by([ibis.desc("ts"), ibis.desc("order_id")])
        .to_pyarrow()
        .to_pylist()
    )  # fmt: skip
    return rows


def _titles(ws: Workspace, order_ids: list[str]) -> dict[str, list[str]]:
    oi, items = ws.table("order_items"), ws.table("items")
    rows = (
        oi.filter(oi.order_id.cast(dt.string).isin(order_ids))
        .left_join(items.select("item_id", "title"), "item_id")
        .select(order_id=ibis._.order_id.cast(dt.string), line="line",
                title=ibis._.title.coalesce(ibis._.item_id.cast(dt.string)))
        .order_by(["order_id", "line"])
        .to_pyarrow()
        .to_pylist()
    )  # fmt: skip
    out: dict[str, list[str]] = {}
    for r in rows:
        got = out.setdefault(r["order_id"], [])
        if len(got) < 3:
            got.append(str(r["title"]))
    return out


def _products(ws: Workspace, ids: list[str]) -> list[ProductFact]:
    """Catalogue facts of ``ids``, in that order, with their reviews' figures."""
    items = ws.table("items")
    chosen = items.filter(items.item_id.cast(dt.string).isin(ids))
    chosen = chosen.select(
        item_id=chosen.item_id.cast(dt.string), title="title", category="category",
        price=chosen.price.cast(dt.float64),
    )  # fmt: skip
    if ws.has_table("item_text"):
        it = ws.table("item_text").select(
            item_id=ibis._.item_id.cast(dt.string), reviews="reviews",
            positive_share="positive_share", top_praise="top_praise",
            top_complaint="top_complaint",
        )  # fmt: skip
        chosen = chosen.left_join(it, "item_id").drop("item_id_right")
    rows = chosen.to_pyarrow().to_pylist()
    facts = [ProductFact(**{k: v for k, v in r.items() if v is not None or k != "reviews"})
             for r in rows]  # fmt: skip
    return sorted(facts, key=lambda p: ids.index(p.item_id))


def _named_products(ws: Workspace, question: str) -> list[ProductFact]:
    words = [w.lower() for w in _WORD.findall(question) if w.lower() not in _STOP]
    if not words:
        return []
    items = ws.table("items")
    title = items.title.lower()
    hits = sum((title.contains(w).cast(dt.int32) for w in words), ibis.literal(0))
    best = (
        items.mutate(_hits=hits)
        .filter(ibis._._hits > 0)
        .order_by([ibis.desc("_hits"), "item_id"])
        .limit(3)
    )
    rows = best.select(item_id=best.item_id.cast(dt.string), hits="_hits").to_pyarrow()
    found = rows.to_pylist()
    if not found:
        return []
    top = found[0]["hits"]
    ids = [r["item_id"] for r in found if r["hits"] == top]
    return _products(ws, ids)


def gather(ws: Workspace, user_id: str, question: str, intent: Intent) -> AssistantFacts:
    """The facts for an answer: the person's orders, reviews, recommendations and the
    catalogue items the question names."""
    person = history.person_of(ws.con, user_id)
    tables = history.tables(ws.con)
    zone = ZoneInfo(ws.config.shop.timezone)
    currency = ws.config.shop.currency
    rows = _orders(person, tables)
    asked = [r for r in rows if r["order_id"] in set(_TOKEN.findall(question))]
    focus_rows = asked[:1] or rows[:1]
    recent = rows[:5]
    titles = _titles(ws, sorted({r["order_id"] for r in recent + focus_rows}))

    def fact(r: dict[str, Any]) -> OrderFact:
        return OrderFact(
            order_id=r["order_id"], date=_local_date(r["ts"], zone) or "", status=r["status"],
            amount=None if r["amount"] is None else round(float(r["amount"]), 2),
            currency=currency, lines=int(r["lines"]), titles=titles.get(r["order_id"], []),
        )  # fmt: skip

    rv = tables["reviews"].filter(ibis._.user_id == person)
    if ws.has_table("review_sentiment"):
        s = ws.table("review_sentiment").select("review_id", "sentiment")
        rv = rv.left_join(s, "review_id").drop("review_id_right")
    else:
        rv = rv.mutate(sentiment=ibis.null(dt.string))
    reviews = [
        ReviewFact(item_id=None if r["item_id"] is None else str(r["item_id"]),
                   date=_local_date(r["ts"], zone), rating=r["rating"], sentiment=r["sentiment"])
        for r in rv.order_by(ibis.desc("ts")).limit(3).select("item_id", "ts", "rating",
                                                               "sentiment").to_pyarrow().to_pylist()
    ]  # fmt: skip
    recommended: list[ProductFact] = []
    if intent == "recommendation" and ws.has_table("recommendations"):
        rec = ws.table("recommendations").filter(ibis._.user_id == person)
        ids = rec.order_by("rank").limit(3).item_id.cast(dt.string).to_pyarrow().to_pylist()
        recommended = _products(ws, ids)
    products = _named_products(ws, question) if intent == "product_question" else []
    return AssistantFacts(
        intent=intent, currency=currency, orders_total=len(rows),
        focus=fact(focus_rows[0]) if focus_rows else None,
        recent_orders=[fact(r) for r in recent], reviews=reviews,
        recommendations=recommended, products=products,
    )  # fmt: skip


# -- step 4: the offline answer ---------------------------------------------------------------
#: the offline answer's sentences, (English, Chinese), filled from the facts
_SAY: dict[str, tuple[str, str]] = {
    "order": ("order {id} of {date}: {lines} line(s){titles}, {amount}, status {status}",
              "订单 {id}（{date}）：{lines} 件商品{titles}，{amount}，状态：{status}"),
    "your_order": ("Your {order}.", "您的{order}。"),
    "order_count": ("You have {n} orders with us.", "您共有 {n} 个订单。"),
    "no_orders": ("I found no orders on your account.", "我没有找到您的订单记录。"),
    "no_tracking": ("I have no delivery tracking, so I cannot tell where the parcel is now; "
                    "our service team can look it up.",
                    "我这里没有物流跟踪信息，无法告诉您包裹现在的位置；如需查询请联系人工客服。"),
    "about_order": ("About your {order}.", "关于您的{order}。"),
    "return_policy": ("Returns and refunds are decided by our service team under the shop's "
                      "policy, which I cannot apply for you; the order details are above.",
                      "退货和退款需要人工客服按店铺政策处理，我无法替您决定；订单信息已列在上面。"),
    "sorry": ("I am sorry about your experience.", "很抱歉给您带来不好的体验。"),
    "may_concern": ("It may concern your {order}.", "涉及的可能是您的{order}。"),
    "escalate": ("I will pass this to our service team to follow up.",
                 "我会把问题转给人工客服跟进。"),
    "recommend": ("From what you bought, you may like: {names}.",
                  "根据您的购买记录，推荐：{names}。"),
    "no_recommend": ("I have no recommendations for you yet.", "我还没有适合您的推荐。"),
    "product": ("{name} (item {id}): {price}{reviews}.",
                "「{name}」（商品 {id}）：{price}{reviews}。"),
    "product_reviews": (", {share} of {n} reviews positive", "，{n} 条评价中 {share} 为好评"),
    "no_product": ("I could not find that product in the catalogue; could you give its name "
                   "or item number?",
                   "我在商品目录里没有找到您说的商品，能告诉我商品名称或编号吗？"),
    "help": ("I can help with your orders, deliveries, returns, products and recommendations.",
             "我可以回答您的订单、物流、退换货、商品和推荐方面的问题。"),
    "unknown_amount": ("an unknown amount", "金额未知"),
    "unknown_price": ("price unknown", "价格未知"),
}  # fmt: skip


def offline_answer(facts: AssistantFacts, language: Language) -> AnswerText:
    """The template answer for the intent, from the facts only."""
    zh = language == "zh"

    def say(key: str, **values: Any) -> str:
        en, cn = _SAY[key]
        return (cn if zh else en).format(**values)

    def order(o: OrderFact) -> str:
        status = label("order_status", o.status) or Label(en=o.status, zh=o.status)
        titles = ("、" if zh else ", ").join(o.titles)
        if titles:
            more = ("等" if zh else " ...") if o.lines > len(o.titles) else ""
            titles = f"（{titles}{more}）" if zh else f" ({titles}{more})"
        amount = say("unknown_amount") if o.amount is None else f"{o.amount:,.2f} {o.currency}"
        return say("order", id=o.order_id, date=o.date, lines=o.lines, titles=titles,
                   amount=amount, status=status.zh if zh else status.en)  # fmt: skip

    f, intent = facts.focus, facts.intent
    parts: list[str] = []
    if f is None and intent in ("order_status", "delivery", "return_refund"):
        parts.append(say("no_orders"))
    elif intent == "order_status" and f is not None:
        parts.append(say("your_order", order=order(f)))
        if facts.orders_total > 1:
            parts.append(say("order_count", n=facts.orders_total))
    elif intent == "delivery" and f is not None:
        parts += [say("your_order", order=order(f)), say("no_tracking")]
    elif intent == "return_refund" and f is not None:
        parts += [say("about_order", order=order(f)), say("return_policy")]
    elif intent == "complaint":
        parts.append(say("sorry"))
        if f is not None:
            parts.append(say("may_concern", order=order(f)))
        parts.append(say("escalate"))
    elif intent == "recommendation":
        names = ("、" if zh else "; ").join(p.title or p.item_id for p in facts.recommendations)
        parts.append(say("recommend", names=names) if names else say("no_recommend"))
    elif intent == "product_question" and not facts.products:
        parts.append(say("no_product"))
    elif facts.products:
        for p in facts.products:
            reviews = ""
            if p.reviews and p.positive_share is not None:
                reviews = say("product_reviews", share=f"{p.positive_share:.0%}", n=p.reviews)
            price = say("unknown_price") if p.price is None else f"{p.price:,.2f} {facts.currency}"
            parts.append(say("product", name=p.title or p.item_id, id=p.item_id, price=price,
                             reviews=reviews))  # fmt: skip
    else:
        parts.append(say("help"))
    return AnswerText(answer=("" if zh else " ").join(parts))


def ask(
    ws: Workspace,
    user_id: str,
    question: str,
    *,
    client: LLMClient | None = None,
    language: Language | None = None,
) -> Answer:
    """Answer ``question`` as customer ``user_id`` would be answered by the shop's service.

    Raises :class:`NotFoundError` for an unknown customer and :class:`ConfigError` for an
    empty question. A question about another customer or their orders gets a refusal
    (``refused`` true), decided before any of their data is read.
    """
    question = question.strip()
    if not question:
        raise ConfigError('The question is empty; ask something, e.g. "where is my order?".')
    person = history.person_of(ws.con, user_id)
    tables = history.tables(ws.con)
    exists = tables["users"].filter(ibis._.user_id == person).count().execute()
    exists = exists or tables["orders"].filter(ibis._.user_id == person).count().execute()
    if not exists:
        raise NotFoundError(
            f"There is no customer {user_id!r}; check the id (`portrait profile` takes the "
            "same ids)."
        )
    language = language or language_of(question)
    masked = str(mask_pii(question))
    intent = intent_of(question)
    refusal = _refusal(ws, person, user_id, question)
    if refusal is not None:
        words = label("assistant_refusal", refusal)
        assert words is not None
        return Answer(
            user_id=user_id, question=masked, language=language, intent=intent,
            intent_label=label("assistant_intent", intent) or Label(en=intent, zh=intent),
            refused=True, refusal=refusal,
            text=AnswerText(answer=words.zh if language == "zh" else words.en),
            source="offline", model="none",
        )  # fmt: skip
    facts = gather(ws, user_id, question, intent)
    payload = {"question": masked, **facts.model_dump(mode="json")}
    offline = offline_answer(facts, language)
    job = Job(render_prompt("assistant", language, payload), AnswerText, payload, offline, ())
    own = client is None
    used = client or make_client(ws.config.llm)
    try:
        [done] = generate_all(used, [job], cache=ResponseCache(ws.artifacts / "llm"),
                              max_paid_calls=max(ws.config.llm.max_paid_calls, 1))  # fmt: skip
    finally:
        if own:
            used.close()
    return Answer(
        user_id=user_id, question=masked, language=language, intent=intent,
        intent_label=label("assistant_intent", intent) or Label(en=intent, zh=intent),
        refused=False, text=done.value, facts=facts, source=done.source, model=used.model,
        prompt_version=job.prompt.version, rejected=list(done.rejected),
    )  # fmt: skip
