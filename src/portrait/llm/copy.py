"""Marketing copy (营销文案) for a segment, a cluster or an item, in A/B-test variants.

One message per variant and channel (SMS, app push, e-mail), each written from a different
angle (:data:`ANGLES`) so the variants can be tested against each other. The facts are the
shop's name, the item's title, category and price, and the audience's
:class:`~portrait.segments.SegmentStats` (which sets the tone through the persona playbook).
The text may quote only the shop and the item: the audience's figures are averages of a
group, not facts about the reader, so a text quoting them is rejected like an invented one.

Channel limits are counted in characters as Python's ``len`` counts them:

======= =========================== ===================================================
channel zh                          en
======= =========================== ===================================================
sms     text 70, opt-out included   text 70, opt-out included
push    title 20, body 60           title 40, body 120
email   subject 30, preheader 50,   subject 60, preheader 100, body 400
        body 200
======= =========================== ===================================================

An SMS of 70 characters is one segment in any encoding: 70 is the UCS-2 limit, which holds
for Chinese and for any English text with one character outside GSM-7 (a curly quote, an
emoji), so English is held to it too. The offline text heads an SMS with the shop's name
(【店铺名】, the signature Chinese gateways ask for) while it fits; a gateway that adds its own
signature counts it in the same 70. Push titles and bodies are what lock screens show
without truncation; e-mail subjects and preheaders what inboxes show. An e-mail's
unsubscribe link is the sending platform's footer, outside the body.

The offline backend writes each field from templates in the fullest wording that fits: the
item's whole title, then shorter, then no item (an SMS also without the shop's name, or in
its short line). A model's answer that is too long, lacks the SMS opt-out or quotes a number
the shop and item do not hold is rejected, regenerated once, then replaced by the offline
text (:class:`~portrait.llm.grounding.Job`'s ``check`` and ``quotable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from pydantic import Field

from portrait.errors import ConfigError, DataError, NotFoundError
from portrait.facts import Fact
from portrait.llm.cache import ResponseCache
from portrait.llm.client import Language, LLMClient, Spend, make_client, usage_summary
from portrait.llm.grounding import Job, Problem, Source, generate_all
from portrait.llm.persona import Grouping, play_of
from portrait.llm.prompting import render_prompt
from portrait.segments import SegmentStats, segment_report

if TYPE_CHECKING:
    from portrait.workspace import Workspace

Channel = Literal["sms", "push", "email"]
#: benefit: the item and its price; urgency: act now (no invented deadline); loyalty: thanks
#: or greets the audience in its playbook's tone; curiosity: opens with a question
Angle = Literal["benefit", "urgency", "loyalty", "curiosity"]
ANGLES: tuple[Angle, ...] = get_args(Angle)
Play = Literal["reward", "grow", "welcome", "win_back", "low_cost"]


# -- channels -----------------------------------------------------------------------------------
class ChannelLimits(Fact):
    """What one channel allows in one language: the most characters of each field, and the
    opt-out phrase every message must carry (SMS), counted in its length."""

    channel: Channel
    language: Language
    #: field -> most characters (Python ``len``), in the order the channel shows them
    max_chars: dict[str, int]
    opt_out: str | None = None

    def problems(self, fields: dict[str, str]) -> list[Problem]:
        """The limits ``fields`` breaks (empty: it fits)."""
        found = [
            Problem(name, "limit", f"{name} has {len(text)} characters, at most {most}")
            for name, most in self.max_chars.items()
            if len(text := fields.get(name, "")) > most
        ]
        if self.opt_out is not None and self.opt_out not in fields.get("text", ""):
            found.append(Problem(self.opt_out, "limit", f"text lacks the opt-out {self.opt_out!r}"))
        return found


_OPT_OUT: dict[Language, str] = {"zh": "回T退订", "en": "Reply STOP to opt out"}
_MAX_CHARS: dict[tuple[Channel, Language], dict[str, int]] = {
    ("sms", "zh"): {"text": 70},
    ("sms", "en"): {"text": 70},
    ("push", "zh"): {"title": 20, "body": 60},
    ("push", "en"): {"title": 40, "body": 120},
    ("email", "zh"): {"subject": 30, "preheader": 50, "body": 200},
    ("email", "en"): {"subject": 60, "preheader": 100, "body": 400},
}


def channel_limits(channel: Channel, language: Language) -> ChannelLimits:
    """The limits of ``channel`` in ``language`` (see the module's table)."""
    try:
        most = _MAX_CHARS[(channel, language)]
    except KeyError:
        raise ConfigError(
            f"There is no channel {channel!r} in {language!r}; use sms, push or email, in zh or en."
        ) from None
    opt_out = _OPT_OUT[language] if channel == "sms" else None
    return ChannelLimits(channel=channel, language=language, max_chars=most, opt_out=opt_out)


# -- what a model writes ------------------------------------------------------------------------
class CopyText(Fact):
    """The words of one message; one subclass per channel."""


class SmsText(CopyText):
    text: str = Field(min_length=1)


class PushText(CopyText):
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)


class EmailText(CopyText):
    subject: str = Field(min_length=1)
    preheader: str = Field(min_length=1)
    body: str = Field(min_length=1)


_SCHEMAS: dict[Channel, type[CopyText]] = {"sms": SmsText, "push": PushText, "email": EmailText}


# -- the result ---------------------------------------------------------------------------------
class CopyItem(Fact):
    """The item a copy promotes, as the items table holds it."""

    item_id: str
    title: str | None
    category: str | None
    price: float | None
    currency: str


class CopyVariant(Fact):
    """One variant of an A/B test: its angle, its words, and whether they fit the channel."""

    #: "A", "B", "C", ...
    id: str
    angle: Angle
    #: field -> text, in the channel's order (text; title, body; subject, preheader, body)
    text: dict[str, str]
    #: field -> characters (Python ``len``)
    lengths: dict[str, int]
    #: every field within its limit, and the opt-out present where the channel needs one
    fits: bool
    #: model (a model's answer, grounded and within limits), cache, offline (templates) or
    #: offline_fallback (the templates, after rejected answers)
    source: Source
    #: what was wrong with rejected answers (an invented number, a field too long)
    rejected: list[str] = []


class MarketingCopy(Spend):
    """Variants of one message for one channel, and the facts they were written from."""

    channel: Channel
    language: Language
    limits: ChannelLimits
    shop: str
    #: the audience's grouping and figures (``None``: every customer)
    grouping: Grouping | None
    audience: SegmentStats | None
    #: the persona playbook the audience's tone comes from (reward, win_back, ...)
    play: Play | None
    item: CopyItem | None
    variants: list[CopyVariant]
    model: str
    prompt_version: str

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {"variant": v.id, "angle": v.angle, "channel": self.channel,
             "language": self.language, **v.text, "fits": v.fits, "source": v.source}
            for v in self.variants
        ]  # fmt: skip


# -- the offline text ---------------------------------------------------------------------------
_GREETING: dict[Play | None, tuple[str, str]] = {
    "reward": ("Thank you for being with us", "感谢一路相伴"),
    "grow": ("Picked with you in mind", "为你用心挑选"),
    "welcome": ("Welcome", "欢迎你"),
    "win_back": ("We miss you", "好久不见"),
    "low_cost": ("It's been a while", "好久不见"),
    None: ("Thanks for shopping with us", "感谢你的关注"),
}
_THANKS: dict[Play | None, tuple[str, str]] = {
    "reward": ("Thank you for your support.", "谢谢你一直以来的支持。"),
    "grow": ("See what else might suit you.", "看看还有哪些好物适合你。"),
    "welcome": ("Glad to have you with us.", "很高兴认识你，愿你在这里买得开心。"),
    "win_back": ("We're here whenever you're ready.", "我们一直在，随时欢迎你回来。"),
    "low_cost": ("We're here whenever you're ready.", "我们一直在，随时欢迎你回来。"),
    None: ("Thanks for following us.", "谢谢你的关注。"),
}
#: each angle's extra sentence (an e-mail's preheader); loyalty's is the playbook's thanks
_EXTRA: dict[Angle, tuple[str, str]] = {
    "benefit": ("Find something you'll love.", "挑一件合心意的，给生活添点好心情。"),
    "urgency": ("If it catches your eye, now is the time.", "看中了就趁现在，别让心动溜走。"),
    "curiosity": ("The answer might be in our shop.", "答案也许就在这里。"),
}
_SYMBOL = {"CNY": "¥", "RMB": "¥", "GBP": "£", "USD": "$", "EUR": "€"}


@dataclass(frozen=True)
class _Words:
    """One angle's wording: a headline (push title, e-mail subject), a line (SMS, push body),
    a short line (an SMS that the line does not fit) and an extra sentence (preheader)."""

    headline: str
    line: str
    short: str
    extra: str


def _words(
    angle: Angle, play: Play | None, title: str | None, price: str | None, language: Language
) -> _Words:
    """An angle's wording, about the item when there is one (``title``), in ``language``."""
    en = language == "en"
    greet, thanks = (v[0 if en else 1] for v in (_GREETING[play], _THANKS[play]))
    if en:
        item = f"{title} ({price})" if title and price else title
        extra = thanks if angle == "loyalty" else _EXTRA[angle][0]
        if angle == "benefit" and title and price:
            head = f"{title} for just {price}"
            return _Words(head, f"Get {title} for just {price}.", f"{head}.", extra)
        if angle == "benefit" and title:
            return _Words(f"Picked for you: {title}", f"We picked {title} for you.",
                          f"Picked for you: {title}.", extra)  # fmt: skip
        if angle == "benefit":
            return _Words("Our picks for you", "Our favourite picks are waiting for you.",
                          "Our picks for you.", extra)  # fmt: skip
        if angle == "urgency" and item:
            return _Words(f"Don't wait: {title}", f"Like it? Don't wait, order {item} today.",
                          f"Don't wait: {item}.", extra)  # fmt: skip
        if angle == "urgency":
            return _Words("Don't wait: come and browse", "Don't wait, come and browse today.",
                          "Don't wait: come and browse.", extra)  # fmt: skip
        if angle == "loyalty" and item:
            return _Words(greet, f"{greet}! We picked {item} for you.",
                          f"{greet}! Picked for you: {item}.", extra)  # fmt: skip
        if angle == "loyalty":
            return _Words(greet, f"{greet}! We picked a few favourites for you.", f"{greet}!",
                          extra)  # fmt: skip
        if item:
            return _Words(f"Have you seen {title}?", f"Looking for something new? Meet {item}.",
                          f"Have you seen {item}?", extra)  # fmt: skip
        return _Words("Looking for something new?", "Looking for something new? Come and see.",
                      "Looking for something new?", extra)  # fmt: skip
    item = f"{title}（{price}）" if title and price else title
    extra = thanks if angle == "loyalty" else _EXTRA[angle][1]
    if angle == "benefit" and title and price:
        head = f"{title} 仅 {price}"
        return _Words(head, f"{title} 仅需 {price}，进店看看吧。", f"{head}。", extra)
    if angle == "benefit" and title:
        return _Words(f"为你推荐 {title}", f"为你推荐 {title}，进店看看吧。",
                      f"为你推荐 {title}。", extra)  # fmt: skip
    if angle == "benefit":
        return _Words("精选好物，为你推荐", "店里的精选好物都在等你，进店看看吧。",
                      "精选好物，为你推荐。", extra)  # fmt: skip
    if angle == "urgency" and item:
        return _Words(f"趁现在，带走 {title}", f"喜欢就别等了：{item}，现在就下单吧。",
                      f"趁现在，带走 {item}。", extra)  # fmt: skip
    if angle == "urgency":
        return _Words("趁现在，进店逛逛", "喜欢就别等了，现在就进店逛逛吧。",
                      "趁现在，进店逛逛。", extra)  # fmt: skip
    if angle == "loyalty" and item:
        return _Words(greet, f"{greet}！为你挑了 {item}，进店看看吧。",
                      f"{greet}！为你挑了 {item}。", extra)  # fmt: skip
    if angle == "loyalty":
        return _Words(greet, f"{greet}！为你准备了精选好物，进店看看吧。", f"{greet}！", extra)
    if item:
        return _Words(f"{title}，了解一下？", f"还在找心仪的好物吗？看看 {item}。",
                      f"{item}，了解一下？", extra)  # fmt: skip
    return _Words("今天想买点什么？", "还在找心仪的好物吗？进店看看为你挑的精选。",
                  "今天想买点什么？", extra)  # fmt: skip


def _field(channel: Channel, name: str, words: _Words, shop: str, language: Language) -> list[str]:
    """One field's wordings from an angle's words, the fullest first. An SMS is headed by
    the shop's name (【店铺】 in Chinese) while it fits, and ends with the opt-out."""
    en = language == "en"
    if channel == "sms":
        heads = (f"{shop}: ", "") if en else (f"【{shop}】", "")
        gap = " " if en else ""
        return [f"{head}{line}{gap}{_OPT_OUT[language]}"
                for line in (words.line, words.short) for head in heads]  # fmt: skip
    if name in ("title", "subject"):
        return [words.headline]
    if name == "preheader":
        return [words.extra]
    if channel == "push":
        return [words.line]
    if en:
        return [f"Hello! {words.line} {words.extra} We look forward to seeing you.\n\n— {shop}"]
    return [f"你好！{words.line}{words.extra}期待你的光临。\n\n——{shop}"]


def shorten(title: str, most: int) -> str:
    """``title`` in at most ``most`` characters: cut at a word (never inside a number)."""
    if len(title) <= most:
        return title
    cut = most - 1
    if " " in title[: cut + 1]:
        cut = title.rindex(" ", 0, cut + 1)
    numeric = set("0123456789.,")
    while cut > 0 and title[cut - 1] in numeric and title[cut] in numeric:
        cut -= 1
    return title[:cut].rstrip(" ,.-/:;，、") + "…"


#: a title is not shortened below this many characters (the copy goes without it instead)
_SHORTEST_TITLE = 8


def _titles(item: CopyItem | None) -> list[str | None]:
    """The item's name (its title, else its category's last level), then shorter and
    shorter, then none (the copy without the item)."""
    name = None
    if item is not None:
        name = (item.title or "").strip() or (item.category or "").split("/")[-1].strip() or None
    found: list[str | None] = []
    if name is not None:
        for most in range(len(name), _SHORTEST_TITLE - 1, -1):
            short = shorten(name, most)
            if short not in found and (len(short) >= _SHORTEST_TITLE or short == name):
                found.append(short)
    return [*found, None]


def money_text(price: float, currency: str) -> str:
    symbol = _SYMBOL.get(currency.upper())
    return f"{symbol}{price:,.2f}" if symbol else f"{price:,.2f} {currency}"


def offline_copy(
    limits: ChannelLimits,
    angle: Angle,
    *,
    shop: str,
    item: CopyItem | None,
    play: Play | None,
) -> dict[str, str]:
    """The template message of one angle: each field in the fullest wording that fits.

    Each field is tried with the item's whole title, then shorter titles, then without the
    item; an SMS also with its short line and without the shop's name. The last wording
    always fits. Every number is the item's price or in its title.
    """
    language = limits.language
    price = money_text(item.price, item.currency) if item and item.price is not None else None
    options = [_words(angle, play, t, price if t else None, language) for t in _titles(item)]
    out: dict[str, str] = {}
    for name, most in limits.max_chars.items():
        tried = [c for w in options for c in _field(limits.channel, name, w, shop, language)]
        # the last is a template bug if it does not fit: generate_all logs it, fits says so
        out[name] = next((c for c in tried if len(c) <= most), tried[-1])
    return out


# -- the facts ----------------------------------------------------------------------------------
def _item(ws: Workspace, item_id: str, currency: str) -> CopyItem:
    t = ws.table("items")
    rows = (
        t.filter(t.item_id == item_id)
        .select("item_id", "title", "category", "price", "is_merchandise", "in_stock")
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    if not rows:
        raise NotFoundError(
            f"The workspace has no item {item_id!r}; use an item_id of the items table, "
            "as the shop's data writes it (a SKU or stock code)."
        )
    row = rows[0]
    if row["is_merchandise"] is False or row["in_stock"] is False:
        why = "is not merchandise" if row["is_merchandise"] is False else "is out of stock"
        raise DataError(f"Item {item_id!r} {why}; promote a product that can be bought now.")
    price = row["price"]
    return CopyItem(
        item_id=str(row["item_id"]), title=row["title"], category=row["category"],
        price=None if price is None else float(price), currency=currency,
    )  # fmt: skip


def _audience(
    ws: Workspace, segment: str | None, cluster: int | None
) -> tuple[Grouping, SegmentStats] | None:
    if segment is not None and cluster is not None:
        raise ConfigError("Give a segment or a cluster, not both; write one copy per audience.")
    if segment is None and cluster is None:
        return None
    report = segment_report(ws)
    wanted: tuple[tuple[Grouping, str], ...] = (
        (("rfm_segment", str(segment)), ("lifecycle_stage", str(segment)))
        if segment is not None
        else (("cluster", str(cluster)),)
    )
    for grouping, code in wanted:
        for stats in getattr(report, grouping):
            if stats.segment == code:
                return grouping, stats
    what = f"segment {segment!r}" if segment is not None else f"cluster {cluster}"
    raise NotFoundError(
        f"The workspace has no {what}; `portrait segments` lists the segments and clusters."
    )


def copy_facts(
    limits: ChannelLimits,
    angle: Angle,
    *,
    shop: str,
    item: CopyItem | None,
    audience: tuple[Grouping, SegmentStats] | None,
    play: Play | None,
) -> dict[str, Any]:
    """The facts sent for one variant: the brief (channel, angle, limits, opt-out), the shop,
    the item and the audience. No customer appears in them."""
    return {
        "channel": limits.channel,
        "angle": angle,
        "limits": limits.max_chars,
        "opt_out": limits.opt_out,
        "shop": shop,
        "item": None if item is None else item.model_dump(mode="json"),
        "audience": None if audience is None else {
            "grouping": audience[0], "segment": audience[1].segment, "play": play,
            "name_en": audience[1].label.en, "name_zh": audience[1].label.zh,
            "figures": audience[1].model_dump(mode="json", exclude={"segment", "label"}),
        },
    }  # fmt: skip


def quotable_facts(shop: str, item: CopyItem | None) -> dict[str, Any]:
    """What a message may quote: the shop's name and the item (never the audience's
    figures, which describe a group, not the reader)."""
    return {"shop": shop, "item": None if item is None else item.model_dump(mode="json")}


# -- the function -------------------------------------------------------------------------------
def marketing_copy(
    ws: Workspace,
    *,
    segment: str | None = None,
    cluster: int | None = None,
    item_id: str | None = None,
    channel: Channel = "sms",
    variants: int = 3,
    client: LLMClient | None = None,
    language: Language | None = None,
    yes: bool = False,
) -> MarketingCopy:
    """Variants of one marketing message for an audience and/or an item, for an A/B test.

    Parameters
    ----------
    segment, cluster
        The audience: an RFM segment or lifecycle stage (its code, e.g. ``"Champions"`` or
        ``"active"``), or a cluster; neither: every customer. Its playbook sets the tone.
    item_id
        The item to promote (its title and price go into the copy); ``None``: no item.
    channel
        ``"sms"``, ``"push"`` or ``"email"``; its limits are :func:`channel_limits`'.
    variants
        How many variants, 1 to 4, lettered A, B, ... and each from its own angle, in the
        order of :data:`ANGLES` (benefit, urgency, loyalty, curiosity).
    client
        The backend; default: the one ``[llm]`` in ``portrait.toml`` names.
    language
        ``"zh"`` or ``"en"``; default: ``[llm].language``.
    yes
        Go ahead even when the variants would make more than ``[llm].max_paid_calls`` calls.

    Raises
    ------
    NotFoundError
        No segment, cluster or item has that code or id.
    NotBuiltError
        An audience was given and ``portrait build`` has not made the segments yet.
    DataError
        The item is not merchandise (postage, a fee) or is out of stock.
    ConfigError
        Both a segment and a cluster, an unknown channel, or ``variants`` out of range.
    ConfirmationNeeded
        Too many paid calls and ``yes`` is false.
    """
    settings = ws.config.llm
    language = language or settings.language
    limits = channel_limits(channel, language)
    if not 1 <= variants <= len(ANGLES):
        raise ConfigError(
            f"variants must be 1 to {len(ANGLES)}, one per angle ({', '.join(ANGLES)}); "
            f"got {variants}."
        )
    shop, currency = ws.config.shop.name, ws.config.shop.currency
    audience = _audience(ws, segment, cluster)
    play = None if audience is None else cast(Play, play_of(*audience))
    item = None if item_id is None else _item(ws, item_id, currency)
    quotable = quotable_facts(shop, item)
    schema = _SCHEMAS[channel]

    def check(answer: CopyText) -> list[Problem]:
        return limits.problems(answer.model_dump())

    angles = ANGLES[:variants]
    jobs: list[Job[CopyText]] = []
    for angle in angles:
        facts = copy_facts(limits, angle, shop=shop, item=item, audience=audience, play=play)
        offline = schema(**offline_copy(limits, angle, shop=shop, item=item, play=play))
        prompt = render_prompt("marketing_copy", language, facts)
        jobs.append(Job(prompt, schema, facts, offline, check=check, quotable=quotable))
    own = client is None
    used = client or make_client(settings)
    try:
        done = generate_all(used, jobs, cache=ResponseCache(ws.artifacts / "llm"), yes=yes,
                            max_paid_calls=settings.max_paid_calls)  # fmt: skip
    finally:
        if own:
            used.close()
    texts: list[dict[str, str]] = [g.value.model_dump() for g in done]
    out = [
        CopyVariant(
            id=chr(ord("A") + i), angle=angle, text=text,
            lengths={k: len(v) for k, v in text.items()}, fits=not limits.problems(text),
            source=g.source, rejected=list(g.rejected),
        )
        for i, (angle, text, g) in enumerate(zip(angles, texts, done, strict=True))
    ]  # fmt: skip
    return MarketingCopy(
        channel=channel, language=language, limits=limits, shop=shop,
        grouping=None if audience is None else audience[0],
        audience=None if audience is None else audience[1], play=play, item=item,
        variants=out, prompt_version=jobs[0].prompt.version, **usage_summary(used),
    )  # fmt: skip
