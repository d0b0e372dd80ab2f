"""The top-N selection of wide catalogues gives the exact path's lists."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from portrait.recommend import _base
from portrait.recommend._base import WIDE, _top_n_exact, top_n
from portrait.recommend.als import ALS
from portrait.recommend.itemknn import ItemKNN


@pytest.mark.parametrize("width", [WIDE, 20_000, 20_001])
def test_wide_rows_give_the_exact_top_n(width: int) -> None:
    rng = np.random.default_rng(width)
    scores = rng.standard_normal((300, width))
    scores[:, rng.integers(0, width, 200)] = -np.inf  # filtered items
    scores[:5] = np.round(scores[:5])  # many ties
    scores[5, :] = -np.inf  # everything filtered
    scores[6, :] = -np.inf
    scores[6, [3, width - 1]] = 1.0  # fewer items than asked for
    ids, vals = top_n(scores, 20)
    ref_ids, ref_vals = _top_n_exact(scores, 20)
    np.testing.assert_array_equal(vals, ref_vals)
    distinct = slice(7, None)  # ties may come in another order; distinct scores may not
    np.testing.assert_array_equal(ids[distinct], ref_ids[distinct])
    np.testing.assert_array_equal(np.take_along_axis(scores, ids, axis=1), vals)
    assert all(len(set(row)) == 20 for row in ids)
    assert set(ids[6, :2]) == {3, width - 1}


def _shop(users: int, items: int, seed: int = 0) -> sp.csr_matrix:
    """A users x items matrix with a long-tailed item popularity, like a shop's."""
    rng = np.random.default_rng(seed)
    per_user = rng.integers(1, 15, users)
    rows = np.repeat(np.arange(users), per_user)
    cols = np.minimum(rng.zipf(1.3, len(rows)) - 1, items - 1)
    cols = (cols * 7919 + rows % 3) % items
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(users, items))
    x.sum_duplicates()
    return x


def _ndcg(got: np.ndarray, ideal: np.ndarray) -> float:
    """Mean NDCG of ``got`` against ``ideal`` taken as the relevant items, rank-discounted."""
    discount = 1 / np.log2(np.arange(2, got.shape[1] + 2))
    gains = [np.isin(g, i).astype(float) @ discount for g, i in zip(got, ideal, strict=True)]
    return float(np.mean(gains) / discount.sum())


@pytest.mark.parametrize("model", [ALS(factors=16, iterations=3), ItemKNN(k=50)])
def test_the_wide_path_of_a_mid_size_shop_matches_the_exact_one(model, monkeypatch) -> None:
    x = _shop(3_000, 6_000)
    model.fit(x)
    users = np.arange(x.shape[0])
    blocked = np.arange(0, 6_000, 97)
    ids, scores = model.recommend(users, x, N=20, filter_items=blocked, batch_size=500)
    monkeypatch.setattr(_base, "WIDE", 10**9)  # every catalogue takes the exact path
    ref_ids, ref_scores = model.recommend(users, x, N=20, filter_items=blocked, batch_size=500)
    np.testing.assert_array_equal(scores, ref_scores)
    assert _ndcg(ids, ref_ids) >= 0.98 * _ndcg(ref_ids, ref_ids)
    assert not np.isin(ids[np.isfinite(scores)], blocked).any()
