"""Searching candidates of a factor model finds the exact lists, and ranks as well, on real data."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import numpy as np
import pytest

from portrait.errors import ConfigError
from portrait.recommend import _base, candidates
from portrait.recommend.als import ALS
from portrait.recommend.evaluate import ranking_metrics, split_time
from portrait.recommend.interactions import interaction_log, interactions
from portrait.recommend.itemknn import ItemKNN

pytestmark = pytest.mark.slow

N = 20
WEIGHTS = {"buy": 4.0, "cart": 3.0, "fav": 2.0, "view": 1.0, "review": 1.0}


@pytest.fixture(scope="module")
def retail(retail_ws):
    """ALS on Online Retail's interactions before 2011-10-01; the purchases after it."""
    log = interaction_log(retail_ws, date(2011, 12, 10), weights=WEIGHTS)
    train_log, test_log = split_time(log, datetime(2011, 10, 1, tzinfo=UTC).replace(tzinfo=None))
    data = interactions(train_log)
    model = ALS(factors=32, iterations=10, seed=0).fit(data.matrix)
    return data, model, data.rows(test_log)


@pytest.fixture()
def narrow(monkeypatch):
    """Candidate lists narrow enough against Online Retail's ~3,500 items (64 groups of 200,
    3 searched: a sixth of the catalogue per customer) that a poor search would show; its
    wholesale customers own a median 30 items each, far more than a large shop's."""
    monkeypatch.setattr(candidates, "GROUPS", 64)
    monkeypatch.setattr(candidates, "PER_GROUP", 200)


def test_candidate_search_finds_the_exact_top_n(retail, narrow) -> None:
    data, model, _ = retail
    users = np.arange(len(data.users))
    blocked = np.arange(0, len(data.items), 50)
    exact, exact_scores = model.recommend(users, data.matrix, N=N, filter_items=blocked,
                                          exact=True)  # fmt: skip
    found, scores = model.recommend(users, data.matrix, N=N, filter_items=blocked, exact=False)
    filled = found >= 0
    assert filled.mean() > 0.99
    overlap = np.mean([len(set(a) & set(b)) / N for a, b in zip(found, exact, strict=True)])
    assert overlap >= 0.95, overlap
    # the scores are the model's exact scores, best first, and nothing owned or blocked
    rows = np.repeat(users[:, None], N, axis=1)[filled]
    full = model.user_factors_[rows] @ model.item_factors_.T
    np.testing.assert_allclose(scores[filled], full[np.arange(len(rows)), found[filled]],
                               rtol=1e-5)  # fmt: skip
    assert (np.diff(np.where(filled, scores, -np.inf), axis=1) <= 0).all()
    assert not np.isin(found, blocked).any()
    assert not np.asarray(data.matrix[rows, found[filled]]).any()
    assert all(len(set(r[r >= 0])) == (r >= 0).sum() for r in found)
    # one index per fitted model: a batch of a few customers, or the model sent elsewhere
    # (pickled, as to Spark executors), gives those customers the same lists
    few = users[::37]
    again = pickle.loads(pickle.dumps(model))
    part, _ = again.recommend(few, data.matrix[few], N=N, filter_items=blocked, exact=False)
    np.testing.assert_array_equal(part, found[few])


def test_candidate_lists_rank_later_purchases_as_well_as_exact_ones(retail, narrow) -> None:
    data, model, truth = retail
    test = np.flatnonzero(np.diff(truth.indptr) > 0)
    assert len(test) > 1_000
    popularity = np.asarray((data.matrix > 0).sum(axis=0)).ravel()
    ndcg = {}
    for exact in (True, False):
        ids, _ = model.recommend(test, data.matrix[test], N=N, exact=exact)
        ids = np.where(ids >= 0, ids, 0)
        ndcg[exact] = ranking_metrics(ids, truth[test], popularity, len(data.users))["ndcg@20"]
    assert ndcg[True] > 0.05
    assert abs(ndcg[False] - ndcg[True]) <= 0.02 * ndcg[True], ndcg


def test_only_wide_catalogues_of_factor_models_search(retail, monkeypatch) -> None:
    data, model, _ = retail
    users = np.arange(len(data.users))
    assert not model.searches_candidates()  # Online Retail's lists stay exact
    monkeypatch.setattr(_base, "CANDIDATE_ITEMS", 1_000)
    assert model.searches_candidates()
    knn = ItemKNN(k=20).fit(data.matrix)
    assert not knn.searches_candidates()
    with pytest.raises(ConfigError, match="only factor models"):
        knn.recommend(users[:5], data.matrix[:5], N=5, exact=False)
