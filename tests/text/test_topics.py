"""Topics per category: distinctive terms, sizes, examples; a known complaint is found."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from portrait.errors import DataError
from portrait.text.topics import Topic, topics_of

from support import data_file


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    frame = pd.read_csv(data_file("online_shopping_10_cats/train.csv.gz")).dropna()
    return frame


@pytest.mark.slow
def test_fruit_complaints_name_freshness_and_delivery(reviews: pd.DataFrame) -> None:
    fruit = reviews[(reviews.cat == "水果") & (reviews.label == 0)].head(1500)
    topics = topics_of(fruit.review.tolist(), n_topics=6)
    assert all(isinstance(t, Topic) for t in topics)
    # reviews with no word left after stop words ("差差差") join no topic
    assert 0.99 * len(fruit) <= sum(t.size for t in topics) <= len(fruit)
    assert [t.size for t in topics] == sorted((t.size for t in topics), reverse=True)
    terms = {term for t in topics for term in t.terms}
    assert terms & {"新鲜", "发霉", "坏了"}, terms
    assert terms & {"快递", "物流", "收到", "送货"}, terms
    assert all(t.examples and len(t.examples) <= 3 for t in topics)


def test_topics_per_category_english_and_kmeans() -> None:
    texts = ["fast shipping and great price"] * 6 + ["the sound quality is poor"] * 6
    cats = ["a"] * 6 + ["b"] * 6
    topics = topics_of(texts, categories=cats, n_topics=2, method="kmeans")
    assert {t.category for t in topics} == {"a", "b"}
    assert "shipping" in next(t for t in topics if t.category == "a").terms


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(DataError, match="one category per text"):
        topics_of(["a"], categories=["x", "y"])
    assert topics_of([None, ""]) == []


@pytest.mark.slow
def test_ten_thousand_reviews_in_under_thirty_seconds(reviews: pd.DataFrame) -> None:
    sample = reviews.sample(10_000, random_state=0)
    start = time.perf_counter()
    topics = topics_of(sample.review.tolist(), categories=sample.cat.tolist())
    assert time.perf_counter() - start < 30
    assert {t.category for t in topics} == set(sample.cat)
