"""Behavioural clusters: k-means on standardised features, k chosen by silhouette.

Counts, money and day counts are skewed (a few customers buy a hundred times), so they are
log-transformed before standardising; shares and rates are left as they are. Missing values
take the median, and features that most customers lack are left out. The number of clusters
is the one with the best silhouette score (Rousseeuw 1987) over 2..``max_clusters``, each
scored on the same sample; the final model is fitted on every customer. Each cluster is
described by the features whose mean differs most from the whole shop's, in standard
deviations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from portrait.features import FEATURES

log = logging.getLogger(__name__)

#: candidates, in order of interest; units that are skewed get a log transform
CANDIDATES = (
    "recency_days", "frequency", "monetary", "avg_order_value", "basket_size", "distinct_items",
    "cancel_rate", "discount_share", "price_level", "top_category_share", "active_days",
    "weekend_share", "views", "carts", "favs", "view_to_purchase_rate", "cart_abandonment_rate",
    "review_count", "avg_rating",
)  # fmt: skip
_SKEWED_UNITS = {"orders", "money", "days", "units", "items", "events", "reviews"}
_MIN_COVERAGE = 0.5
_FIT_SAMPLE = 50_000
_SCORE_SAMPLE = 5_000


@dataclass
class ClusterProfile:
    cluster: int
    name: str
    name_zh: str
    size: int
    share: float
    value_share: float | None
    #: (feature, standardised difference from the shop, cluster mean, shop mean)
    traits: list[tuple[str, float, float, float]] = field(default_factory=list)


@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    silhouettes: dict[int, float]
    features: list[str]
    profiles: list[ClusterProfile]


def _matrix(table: pa.Table) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(transformed standardised matrix, raw matrix, feature names) for usable features."""
    names, raw_cols, cols = [], [], []
    for name in CANDIDATES:
        if name not in table.column_names:
            continue
        raw = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        have = ~np.isnan(raw)
        if have.mean() < _MIN_COVERAGE or np.nanstd(raw) == 0:
            continue
        filled = np.where(have, raw, np.nanmedian(raw))
        if FEATURES[name].unit in _SKEWED_UNITS and filled.min() >= 0:
            filled = np.log1p(filled)
        names.append(name)
        raw_cols.append(raw)
        cols.append(filled)
    x = np.column_stack(cols)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x, np.column_stack(raw_cols), names


def _describe(name: str, z: float) -> tuple[str, str]:
    f = FEATURES[name]
    word, zh = ("high", "高") if z > 0 else ("low", "低")
    return f"{word} {name}", f"{zh}{f.zh.split('（')[0]}"


def cluster_customers(
    table: pa.Table, *, max_clusters: int = 8, seed: int = 0, value: str = "monetary"
) -> Clustering:
    """Cluster the customers of ``table`` (features as Arrow columns)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import silhouette_score

    x, raw, names = _matrix(table)
    n = len(x)
    rng = np.random.default_rng(seed)
    fit_idx = rng.choice(n, min(n, _FIT_SAMPLE), replace=False)
    score_idx = fit_idx[: min(len(fit_idx), _SCORE_SAMPLE)]
    silhouettes: dict[int, float] = {}
    for k in range(2, min(max_clusters, n - 1) + 1):
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x[fit_idx])
        labels = model.predict(x[score_idx])
        if len(set(labels)) < 2:
            continue
        silhouettes[k] = float(silhouette_score(x[score_idx], labels, random_state=seed))
    k = max(silhouettes, key=lambda c: silhouettes[c])
    estimator = KMeans if n <= 200_000 else MiniBatchKMeans
    model = estimator(n_clusters=k, n_init=3, random_state=seed).fit(x)
    labels = model.labels_
    # order clusters by size, largest first, so cluster 0 is the biggest group
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    labels = np.argsort(order)[labels]
    money = None
    if value in table.column_names:
        money = np.nan_to_num(table.column(value).to_numpy(zero_copy_only=False).astype(float))
    shop_mean = [float(v) for v in np.nanmean(raw, axis=0)]
    total = float(money.sum()) if money is not None else 0.0
    profiles = []
    for c in range(k):
        members = labels == c
        z = x[members].mean(axis=0)
        top = np.argsort(-np.abs(z))[:3]
        traits = [
            (
                names[i],
                float(z[i]),
                float(np.nanmean(raw[members, i])),
                shop_mean[i],
            )
            for i in top
        ]
        words = [_describe(names[i], z[i]) for i in top[:2]]
        profiles.append(
            ClusterProfile(
                cluster=c,
                name=", ".join(w for w, _ in words),
                name_zh="、".join(w for _, w in words),
                size=int(members.sum()),
                share=float(members.mean()),
                value_share=float(money[members].sum() / total) if total else None,
                traits=traits,
            )
        )
    log.info("clusters: k=%d chosen by silhouette %s", k, silhouettes)
    return Clustering(labels, k, silhouettes, names, profiles)
