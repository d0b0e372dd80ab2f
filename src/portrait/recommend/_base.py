"""The contract every recommender keeps, after implicit's ``RecommenderBase``.

``fit(user_items)`` learns from a users x items CSR matrix of interaction weights and returns
the model; ``recommend(userids, user_items, N)`` ranks every item for a batch of users, given
their rows of the matrix, and returns the top ``N`` item indices and scores; ``similar_items``
does the same for items. Subclasses only say how to score: :meth:`Recommender._scores`
returns a dense (users x items) block, and the ranking, the masking of what a user already
has and of excluded items, and the batching are done here once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import scipy.sparse as sp

from portrait.errors import ConfigError, NotFittedError

if TYPE_CHECKING:
    from portrait.recommend.candidates import Index

_BATCH = 2_000


#: catalogues at least this wide take :func:`_top_n_blocked`, exact like the plain partition
#: but several times faster (a 20,000-item catalogue: 0.05 s instead of 0.3 s per 2,000 rows);
#: below it the plain partition is kept, so small shops' lists do not change at all
WIDE = 4_096
#: a factor model ranks only candidates (:mod:`portrait.recommend.candidates`) over this many
#: items or more: scoring every item for every customer of a 1,000,000 x 100,000 shop is 6.4
#: trillion multiply-adds (minutes on a laptop); below it, every list stays exact
CANDIDATE_ITEMS = 32_768
_BLOCK = 64  # items per block of :func:`_top_n_blocked`


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n`` largest scores of each row, best first; -inf last.

    Rows of at least :data:`WIDE` items go through :func:`_top_n_blocked`: the same items
    and scores (only the order among exactly equal scores can differ).
    """
    n = min(n, scores.shape[1])
    if n <= 0:
        empty = np.empty((scores.shape[0], 0))
        return empty.astype(np.int64), empty
    if scores.shape[1] >= WIDE and n * _BLOCK * 4 <= scores.shape[1]:
        return _top_n_blocked(scores, n)
    return _top_n_exact(scores, n)


def _top_n_exact(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _top_n_blocked(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_n` of a wide block, exactly, touching each score once.

    The items are cut into blocks of :data:`_BLOCK`; a row's ``n`` best items all lie in
    its ``n`` blocks with the highest maxima (each of those blocks holds an item at least
    as good as the ``n``-th best block maximum, so an item of any other block is beaten by
    ``n`` items), so only those ``n x _BLOCK`` scores are partitioned.
    """
    rows, width = scores.shape
    starts = np.arange(0, width, _BLOCK)
    best = np.argpartition(-np.maximum.reduceat(scores, starts, axis=1), n - 1, axis=1)[:, :n]
    best.sort(axis=1)  # blocks in item order, so equal scores keep the catalogue's order
    item = (best[:, :, None] * _BLOCK + np.arange(_BLOCK)).reshape(rows, n * _BLOCK)
    inside = item < width  # the last block can be short
    item = np.minimum(item, width - 1)  # its missing places score -inf
    cand = np.where(inside, np.take_along_axis(scores, item, axis=1), -np.inf)
    part, vals = _top_n_exact(cand, n)
    ids = np.take_along_axis(item, part, axis=1)
    short = np.flatnonzero(np.isneginf(vals[:, -1]))  # fewer than n items left: rare
    if len(short):
        ids[short], vals[short] = _top_n_exact(scores[short], n)
    return ids, vals


def as_csr(user_items: Any) -> sp.csr_matrix:
    if not sp.issparse(user_items):
        raise ConfigError("user_items must be a scipy.sparse matrix of users x items.")
    return sp.csr_matrix(user_items, dtype=np.float32)


class Recommender:
    """Base of Portrait's recommenders; scikit-learn style (fitted attributes end in ``_``)."""

    #: a short name for reports
    name = "recommender"
    #: how much item popularity is added to the model's scores (each user's scores scaled to
    #: at most 1, popularity to 0..1): a sparse shop's collaborative signal is weak, and
    #: popularity breaks the ties among the many items it cannot tell apart
    popularity_weight: float = 0.0

    def _fitted(self, user_items: sp.spmatrix) -> None:
        """Record what every model needs after fit: the catalogue size and item popularity."""
        counts = np.asarray((user_items != 0).sum(axis=0)).ravel().astype(np.float64)
        self.n_items_ = user_items.shape[1]
        self.popularity_: np.ndarray = counts / max(counts.max(initial=0.0), 1.0)

    def fit(self, user_items: sp.csr_matrix) -> Recommender:
        raise NotImplementedError

    def _scores(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _item_vectors(self) -> np.ndarray | sp.spmatrix:
        """Item representations whose cosine gives :meth:`similar_items`."""
        raise NotImplementedError

    def _check(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(user_items) first."
            )

    def recommend(
        self,
        userids: Any,
        user_items: sp.csr_matrix,
        N: int = 10,  # noqa: N803 - implicit's name for it
        *,
        filter_already_liked_items: bool = True,
        filter_items: Any = None,
        exclude: sp.csr_matrix | None = None,
        batch_size: int = _BATCH,
        exact: bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The top ``N`` items for each user, best first: (item indices, scores).

        Parameters
        ----------
        userids
            Row indices of the users in the training matrix (-1 for a user it never saw).
        user_items
            The users' rows of interactions, one per ``userids`` entry, same items.
        filter_already_liked_items
            Leave out what each user already has in ``user_items``.
        filter_items
            Item indices never to recommend (not merchandise, out of stock ...).
        exclude
            Rows like ``user_items`` whose stored items are left out instead of those in
            ``user_items`` (a shop excludes what was bought, not what was only viewed).
        exact
            Score every item for every user (True), or only candidates
            (:mod:`portrait.recommend.candidates`; False); by default candidates where
            :meth:`searches_candidates` says so: a factor model over a catalogue of at
            least :data:`CANDIDATE_ITEMS` items.
        """
        self._check()
        userids = np.atleast_1d(np.asarray(userids, dtype=np.int64))
        rows = as_csr(user_items)
        if rows.shape != (len(userids), self.n_items_):
            raise ConfigError(
                f"user_items must have one row per user ({len(userids)}) and "
                f"{self.n_items_} items; it is {rows.shape[0]} x {rows.shape[1]}."
            )
        blocked = None
        if filter_items is not None and len(filter_items):
            blocked = np.asarray(filter_items, dtype=np.int64)
        if exact is None:
            exact = not self.searches_candidates()
        if not exact:
            if not isinstance(self, FactorRecommender):
                raise ConfigError(f"{self.name} scores every item; only factor models such "
                                  "as als can rank candidates (exact=False).")  # fmt: skip
            mask = rows if exclude is None else as_csr(exclude)
            if not filter_already_liked_items:
                mask = sp.csr_matrix(mask.shape, dtype=np.float32)
            return self._search(userids, rows, N, blocked, mask)
        ids, scores = [], []
        for lo in range(0, len(userids), batch_size):
            part = rows[lo : lo + batch_size]
            s = np.asarray(self._scores(userids[lo : lo + batch_size], part), dtype=np.float64)
            if self.popularity_weight:
                s = self._with_popularity(s)
            if filter_already_liked_items:
                mask = part if exclude is None else as_csr(exclude[lo : lo + batch_size])
                r, c = mask.nonzero()
                s[r, c] = -np.inf
            if blocked is not None:
                s[:, blocked] = -np.inf
            i, v = top_n(s, N)
            ids.append(i)
            scores.append(v)
        return np.vstack(ids), np.vstack(scores)

    def searches_candidates(self) -> bool:
        """Whether :meth:`recommend` scores only candidates by default."""
        return False

    def item_affinity(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """How strongly the model ties each item of ``sources`` to the matching item of
        ``targets`` (aligned index arrays): what explains a recommendation ("like X you
        bought"). By default the cosine of the model's item representations; linear models
        override it with the exact weight the source contributes to the target's score.
        """
        v = self._unit_item_vectors()
        if sp.issparse(v):
            return np.asarray(v[targets].multiply(v[sources]).sum(axis=1)).ravel()
        return cast(np.ndarray, np.einsum("ij,ij->i", v[targets], v[sources]))

    def _unit_item_vectors(self) -> np.ndarray | sp.csr_matrix:
        """The item representations scaled to length 1, made once."""
        self._check()
        if not hasattr(self, "_unit_vectors_"):
            v = self._item_vectors()
            if sp.issparse(v):
                assert not isinstance(v, np.ndarray)
                norms = np.sqrt(np.asarray(v.multiply(v).sum(axis=1))).ravel()
                v = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ v
                self._unit_vectors_ = sp.csr_matrix(v)
            else:
                v = np.asarray(v, dtype=np.float32)
                self._unit_vectors_ = v / np.maximum(np.linalg.norm(v, axis=1), 1e-12)[:, None]
        return cast("np.ndarray | sp.csr_matrix", self._unit_vectors_)

    def affinity_grid(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """:meth:`item_affinity` of every target with every source of the same row:
        ``targets`` (rows x n) and ``sources`` (rows x k) item indices, -1 for none; returns
        rows x n x k, -inf where either is none."""
        t = np.repeat(targets[:, :, None], sources.shape[1], axis=2)
        s = np.repeat(sources[:, None, :], targets.shape[1], axis=1)
        valid = (t >= 0) & (s >= 0)
        out = np.full(t.shape, -np.inf)
        if valid.any():
            out[valid] = self.item_affinity(t[valid], s[valid])
        return out

    def _with_popularity(self, s: np.ndarray) -> np.ndarray:
        finite = np.isfinite(s)
        scale = np.max(np.abs(np.where(finite, s, 0.0)), axis=1, keepdims=True)
        s = np.where(finite, s / np.maximum(scale, 1e-12), s)
        return s + self.popularity_weight * self.popularity_

    def similar_items(self, itemids: Any, N: int = 10) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
        """The ``N`` items most like each of ``itemids`` (cosine of the model's item
        representations), the item itself left out."""
        self._check()
        itemids = np.atleast_1d(np.asarray(itemids, dtype=np.int64))
        vectors = self._item_vectors()
        if sp.issparse(vectors):
            assert not isinstance(vectors, np.ndarray)
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).ravel()
            sims = np.asarray((vectors[itemids] @ vectors.T).todense())
        else:
            norms = np.linalg.norm(vectors, axis=1)
            sims = vectors[itemids] @ vectors.T
        sims = sims / np.maximum(norms[itemids, None] * norms[None, :], 1e-12)
        sims[np.arange(len(itemids)), itemids] = -np.inf
        return top_n(sims, N)


class FactorRecommender(Recommender):
    """A model whose scores are inner products of user and item vectors (``item_factors_``).

    Its ranking of a wide catalogue can be searched instead of computed in full
    (:mod:`portrait.recommend.candidates`), and the affinity of two items is the cosine of
    their vectors, computed for a whole grid of pairs at once.
    """

    item_factors_: np.ndarray
    user_factors_: np.ndarray
    index_: Index

    def _user_vectors(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _scores(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return cast(np.ndarray, self._user_vectors(userids, user_items) @ self.item_factors_.T)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def affinity_grid(self, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """The cosines as one batched product: each row's vectors are gathered once (n + k
        per row) instead of once per pair (n x k), which decides the time at a million
        customers."""
        unit = np.asarray(self._unit_item_vectors())
        out = np.matmul(
            unit[np.maximum(targets, 0)], unit[np.maximum(sources, 0)].transpose(0, 2, 1)
        ).astype(np.float64)
        out[(targets[:, :, None] < 0) | (sources[:, None, :] < 0)] = -np.inf
        return cast(np.ndarray, out)

    def searches_candidates(self) -> bool:
        return self.n_items_ >= CANDIDATE_ITEMS and not self.popularity_weight

    def prepare_search(self, user_vectors: np.ndarray | None = None) -> None:
        """Group customers' directions for candidate search, once per fitted model: from
        ``user_vectors`` (a sample, where the model's own are elsewhere: on a cluster), else
        from the customers it was fitted on. The index is part of the model, so every batch
        of customers, on this machine or on executors the model is sent to, searches the same
        groups."""
        from portrait.recommend import candidates

        if not hasattr(self, "index_"):
            vectors = self.user_factors_ if user_vectors is None else user_vectors
            self.index_ = candidates.build_index(vectors, self.item_factors_,
                                                 seed=int(getattr(self, "seed", 0)))  # fmt: skip

    def _search(
        self, userids: np.ndarray, rows: sp.csr_matrix, n: int, blocked: np.ndarray | None,
        exclude: sp.csr_matrix,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Candidates for most customers; the whole catalogue for those who already have so
        many items (a quarter of a group's list) that their own could crowd it out."""
        from portrait.recommend import candidates

        n = min(n, self.n_items_)
        self.prepare_search()
        heavy = np.diff(exclude.indptr) > candidates.PER_GROUP // 4
        ids = np.full((len(userids), n), -1, dtype=np.int64)
        scores = np.full((len(userids), n), -np.inf)
        light = np.flatnonzero(~heavy)
        users = np.vstack([
            self._user_vectors(userids[light[lo : lo + _BATCH * 10]],
                               rows[light[lo : lo + _BATCH * 10]])
            for lo in range(0, len(light), _BATCH * 10)
        ] or [np.empty((0, self.item_factors_.shape[1]), np.float32)])  # fmt: skip
        ids[light], scores[light] = candidates.search(
            self.index_, users, self.item_factors_, exclude[light], n, blocked=blocked
        )
        if heavy.any():
            ids[heavy], scores[heavy] = self.recommend(
                userids[heavy], rows[heavy], n, filter_items=blocked, exclude=exclude[heavy],
                exact=True,
            )  # fmt: skip
        return ids, scores
