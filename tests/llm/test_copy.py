"""Marketing copy on the demo shop: offline templates, a model over HTTP held to the
channel's limits and the facts, and the errors of unknown audiences and items."""

from __future__ import annotations

import json

import pytest

from portrait import open_workspace
from portrait.errors import ConfigError, DataError, NotFoundError
from portrait.llm import Grounds, channel_limits, marketing_copy
from portrait.llm.copy import ANGLES, CopyItem, offline_copy, quotable_facts

from .conftest import Reply

OPT_OUT = {"zh": "回T退订", "en": "Reply STOP to opt out"}
CHANNELS = ("sms", "push", "email")
LANGUAGES = ("zh", "en")


def _items(ws) -> dict[str, str]:
    """Demo items that are hard to fit: the longest title, one with a number in it."""
    t = ws.table("items")
    goods = t.filter(t.is_merchandise & t.title.notnull() & t.price.notnull())
    longest = goods.order_by([t.title.length().desc(), t.item_id]).limit(1).to_pyarrow()
    numbered = goods.filter(goods.title.re_search(r"^\d+ ")).order_by("item_id").limit(1)
    return {
        "longest": longest.column("item_id")[0].as_py(),
        "numbered": numbered.to_pyarrow().column("item_id")[0].as_py(),
    }


def _assert_fits_and_is_grounded(copy, language: str) -> None:
    limits = channel_limits(copy.channel, language)
    grounds = Grounds.of(quotable_facts(copy.shop, copy.item))
    for v in copy.variants:
        assert v.fits and v.source == "offline", v
        assert list(v.text) == list(limits.max_chars)
        for field, text in v.text.items():
            assert len(text) == v.lengths[field] <= limits.max_chars[field], (field, text)
            assert grounds.check(text) == [], (field, text)
        if copy.channel == "sms":
            assert v.text["text"].endswith(OPT_OUT[language])
    for field in limits.max_chars:  # an A/B test needs variants that differ in every field
        assert len({v.text[field] for v in copy.variants}) == len(copy.variants), field


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_offline_variant_fits_its_channel_and_quotes_only_the_shop_and_item(
    demo_shop, channel, language
):
    with open_workspace(demo_shop.path) as ws:
        items = _items(ws)
        briefs = [
            {"segment": "Champions", "item_id": items["longest"]},
            {"segment": "Hibernating", "item_id": items["numbered"]},
            {"segment": "new"},
            {"cluster": 0, "item_id": items["longest"]},
            {},
        ]
        copies = [marketing_copy(ws, channel=channel, language=language, **b) for b in briefs]
    for brief, copy in zip(briefs, copies, strict=True):
        assert [v.id for v in copy.variants] == ["A", "B", "C"]
        assert [v.angle for v in copy.variants] == ["benefit", "urgency", "loyalty"]
        assert copy.requests == 0 and copy.model == "offline"
        _assert_fits_and_is_grounded(copy, language)
        if "item_id" in brief:  # the benefit variant names the price the item table holds
            assert copy.item is not None and copy.item.item_id == brief["item_id"]
            benefit = " ".join(copy.variants[0].text.values())
            assert f"{copy.item.price:,.2f}" in benefit, benefit
    champions, hibernating, new, cluster, everyone = copies
    assert champions.grouping == "rfm_segment" and champions.audience.label.zh == "重要价值客户"
    assert (champions.play, hibernating.play, new.play) == ("reward", "low_cost", "welcome")
    assert new.grouping == "lifecycle_stage" and cluster.grouping == "cluster"
    assert everyone.audience is None and everyone.item is None
    # the tone follows the audience: thanks for champions, a welcome for new customers
    loyalty = {c.play: " ".join(c.variants[2].text.values()) for c in (champions, new)}
    assert loyalty["reward"] != loyalty["welcome"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sms_templates_fit_every_item_of_the_shop(demo_shop, language):
    """70 characters with the opt-out is tight: every product, every angle, still fits."""
    limits = channel_limits("sms", language)
    with open_workspace(demo_shop.path) as ws:
        t = ws.table("items")
        rows = t.filter(t.is_merchandise).to_pyarrow().to_pylist()
    assert len(rows) > 1000
    with_item = 0
    for row in rows:
        price = None if row["price"] is None else float(row["price"])
        item = CopyItem(item_id=row["item_id"], title=row["title"], category=row["category"],
                        price=price, currency="GBP")  # fmt: skip
        grounds = Grounds.of(quotable_facts("UK gift shop (demo)", item))
        texts = {
            angle: offline_copy(limits, angle, shop="UK gift shop (demo)", item=item,
                                play="win_back")["text"]
            for angle in ANGLES
        }  # fmt: skip
        for angle, text in texts.items():
            assert limits.problems({"text": text}) == [], (row["item_id"], angle, text)
            assert grounds.check(text) == [], (row["item_id"], angle, text)
        with_item += price is not None and f"{price:,.2f}" in texts["benefit"]
    assert with_item > len(rows) / 2  # most messages still name the item's price


def test_variants_letters_and_angles(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        four = marketing_copy(ws, segment="Loyal", channel="push", variants=4, language="en")
        one = marketing_copy(ws, segment="Loyal", channel="push", variants=1, language="en")
        with pytest.raises(ConfigError, match="variants must be 1 to 4"):
            marketing_copy(ws, variants=5)
    assert [(v.id, v.angle) for v in four.variants] == list(zip("ABCD", ANGLES, strict=True))
    assert one.variants == four.variants[:1]


def test_unknown_items_audiences_and_unsellable_items_say_what_to_do(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        with pytest.raises(NotFoundError, match="no item 'NO-SUCH-SKU'; use an item_id"):
            marketing_copy(ws, item_id="NO-SUCH-SKU")
        with pytest.raises(NotFoundError, match="no segment 'Nobody'.*portrait segments"):
            marketing_copy(ws, segment="Nobody")
        with pytest.raises(NotFoundError, match="no cluster 99"):
            marketing_copy(ws, cluster=99)
        with pytest.raises(ConfigError, match="a segment or a cluster, not both"):
            marketing_copy(ws, segment="Champions", cluster=0)
        with pytest.raises(DataError, match="'POST' is not merchandise"):
            marketing_copy(ws, item_id="POST")


# -- a model, over HTTP -------------------------------------------------------------------------
def _item_id(ws) -> str:
    return _items(ws)["numbered"]


def _offline(ws, item_id: str, language: str = "zh", channel: str = "sms"):
    return marketing_copy(ws, segment="Champions", item_id=item_id, channel=channel,
                          language=language, variants=1)  # fmt: skip


def _sms(text: str) -> str:
    return json.dumps({"text": text}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("【UK gift shop (demo)】" + "精选好物" * 12 + "回T退订",
         "text has 73 characters, at most 70"),
        ("精选好物，进店看看吧。", "lacks the opt-out '回T退订'"),
        ("好物只要 £{price}，进店看看吧。回T退订", "number '{price}'"),
        # the audience's size is a fact about the group, not about the reader
        ("{customers} 位老顾客都在看的好物，进店看看吧。回T退订", "number '{customers}'"),
    ],
    ids=["too long", "no opt-out", "invented price", "group figure"],
)  # fmt: skip
def test_a_rejected_answer_is_regenerated_then_replaced_by_the_offline_text(
    demo_ws, server, backend, answer, why
):
    item_id = _item_id(demo_ws)
    copy = _offline(demo_ws, item_id)
    values = {"price": f"{copy.item.price + 1:.2f}", "customers": copy.audience.customers}
    answer, why = answer.format(**values), why.format(**values)
    server.default = lambda request: _sms(answer)
    over_http = marketing_copy(demo_ws, segment="Champions", item_id=item_id, client=backend,
                               language="zh", variants=1)  # fmt: skip
    [v] = over_http.variants
    assert v.source == "offline_fallback" and v.text == copy.variants[0].text and v.fits
    assert len(server.requests) == 2 and all(why in r for r in v.rejected), v.rejected
    assert why in server.requests[1]["messages"][-1]["content"]  # the model is told what


def test_an_over_long_answer_is_regenerated_and_the_second_one_kept(demo_ws, server, backend):
    item_id = _item_id(demo_ws)
    good = {"title": "Something new for you", "body": "Take a look in our shop today."}
    server.script = [
        Reply(json.dumps({"title": "A title far too long for any lock screen to show", **{
            "body": good["body"]}})),
        Reply(json.dumps(good)),
    ]  # fmt: skip
    copy = marketing_copy(demo_ws, segment="Champions", item_id=item_id, channel="push",
                          client=backend, language="en", variants=1)  # fmt: skip
    [v] = copy.variants
    assert v.source == "model" and v.text == good and v.fits
    assert v.rejected == ["limit: title has 48 characters, at most 40"]
    assert "title has 48 characters, at most 40" in server.requests[1]["messages"][-1]["content"]


def test_model_copy_is_asked_with_its_facts_and_schema_then_cached(demo_ws, server, backend):
    item_id = _item_id(demo_ws)
    facts_sent: list[dict] = []

    def answer(request):
        facts = json.loads(request["messages"][1]["content"].split("FACTS:", 1)[1])
        facts_sent.append(facts)
        item = facts["item"]
        return json.dumps({
            "subject": f"{item['title']} for £{item['price']:.2f}",
            "preheader": f"A note from {facts['shop']}.",
            "body": f"Hello! {item['title']} is £{item['price']:.2f} ({facts['angle']}).",
        })  # fmt: skip

    server.default = answer
    first = marketing_copy(demo_ws, cluster=1, item_id=item_id, channel="email", client=backend,
                           language="en")  # fmt: skip
    assert [v.source for v in first.variants] == ["model"] * 3
    assert first.requests == 3 and first.cost is not None
    assert sorted(f["angle"] for f in facts_sent) == ["benefit", "loyalty", "urgency"]
    assert facts_sent[0]["limits"] == {"subject": 60, "preheader": 100, "body": 400}
    assert facts_sent[0]["audience"]["play"] == first.play
    schema = server.requests[0]["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"subject", "preheader", "body"}
    again = marketing_copy(demo_ws, cluster=1, item_id=item_id, channel="email", client=backend,
                           language="en")  # fmt: skip
    assert len(server.requests) == 3 and [v.source for v in again.variants] == ["cache"] * 3
    assert [v.text for v in again.variants] == [v.text for v in first.variants]
    sent = b"".join(server.raw).decode()
    users = demo_ws.table("users").select("user_id").limit(50).to_pyarrow().column(0).to_pylist()
    assert not any(f'"{u}"' in sent for u in users)  # no customer id leaves the machine


def test_the_channel_limits_are_the_documented_ones():
    sms = channel_limits("sms", "zh")
    assert (sms.max_chars, sms.opt_out) == ({"text": 70}, "回T退订")
    assert channel_limits("sms", "en").max_chars == {"text": 70}  # one segment in any encoding
    assert channel_limits("push", "zh").max_chars == {"title": 20, "body": 60}
    assert channel_limits("push", "en").max_chars == {"title": 40, "body": 120}
    email = channel_limits("email", "zh")
    assert email.max_chars == {"subject": 30, "preheader": 50, "body": 200}
    assert email.opt_out is None and channel_limits("push", "en").opt_out is None
    with pytest.raises(ConfigError, match="use sms, push or email"):
        channel_limits("wechat", "zh")  # type: ignore[arg-type]


def test_the_copy_command_shows_the_variants_and_their_lengths(demo_shop):
    from portrait.llm import MarketingCopy

    from support import run_cli

    path = str(demo_shop.path)
    shown = run_cli("copy", "--segment", "Champions", "--channel", "sms", "--format", "json",
                    "-w", path)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    made = MarketingCopy.model_validate_json(shown.stdout)
    assert len(made.variants) == 3 and all(v.fits for v in made.variants)
    table = run_cli("copy", "--segment", "Champions", "-w", path)
    for v in made.variants:
        assert f"text ({v.lengths['text']}): {v.text['text']}" in table.stdout
    wrong = run_cli("copy", "--channel", "fax", "-w", path)
    assert wrong.returncode == 2 and "not sms, push or email" in wrong.stderr
