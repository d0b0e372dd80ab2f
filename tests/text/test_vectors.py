"""Text vectors on the demo shop: unit vectors for every review and every titled item, and
similar items that read alike (real Online Retail titles, real reviews)."""

from __future__ import annotations

import numpy as np
import pytest

from portrait import open_workspace
from portrait.errors import NotFoundError
from portrait.text.vectors import similar_items

from support import run_cli


def test_every_review_and_item_has_a_unit_vector(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        reviews = ws.table("review_vectors").to_pyarrow()
        items = ws.table("item_vectors").to_pyarrow()
        n_items = ws.count("items")
        v = ws.table("item_vectors").join(ws.table("items"), "item_id")
        # an item has no vector only when it has neither a title nor reviews
        blank = v.filter(v.vector.isnull())
        assert blank.filter(blank.title.notnull() | (blank.reviews > 0)).count().execute() == 0
        with_reviews = ws.table("item_text").count().execute()
    assert reviews.num_rows == demo_shop.reviews.reviews and items.num_rows == n_items
    for table in (reviews, items):
        m = np.stack([x for x in table.column("vector").to_pylist() if x is not None])
        assert m.shape[1] >= 16
        assert np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)
    # items without reviews have vectors from their titles; those with reviews count them
    counts = items.column("reviews").to_numpy()
    assert (counts == 0).sum() > 0 and (counts > 0).sum() == with_reviews


def test_similar_items_share_words_with_the_item_and_come_best_first(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        found = similar_items(ws, "85099B", n=5)  # JUMBO BAG RED RETROSPOT
        with pytest.raises(NotFoundError, match="no item 'nope'"):
            similar_items(ws, "nope")
    assert found.title == "JUMBO BAG RED RETROSPOT"
    sims = [s.similarity for s in found.items]
    assert sims == sorted(sims, reverse=True) and all(-1 <= s <= 1.0001 for s in sims)
    words = set(found.title.split())
    assert all(words & set((s.title or "").split()) for s in found.items)
    assert "85099B" not in [s.item_id for s in found.items]
    shown = run_cli("similar", "85099B", "-n", "3", "-w", str(demo_shop.path))
    assert shown.returncode == 0 and found.items[0].title in shown.stdout


@pytest.mark.parametrize(
    ("reviews", "titles"),
    [([], ["纯棉T恤", "保温杯"]),  # no reviews, no English word
     ([("r1", "i1", "物流很快")], ["保温杯"]),  # one review of an unknown item
     ([], []), ([("r1", None, "")], [None])],  # nothing to learn from
)  # fmt: skip
def test_small_and_empty_shops_get_vectors_or_nulls_never_an_error(reviews, titles):
    import pyarrow as pa

    from portrait.text.vectors import text_vectors

    r = pa.table({"review_id": [x[0] for x in reviews], "item_id": [x[1] for x in reviews],
                  "text": [x[2] for x in reviews]},
                 schema=pa.schema([("review_id", pa.string()), ("item_id", pa.string()),
                                   ("text", pa.string())]))  # fmt: skip
    i = pa.table({"item_id": [f"i{n}" for n in range(len(titles))], "title": titles,
                  "category": [None] * len(titles)},
                 schema=pa.schema([("item_id", pa.string()), ("title", pa.string()),
                                   ("category", pa.string())]))  # fmt: skip
    rv, iv = text_vectors(r, i)
    assert rv.num_rows == len(reviews) and iv.num_rows == len(titles)
    assert iv.column("reviews").to_pylist() == [0] * len(titles)
