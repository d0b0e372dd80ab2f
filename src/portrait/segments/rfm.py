"""RFM scores and the standard RFM segment map.

Each dimension is scored 1..bins by the customer's percentile rank among customers who
bought (recency reversed: the most recent score highest). Ties share a score, so the many
one-order customers all get F = 1 instead of being split arbitrarily. The segment comes from
the R score and the FM score (the rounded mean of F and M; F alone when the shop has no
amounts), on the widely used 11-segment grid (Champions ... Lost), scaled to ``bins``.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

#: (segment, R range, FM range) on the 1-5 grid: the rectangles tile it, each (R, FM)
#: pair in exactly one. Names in both languages are the ``rfm_segment`` vocabulary of
#: :mod:`portrait.labels`.
SEGMENTS: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalist", (4, 5), (2, 3)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need Attention", (3, 3), (3, 3)),
    ("About to Sleep", (3, 3), (1, 2)),
    ("Can't Lose", (1, 2), (5, 5)),
    ("At Risk", (1, 2), (3, 4)),
    ("Lost", (1, 1), (1, 1)),
    ("Hibernating", (2, 2), (1, 2)),
    ("Hibernating", (1, 1), (2, 2)),
)


def _score(value: ir.NumericValue, bins: int, *, descending: bool = False) -> ir.IntegerValue:
    order = ibis.desc(value) if descending else value
    rank = ibis.percent_rank().over(ibis.window(order_by=order))
    return ibis.least(ibis.literal(bins), (rank * bins).floor().cast(dt.int64) + 1)


def _to_grid(score: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    """A score on 1..bins mapped onto the map's 1..5 grid."""
    if bins == 5:
        return score
    return ((score - 1) * 4 / (bins - 1)).round().cast(dt.int64) + 1


def rfm_scores(features: ir.Table, *, bins: int = 5, has_money: bool = True) -> ir.Table:
    """R, F, M scores, the RFM code and segment of every customer who bought."""
    buyers = features.filter(features.frequency > 0, features.recency_days.notnull())
    scored = buyers.select(
        "user_id",
        r_score=_score(buyers.recency_days, bins, descending=True),
        f_score=_score(buyers.frequency, bins),
        m_score=_score(buyers.monetary, bins) if has_money else ibis.null(dt.int64),
    )
    fm = (
        ((scored.f_score + scored.m_score) / 2 + 0.01).round().cast(dt.int64)
        if has_money
        else scored.f_score
    )
    r, fm = _to_grid(scored.r_score, bins), _to_grid(fm, bins)
    segment = ibis.cases(
        *[
            (r.between(*r_range) & fm.between(*fm_range), name)
            for name, r_range, fm_range in SEGMENTS
        ],
        else_="Need Attention",
    )
    code = scored.r_score.cast(dt.string).concat(
        scored.f_score.cast(dt.string), scored.m_score.cast(dt.string).fill_null("")
    )
    return scored.mutate(rfm_score=code, rfm_segment=segment)
