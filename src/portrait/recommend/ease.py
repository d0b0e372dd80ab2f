"""EASE: a closed-form linear item-item model.

Steck, H. (2019), "Embarrassingly Shallow Autoencoders for Sparse Data", *WWW '19*,
3251-3257: B = I - P diag(1 / diag(P)) with P = (X'X + lambda I)^-1, the diagonal held at
zero. One matrix inverse of items x items (cubic in their number), so it learns only from
items at least ``min_support`` customers share, at most the ``max_items`` most popular: an
item only one customer has co-occurs with nothing and cannot be recommended by it anyway.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from portrait.recommend._base import Recommender, as_csr


class EASE(Recommender):
    """EASE (Steck 2019). ``l2`` is the regularisation lambda."""

    name = "ease"

    def __init__(
        self, *, l2: float = 300.0, min_support: int = 2, max_items: int = 10_000,
        popularity_weight: float = 0.0,
    ) -> None:  # fmt: skip
        self.l2 = l2
        self.popularity_weight = popularity_weight
        self.min_support = min_support
        self.max_items = max_items

    def fit(self, user_items: sp.csr_matrix) -> EASE:
        x = as_csr(user_items)
        self._fitted(x)
        counts = np.asarray((x > 0).sum(axis=0)).ravel()
        ranked = np.argsort(-counts, kind="stable")[: self.max_items]
        keep = np.sort(ranked[counts[ranked] >= self.min_support])
        if len(keep) == 0:
            keep = np.sort(ranked)
        xk = x[:, keep]
        gram = (xk.T @ xk).toarray().astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.items_ = keep
        self.weights_ = b.astype(np.float32)
        return self

    def _scores(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        out = np.full((user_items.shape[0], self.n_items_), -np.inf, dtype=np.float32)
        out[:, self.items_] = user_items[:, self.items_] @ self.weights_
        return out

    def item_affinity(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """The weight with which ``sources`` adds to ``targets``' scores (0 off the kept items)."""
        self._check()
        position = np.full(self.n_items_, -1)
        position[self.items_] = np.arange(len(self.items_))
        t, s = position[targets], position[sources]
        ok = (t >= 0) & (s >= 0)
        out = np.zeros(len(targets), dtype=np.float32)
        out[ok] = self.weights_[s[ok], t[ok]]
        return out

    def _item_vectors(self) -> np.ndarray:
        full = np.zeros((self.n_items_, len(self.items_)), dtype=np.float32)
        full[self.items_] = self.weights_
        return full
