"""Popularity: the items most people interacted with, for everyone or per segment.

The baseline every recommender must beat, and the cold-start answer for a customer the
models know nothing about (Cremonesi, Koren and Turrin 2010 show how hard it is to beat on
accuracy alone).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from portrait.recommend._base import Recommender, as_csr


class Popularity(Recommender):
    """Items ranked by how many users interacted with them.

    Parameters
    ----------
    groups
        Optional group (segment) of each training user: then each user gets their group's
        ranking, falling back to the global one for an unknown group.
    """

    name = "popularity"

    def __init__(self, *, groups: Any = None) -> None:
        self.groups = groups

    def fit(self, user_items: sp.csr_matrix) -> Popularity:
        x = (as_csr(user_items) != 0).astype(np.float32)  # a copy: the caller's weights stay
        self.counts_ = np.asarray(x.sum(axis=0)).ravel()
        self._fitted(x)
        self.group_counts_: dict[Any, np.ndarray] = {}
        if self.groups is not None:
            groups = np.asarray(self.groups, dtype=object)
            for g in {g for g in groups if g is not None}:
                self.group_counts_[g] = np.asarray(x[groups == g].sum(axis=0)).ravel()
        self.user_groups_ = None if self.groups is None else np.asarray(self.groups, object)
        return self

    def _scores(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        # global counts break ties within a group, so every item has a distinct score
        base = self.counts_ / (self.counts_.max() + 1.0)
        out = np.tile(base, (len(userids), 1))
        if self.user_groups_ is not None:
            for row, u in enumerate(userids):
                g = self.user_groups_[u] if u >= 0 else None
                if g in self.group_counts_:
                    out[row] += self.group_counts_[g]
        return out

    def _item_vectors(self) -> np.ndarray:
        return self.counts_[:, None]

    def item_affinity(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """Popularity ties no item to another."""
        return np.zeros(len(targets))
