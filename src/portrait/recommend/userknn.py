"""User-kNN: what the most similar customers have, weighted by how similar they are.

Resnick et al. (1994), "GroupLens", and Herlocker, Konstan, Borchers and Riedl (1999), "An
algorithmic framework for performing collaborative filtering", *SIGIR '99*: similarity is
the cosine of the users' mean-centred ratings (for explicit ratings; raw weights for
implicit feedback), shrunk when they share few items. A rating is predicted as the user's
mean plus the similarity-weighted deviations of the ``k`` most similar users who rated the
item; a ranking sums the ``k`` nearest neighbours' weights.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from portrait.recommend._base import Recommender, as_csr

_BATCH = 1_000


class UserKNN(Recommender):
    """User-based collaborative filtering.

    Parameters
    ----------
    k
        Neighbours per prediction.
    shrink
        Similarity x common / (common + shrink), common = items both users have.
    centre
        Subtract each user's mean rating first (explicit ratings); off for implicit weights.
    """

    name = "userknn"

    def __init__(
        self, *, k: int = 50, shrink: float = 10.0, centre: bool = False,
        popularity_weight: float = 0.0,
    ) -> None:  # fmt: skip
        self.popularity_weight = popularity_weight
        self.k = k
        self.shrink = shrink
        self.centre = centre

    def fit(self, user_items: sp.csr_matrix) -> UserKNN:
        x = as_csr(user_items)
        counts = np.diff(x.indptr)
        sums = np.asarray(x.sum(axis=1)).ravel()
        self.means_ = np.divide(sums, counts, out=np.zeros(len(sums)), where=counts > 0)
        c = x.copy()
        if self.centre:
            c.data = c.data - np.repeat(self.means_, counts).astype(np.float32)
        self.centred_ = c
        self.binary_ = (x != 0).astype(np.float32).tocsr()
        self.norms_ = np.sqrt(np.asarray(c.multiply(c).sum(axis=1))).ravel()
        self.ratings_ = x
        self._fitted(x)
        return self

    def _similarity(self, userids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """Similarity of each given user to every training user (itself at 0)."""
        rows = as_csr(rows)
        c = rows.copy()
        if self.centre:
            counts = np.diff(rows.indptr)
            sums = np.asarray(rows.sum(axis=1)).ravel()
            means = np.divide(sums, counts, out=np.zeros(len(sums)), where=counts > 0)
            c.data = c.data - np.repeat(means, counts).astype(np.float32)
        norms = np.sqrt(np.asarray(c.multiply(c).sum(axis=1))).ravel()
        sim = (c @ self.centred_.T).toarray()
        sim /= np.maximum(norms[:, None] * self.norms_[None, :], 1e-12)
        if self.shrink:
            common = ((rows != 0).astype(np.float32) @ self.binary_.T).toarray()
            sim *= common / (common + self.shrink)
        known = userids >= 0
        sim[np.flatnonzero(known), userids[known]] = 0.0
        return cast(np.ndarray, sim)

    def _scores(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        sim = self._similarity(userids, user_items)
        k = min(self.k, sim.shape[1])
        if k < sim.shape[1]:
            cut = -np.partition(-sim, k - 1, axis=1)[:, k - 1]
            sim = np.where(sim >= cut[:, None], sim, 0.0)
        sim = np.maximum(sim, 0.0)
        target = self.centred_ if self.centre else self.ratings_
        return cast(np.ndarray, (sp.csr_matrix(sim) @ target).toarray().astype(np.float64))

    def predict(self, userids: Any, itemids: Any) -> np.ndarray:
        """Predicted rating of each (user, item) pair (training users); the user's mean
        where no similar user rated the item."""
        self._check()
        u = np.asarray(userids, dtype=np.int64)
        i = np.asarray(itemids, dtype=np.int64)
        out = np.empty(len(u))
        ratings_by_item = self.centred_.tocsc()
        rated_by_item = self.binary_.tocsc()
        order = np.argsort(u, kind="stable")
        starts = np.flatnonzero(np.r_[True, u[order][1:] != u[order][:-1]])
        users = u[order][starts]
        bounds = np.r_[starts, len(u)]
        for lo in range(0, len(users), _BATCH):
            batch = users[lo : lo + _BATCH]
            sims = self._similarity(batch, self.ratings_[batch])
            for j, user in enumerate(batch):
                pos = order[bounds[lo + j] : bounds[lo + j + 1]]
                out[pos] = self._predict_one(user, i[pos], sims[j], ratings_by_item, rated_by_item)
        return out

    def _predict_one(
        self, user: int, items: np.ndarray, sim: np.ndarray, by_item: sp.csc_matrix,
        rated_by_item: sp.csc_matrix,
    ) -> np.ndarray:  # fmt: skip
        neighbours = np.argsort(-sim, kind="stable")
        sub = by_item[:, items].toarray()[neighbours]  # neighbours x items, centred ratings
        rated = (rated_by_item[:, items].toarray()[neighbours] > 0) & (sim[neighbours, None] > 0)
        within = np.cumsum(rated, axis=0) <= self.k
        use = rated & within
        w = sim[neighbours, None] * use
        num = (w * sub).sum(axis=0)
        den = np.abs(w).sum(axis=0)
        base = self.means_[user]
        dev = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        if not self.centre:
            return cast(np.ndarray, np.where(den > 0, num / np.maximum(den, 1e-12), base))
        return cast(np.ndarray, base + dev)

    def _item_vectors(self) -> sp.csr_matrix:
        return self.centred_.T.tocsr()
