"""Text vectors of reviews and items: TF-IDF reduced by truncated SVD (latent semantic
analysis; Deerwester et al. 1990, "Indexing by latent semantic analysis", JASIS 41(6)).

One space holds both: it is fitted on the review texts and the item titles (with their
categories) together, so an item's vector is comparable with any review's. Terms are
character 1-2 grams within words (Chinese has no spaces, and single characters and pairs
carry most of a short review's meaning; they also match English word stems) plus whole
English words, with sublinear term frequency; no word segmenter runs, so a million reviews
are vectorised in seconds. An item's vector is its title's plus the mean of its reviews',
L2-normalised: an item with no reviews still has one, from its title.

Fitting uses at most ``max_fit`` documents (a seeded sample); every document is then
transformed. The vectors feed :func:`similar_items` (content similarity, which works for
items nobody bought yet) and can be read as ``review_vectors`` and ``item_vectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy import sparse

from portrait.errors import NotFoundError
from portrait.facts import Fact

if TYPE_CHECKING:
    from portrait.workspace import Workspace

__all__ = ["SimilarItem", "SimilarItems", "TextSpace", "similar_items", "text_vectors"]

#: dimensions of the vectors (fewer when there are fewer documents or terms)
DIMENSIONS = 64


class TextSpace:
    """A fitted TF-IDF + SVD space: ``transform`` maps texts to unit vectors."""

    def __init__(self, *, dimensions: int = DIMENSIONS, max_fit: int = 200_000, seed: int = 0):
        self.dimensions = dimensions
        self.max_fit = max_fit
        self.seed = seed

    def fit(self, texts: Sequence[str]) -> TextSpace:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = [t for t in texts if t]
        if len(docs) > self.max_fit:
            rng = np.random.default_rng(self.seed)
            docs = [docs[i] for i in rng.choice(len(docs), self.max_fit, replace=False)]
        min_df = 2 if len(docs) >= 100 else 1
        candidates = [
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), sublinear_tf=True,
                            min_df=min_df, dtype=np.float32),
            TfidfVectorizer(token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b", sublinear_tf=True,
                            min_df=min_df, dtype=np.float32),
        ]  # fmt: skip
        self.vectorizers_: list[Any] = []
        parts = []
        for vec in candidates:
            try:  # a shop with no English words has no vocabulary for the second
                parts.append(vec.fit_transform(docs))
            except ValueError:
                continue
            self.vectorizers_.append(vec)
        matrix = sparse.hstack(parts).tocsr() if parts else None
        if matrix is None or min(matrix.shape) < 2:
            self.svd_ = None
            return self
        k = max(1, min(self.dimensions, matrix.shape[0] - 1, matrix.shape[1] - 1))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(matrix)
        return self

    @property
    def dimensions_(self) -> int:
        return 0 if self.svd_ is None else int(self.svd_.n_components)

    def transform(self, texts: Sequence[str], batch: int = 100_000) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts`` (zeros for an empty text, and with no space fitted)."""
        out = np.zeros((len(texts), self.dimensions_), dtype=np.float32)
        if self.svd_ is None:
            return out
        for start in range(0, len(texts), batch):
            part = [t or "" for t in texts[start : start + batch]]
            m = sparse.hstack([v.transform(part) for v in self.vectorizers_]).tocsr()
            out[start : start + len(part)] = self.svd_.transform(m)
        return _unit(out)


def _unit(m: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return out


def text_vectors(reviews: pa.Table, items: pa.Table) -> tuple[pa.Table, pa.Table]:
    """``review_vectors`` (review_id, vector) and ``item_vectors`` (item_id, reviews,
    vector) from reviews (review_id, item_id, text) and items (item_id, title, category)."""
    review_text = [t or "" for t in reviews.column("text").to_pylist()]
    titles = [" ".join(p for p in (t, c) if p) for t, c in
              zip(items.column("title").to_pylist(), items.column("category").to_pylist(),
                  strict=True)]  # fmt: skip
    vector = pa.list_(pa.float32())
    space = TextSpace().fit(review_text + titles)
    if space.svd_ is None:
        return (pa.table({"review_id": reviews.column("review_id"),
                          "vector": pa.nulls(reviews.num_rows, vector)}),
                pa.table({"item_id": items.column("item_id"),
                          "reviews": pa.array([0] * items.num_rows, pa.int64()),
                          "vector": pa.nulls(items.num_rows, vector)}))  # fmt: skip
    rv = space.transform(review_text)
    title_v = space.transform(titles)
    # mean review vector per item, by the items' order
    index = {item: i for i, item in enumerate(items.column("item_id").to_pylist())}
    item_of = np.array(
        [index.get(i, -1) for i in reviews.column("item_id").to_pylist()], dtype=np.int64
    )
    has = item_of >= 0
    sums = np.zeros_like(title_v)
    np.add.at(sums, item_of[has], rv[has])
    counts = np.bincount(item_of[has], minlength=len(titles)).astype(np.int64)
    means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    iv = _unit(title_v + means)
    empty_review = np.array([not t for t in review_text], dtype=bool)
    empty_item = ~(np.linalg.norm(iv, axis=1) > 0)

    def column(m: npt.NDArray[np.float32], empty: npt.NDArray[np.bool_]) -> pa.Array:
        flat = pa.array(m.ravel(), pa.float32())
        offsets = pa.array(np.arange(0, m.size + 1, m.shape[1], dtype=np.int32))
        arr = pa.ListArray.from_arrays(offsets, flat, mask=pa.array(empty, pa.bool_()))
        return arr

    return (
        pa.table({"review_id": reviews.column("review_id"), "vector": column(rv, empty_review)}),
        pa.table({"item_id": items.column("item_id"), "reviews": pa.array(counts),
                  "vector": column(iv, empty_item)}),
    )  # fmt: skip


class SimilarItem(Fact):
    item_id: str
    title: str | None
    #: cosine similarity of the text vectors, -1 to 1
    similarity: float
    reviews: int


class SimilarItems(Fact):
    """Items whose titles and reviews read most like one item's."""

    item_id: str
    title: str | None
    items: list[SimilarItem]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"item_id": self.item_id, **s.model_dump()} for s in self.items]


def similar_items(ws: Workspace, item_id: str, *, n: int = 10) -> SimilarItems:
    """The ``n`` items closest to ``item_id`` in the text space (built ``item_vectors``)."""
    ws.require("item_vectors")
    t = ws.table("item_vectors").join(ws.table("items").select("item_id", "title"), "item_id")
    arrow = t.filter(t.vector.notnull()).to_pyarrow()
    ids = [str(i) for i in arrow.column("item_id").to_pylist()]
    if item_id not in ids:
        raise NotFoundError(
            f"There is no item {item_id!r} with a text vector; `portrait build` makes them "
            "for every item with a title or reviews."
        )
    flat = arrow.column("vector").combine_chunks().flatten().to_numpy()
    m = flat.reshape(len(ids), -1)
    me = ids.index(item_id)
    sims = m @ m[me]
    sims[me] = -np.inf
    top = np.argsort(-sims, kind="stable")[:n]
    titles = arrow.column("title").to_pylist()
    reviews = arrow.column("reviews").to_pylist()
    return SimilarItems(
        item_id=item_id, title=titles[me],
        items=[SimilarItem(item_id=ids[i], title=titles[i], similarity=float(sims[i]),
                           reviews=int(reviews[i])) for i in top],
    )  # fmt: skip
