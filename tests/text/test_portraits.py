"""Tags from reviews on the demo shop's real reviews: the marks on customers and the
complaints and praise of items equal an independent pandas computation over the stage's
clause table, and the tags' coverage is the share of customers who wrote a review."""

from __future__ import annotations

import pytest

from portrait import open_workspace
from portrait.tags import tag_report
from portrait.text.portraits import MIN_SHARE, item_reviews

from support import run_cli

CONCERNS = {"logistics_sensitive": "logistics", "price_sensitive": "price",
            "quality_focused": "quality"}  # fmt: skip


@pytest.fixture(scope="module")
def tables(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        names = ("review_sentiment", "review_aspects", "user_text", "item_text", "tags")
        out = {n: ws.table(n).to_pandas() for n in names}
        out["report"] = tag_report(ws)
    return out


def test_customer_marks_follow_the_share_of_their_reviews_naming_the_aspect(tables):
    s, a, got = tables["review_sentiment"], tables["review_aspects"], tables["user_text"]
    mentions = a[["review_id", "aspect"]].drop_duplicates().merge(s[["review_id", "user_id"]])
    reviews = s.groupby("user_id").size()
    assert got.set_index("user_id").reviews.sort_index().equals(reviews.sort_index())
    got = got.set_index("user_id")
    for column, aspect in CONCERNS.items():
        n = mentions[mentions.aspect == aspect].groupby("user_id").size()
        n = n.reindex(reviews.index, fill_value=0)
        want = (n >= 1) & (n >= reviews * MIN_SHARE)
        assert got[column].reindex(want.index).tolist() == want.tolist(), column
        assert want.sum() > 0  # the real reviews do raise each concern


def test_text_tags_cover_the_customers_who_reviewed(tables):
    tags, report = tables["tags"], tables["report"]
    reviewers = set(tables["user_text"].user_id)
    for column in CONCERNS:
        have = tags[tags[column].notna()]
        assert set(have.user_id) == reviewers & set(tags.user_id)
        [summary] = [t for t in report.tags if t.name == column]
        assert summary.coverage == pytest.approx(len(have) / len(tags))
        assert summary.label.zh in ("物流敏感", "价格敏感", "品质关注")


def test_item_complaint_and_praise_are_the_most_named_negative_and_positive_aspects(tables):
    s, a, got = tables["review_sentiment"], tables["review_aspects"], tables["item_text"]
    per = (
        a.groupby(["review_id", "aspect"])
        .polarity.agg(
            negative=lambda p: (p == "negative").any(), positive=lambda p: (p == "positive").any()
        )
        .reset_index()
        .merge(s[["review_id", "item_id"]])
    )
    got = got.set_index("item_id")
    checked = 0
    for kind, col in (("complaint", "negative"), ("praise", "positive")):
        counts = per[per[col]].groupby(["item_id", "aspect"]).size().reset_index(name="n")
        top = counts.sort_values(["item_id", "n", "aspect"], ascending=[True, False, True])
        top = top.drop_duplicates("item_id").set_index("item_id")
        assert set(got[got[f"top_{kind}"].notna()].index) == set(top.index)
        assert (got.loc[top.index, f"top_{kind}"] == top.aspect).all()
        assert (got.loc[top.index, f"top_{kind}_reviews"] == top.n).all()
        checked += len(top)
    assert checked > 50
    scored = s[s.item_id.notna() & s.sentiment.notna()]
    neg = (scored.sentiment == "negative").groupby(scored.item_id).mean()
    assert got.negative_share.reindex(neg.index).round(12).equals(neg.round(12))


def test_one_items_reviews_and_unknown_items(demo_shop, tables):
    it = tables["item_text"]
    row = it[it.top_complaint.notna()].sort_values(["reviews", "item_id"]).iloc[-1]
    with open_workspace(demo_shop.path) as ws:
        one = item_reviews(ws, row.item_id)
    assert one.reviews == row.reviews and one.top_complaint == row.top_complaint
    assert one.complaint_examples and len(one.complaint_examples) <= 3
    top = max(one.aspects, key=lambda x: (x.negative_reviews, -ord(x.aspect[0])))
    assert top.negative_reviews == row.top_complaint_reviews
    wrong = run_cli("reviews", "--item", "no-such-item", "-w", str(demo_shop.path))
    assert wrong.returncode == 6 and "No reviews of item 'no-such-item'" in wrong.stderr
    shown = run_cli("reviews", "--item", str(row.item_id), "-w", str(demo_shop.path))
    assert shown.returncode == 0 and f"{one.reviews} reviews" in shown.stdout
