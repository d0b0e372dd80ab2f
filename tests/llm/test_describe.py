"""Product descriptions on the demo shop: offline templates that claim only what the reviews
praise, watch-outs from the top complaint, and a model over HTTP held to the same rules."""

from __future__ import annotations

import json
import re

import ibis
import pytest

from portrait import open_workspace
from portrait.errors import DataError, NotFoundError
from portrait.labels import LABELS
from portrait.llm import Grounds, product_description
from portrait.llm.describe import DescribedItem, offline_description
from portrait.text.portraits import item_reviews

from .conftest import Reply

LANGUAGES = ("zh", "en")
HEADLINE_MAX = {"zh": 30, "en": 60}
SHOP = "UK gift shop (demo)"
# words that speak of reviews, in either language
REVIEW_WORDS = re.compile(r"review|rated|rating|好评|差评|评价|口碑|买家", re.I)


def _names(code: str, language: str) -> list[str]:
    """The words an aspect is named by in ``language`` ("size / fit": size, fit)."""
    lab = LABELS["aspect"][code]
    return [lab.zh] if language == "zh" else [w.strip() for w in lab.en.split("/")]


def _named(text: str, language: str) -> set[str]:
    """The aspects whose names ``text`` holds."""
    found = set()
    for code in LABELS["aspect"]:
        for word in _names(code, language):
            if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text, re.I):
                found.add(code)
    return found


def _praised(reviews) -> list[str]:
    """What the reviews praise: aspects more reviews praise than criticise."""
    return [a.aspect for a in reviews.aspects if a.positive_reviews > a.negative_reviews]


def _reviewed_item(ws) -> str:
    """A product whose reviews praise an aspect and whose top complaint is another one, the
    most reviewed first."""
    items, text = ws.table("items"), ws.table("item_text")
    goods = text.join(items.filter(items.is_merchandise & items.price.notnull()), "item_id")
    ids = (
        goods.filter(goods.top_complaint.notnull())
        .order_by([ibis.desc("reviews"), "item_id"])
        .select("item_id")
        .to_pyarrow()
        .column(0)
        .to_pylist()
    )
    for item_id in ids:
        r = item_reviews(ws, item_id)
        if _praised(r) and r.top_complaint not in _praised(r):
            return item_id
    raise AssertionError("the demo has no item with praise and another complaint")


def _unreviewed_item(ws) -> str:
    items, text = ws.table("items"), ws.table("item_text")
    reviewed = text.select("item_id").to_pyarrow().column(0).to_pylist()
    rest = items.filter(
        items.is_merchandise & items.price.notnull() & ~items.item_id.isin(reviewed)
    )
    return rest.order_by("item_id").limit(1).to_pyarrow().column("item_id")[0].as_py()


def _row(ws, item_id: str) -> dict:
    t = ws.table("items")
    return t.filter(t.item_id == item_id).to_pyarrow().to_pylist()[0]


def _customer_text(d) -> list[str]:
    return [d.text.headline, d.text.description, *d.text.selling_points]


# -- offline ------------------------------------------------------------------------------------
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reviewed_item_is_sold_on_its_praise_and_warned_of_its_top_complaint(demo_shop, language):
    with open_workspace(demo_shop.path) as ws:
        item_id = _reviewed_item(ws)
        d = product_description(ws, item_id, language=language)
        reviews, row = item_reviews(ws, item_id), _row(ws, item_id)
    praised, complaint = _praised(reviews), reviews.top_complaint
    assert d.source == "offline" and d.requests == 0 and d.rejected == []
    assert d.praised == sorted(praised, key=lambda a: -next(
        x.positive_reviews for x in reviews.aspects if x.aspect == a))  # fmt: skip
    # customers read only the aspects the reviews praise (the price may be stated as a fact)
    for text in _customer_text(d):
        assert _named(text, language) - {"price"} <= set(praised), text
    assert complaint not in set().union(*(_named(t, language) for t in _customer_text(d)))
    for code in praised[:2]:  # the praise is a selling point, ahead of the rest
        assert any(_named(p, language) == {code} for p in d.text.selling_points[:2]), code
    # the merchant reads the top complaint, with how many of the reviews criticise it
    [watch] = d.text.watch_outs
    assert _named(watch, language) == {complaint}
    n = next(a.negative_reviews for a in reviews.aspects if a.aspect == complaint)
    counts = f"{reviews.reviews} 条评价中有 {n} 条" if language == "zh" else (
        f"{n} of {reviews.reviews} reviews")  # fmt: skip
    assert counts in watch
    # numbers: customers see only the item's (its price, its title's); the merchant also
    # sees review counts
    item_facts = Grounds.of({"title": row["title"], "price": float(row["price"])})
    for text in _customer_text(d):
        assert item_facts.check(text) == [], text
    assert f"{float(row['price']):,.2f}" in d.text.description
    review_facts = Grounds.of([reviews.reviews, *[a.negative_reviews for a in reviews.aspects]])
    assert review_facts.check(watch) == []
    assert 2 <= len(d.text.selling_points) <= 4
    assert len(d.text.headline) <= HEADLINE_MAX[language]


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_item_without_reviews_makes_no_review_claims(demo_shop, language):
    with open_workspace(demo_shop.path) as ws:
        item_id = _unreviewed_item(ws)
        d = product_description(ws, item_id, language=language)
        row = _row(ws, item_id)
    assert d.reviews is None and d.praised == [] and d.top_complaint is None
    assert d.text.watch_outs == []
    item_facts = Grounds.of({"title": row["title"], "price": float(row["price"]), "shop": SHOP})
    for text in _customer_text(d):
        assert not REVIEW_WORDS.search(text), text
        assert _named(text, language) <= {"price"}, text  # stating the price claims nothing
        assert item_facts.check(text) == [], text
    assert 2 <= len(d.text.selling_points) <= 4


@pytest.mark.parametrize("language", LANGUAGES)
def test_headlines_fit_their_limit_even_for_the_longest_titles(demo_shop, language):
    with open_workspace(demo_shop.path) as ws:
        t = ws.table("items")
        longest = (
            t.filter(t.is_merchandise & t.title.notnull())
            .order_by([t.title.length().desc(), t.item_id])
            .limit(5)
            .to_pyarrow()
            .to_pylist()
        )
        done = [(r, product_description(ws, r["item_id"], language=language)) for r in longest]
    assert len(longest[0]["title"]) > HEADLINE_MAX["zh"]  # the limit is really tested
    for row, d in done:
        headline = d.text.headline
        assert len(headline) <= HEADLINE_MAX[language], headline
        # it starts with the title's own words (capitalised), never a cut inside a word
        first = row["title"].split()[0]
        assert headline.lower().startswith(first.lower()), headline
        assert (
            Grounds.of({"title": row["title"], "price": float(row["price"])}).check(headline) == []
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_brand_category_and_attributes_are_described_in_two_to_four_sentences(language):
    item = DescribedItem(
        item_id="I1", title="Acme Kettle No.512", category="Home/Kitchen/Kettles", brand="Acme",
        price=39.0, currency="CNY", attributes={"color": "red", "litres": 1.7, "gift": True},
    )  # fmt: skip
    text = offline_description(item, None, shop="Acme shop", language=language)
    sentences = re.findall(r"[.!?](?=\s|$)|[。！？]", text.description)
    assert 2 <= len(sentences) <= 4, text.description
    body = " ".join([text.description, *text.selling_points])
    for fact in ("Acme", "Kettles", "red", "1.7", "39.00"):
        assert fact in body, fact
    assert Grounds.of(item.model_dump(exclude={"item_id"})).check(body) == []
    assert text.watch_outs == [] and not REVIEW_WORDS.search(body)


def test_unknown_and_unsellable_items_say_what_to_do(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        with pytest.raises(NotFoundError, match="no item 'NO-SUCH-SKU'; use an item_id"):
            product_description(ws, "NO-SUCH-SKU")
        with pytest.raises(DataError, match="'POST' is not merchandise"):
            product_description(ws, "POST")


# -- a model, over HTTP -------------------------------------------------------------------------
def _answer(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False)


def _good(d) -> dict:
    return d.text.model_dump()


def _unpraised(d) -> str:
    """An aspect the item's reviews do not praise, and a selling point claiming it."""
    claims = {"quality": "Top quality, built to last", "logistics": "Fast delivery",
              "appearance": "A beautiful look"}  # fmt: skip
    return next(claims[a] for a in claims if a not in d.praised)


@pytest.mark.parametrize(
    "case",
    ["invented price", "unpraised claim", "review figure", "over-long headline",
     "invented complaint"],
)  # fmt: skip
def test_a_rejected_answer_is_regenerated_then_replaced_by_the_offline_text(
    demo_ws, server, backend, case
):
    item_id = _reviewed_item(demo_ws)
    offline = product_description(demo_ws, item_id, language="en")
    reviews = offline.reviews
    bad = _good(offline)
    if case == "invented price":
        bad["description"] = f"Meet it. Yours for £{offline.item.price + 1:.2f} today."
        why = f"number '{offline.item.price + 1:.2f}'"
    elif case == "unpraised claim":
        claim = _unpraised(offline)
        bad["selling_points"] = [claim, *bad["selling_points"][1:]]
        why = "selling point claims"
    elif case == "review figure":  # true, but a review count is not for customers
        bad["description"] = f"{reviews.reviews} reviews so far. Yours today."
        why = f"description quotes '{reviews.reviews}', a review figure"
    elif case == "over-long headline":
        bad["headline"] = "A " * 40
        why = "headline has 80 characters, at most 60"
    else:  # a complaint no review makes
        unnamed = next(c for c in ("battery", "freshness", "taste")
                       if c not in {a.aspect for a in reviews.aspects})  # fmt: skip
        bad["watch_outs"] = [f"Customers complain about the {LABELS['aspect'][unnamed].en}."]
        why = "a watch-out names"
    server.default = lambda request: _answer(**bad)
    d = product_description(demo_ws, item_id, client=backend, language="en")
    assert d.source == "offline_fallback" and d.text == offline.text
    assert len(server.requests) == 2
    assert d.rejected and all(why in r for r in d.rejected), d.rejected
    assert why in server.requests[1]["messages"][-1]["content"]  # the model is told what


def test_a_claim_of_praise_the_reviews_lack_is_corrected_and_the_second_answer_kept(
    demo_ws, server, backend
):
    item_id = _reviewed_item(demo_ws)
    offline = product_description(demo_ws, item_id, language="en")
    claim = _unpraised(offline)
    good = {
        "headline": offline.text.headline,
        "description": f"A cheerful piece for your home. Yours for £{offline.item.price:,.2f}.",
        "selling_points": offline.text.selling_points[:2],
        "watch_outs": offline.text.watch_outs,
    }
    server.script = [
        Reply(_answer(**{**good, "selling_points": [claim, *good["selling_points"]]})),
        Reply(_answer(**good)),
    ]
    d = product_description(demo_ws, item_id, client=backend, language="en")
    assert d.source == "model" and d.text.model_dump() == good
    assert len(d.rejected) == 1 and "which the reviews do not praise" in d.rejected[0]
    # what went out: the item and what its reviews praise and criticise, no review texts
    facts = json.loads(server.requests[0]["messages"][1]["content"].split("FACTS:", 1)[1])
    assert facts["item"]["price"] == offline.item.price
    assert [a["aspect"] for a in facts["reviews"]["praised"]] == offline.praised
    assert facts["reviews"]["top_complaint"] == offline.top_complaint
    sent = b"".join(server.raw).decode()
    assert not any(json.dumps(t)[1:-1] in sent for t in offline.reviews.praise_examples)
    # a second run reads the cache
    again = product_description(demo_ws, item_id, client=backend, language="en")
    assert again.source == "cache" and again.text == d.text and len(server.requests) == 2


def test_a_model_may_not_speak_of_reviews_for_an_item_without_any(demo_ws, server, backend):
    item_id = _unreviewed_item(demo_ws)
    offline = product_description(demo_ws, item_id, language="zh")
    bad = {
        **_good(offline),
        "selling_points": ["口碑很好，买家都说值", *offline.text.selling_points],
    }
    bad["selling_points"] = bad["selling_points"][:4]
    server.default = lambda request: _answer(**bad)
    d = product_description(demo_ws, item_id, client=backend, language="zh")
    assert d.source == "offline_fallback" and d.text == offline.text
    assert any("speaks of reviews" in r for r in d.rejected), d.rejected


def test_the_describe_command(demo_shop):
    from portrait.llm import ProductDescription

    from support import run_cli

    path = str(demo_shop.path)
    shown = run_cli("describe", "85099B", "--language", "en", "--format", "json", "-w", path)
    assert shown.returncode == 0, shown.stderr
    made = ProductDescription.model_validate_json(shown.stdout)
    table = run_cli("describe", "85099B", "--language", "en", "-w", path)
    assert made.text.headline in table.stdout and made.text.description in table.stdout
    unknown = run_cli("describe", "no-such-item", "-w", path)
    assert unknown.returncode == 6 and "no-such-item" in unknown.stderr
