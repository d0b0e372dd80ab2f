"""Behavioural clusters: k-means on standardised features, k chosen by silhouette.

Counts, money and day counts are skewed (a few customers buy a hundred times), so they are
log-transformed before standardising; shares and rates are left as they are. Missing values
take the median, and features that most customers lack are left out. The number of clusters
is the one with the best silhouette score (Rousseeuw 1987) over 2..``max_clusters``, each
scored on the same sample; the final model is fitted on every customer (on a random 200,000
of them in a bigger shop, then every customer is assigned to the nearest centre). Each cluster is
described by the features whose mean differs most from the whole shop's, in standard
deviations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import cast

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
#: above this many customers the final centres are fitted on a sample of this size
_FINAL_SAMPLE = 200_000
_PREDICT_CHUNK = 1_000_000


@dataclass
class ClusterDescription:
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
    profiles: list[ClusterDescription]


def _column(table: pa.Table, name: str) -> np.ndarray:
    return cast(np.ndarray, table.column(name).to_numpy(zero_copy_only=False).astype(np.float64))


def _matrix(table: pa.Table) -> tuple[np.ndarray, list[str]]:
    """(transformed, standardised float32 matrix, feature names) for the usable features.

    One column at a time into a preallocated matrix, so that ten million customers cost
    the matrix (~80 bytes each) and one column at a time, not several copies of it.
    """
    names: list[str] = []
    prepared: list[tuple[str, float, bool]] = []
    for name in CANDIDATES:
        if name not in table.column_names:
            continue
        raw = _column(table, name)
        have = ~np.isnan(raw)
        if have.mean() < _MIN_COVERAGE or np.nanstd(raw) == 0:
            continue
        log = FEATURES[name].unit in _SKEWED_UNITS and np.nanmin(raw) >= 0
        prepared.append((name, float(np.nanmedian(raw)), bool(log)))
    x = np.empty((table.num_rows, len(prepared)), dtype=np.float32)
    for j, (name, median, log) in enumerate(prepared):
        col = _column(table, name)
        np.copyto(col, median, where=np.isnan(col))
        if log:
            np.log1p(col, out=col)
        col -= col.mean()
        sd = col.std()
        x[:, j] = col / (sd if sd > 0 else 1.0)
        names.append(name)
    return x, names


def _cluster_means(values: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``values`` in each cluster, ignoring NaN (NaN for a cluster with none)."""
    have = ~np.isnan(values)
    sums = np.bincount(labels[have], weights=values[have], minlength=k)
    counts = np.bincount(labels[have], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _describe(name: str, z: float) -> tuple[str, str]:
    f = FEATURES[name]
    word, zh = ("high", "高") if z > 0 else ("low", "低")
    return f"{word} {name}", f"{zh}{f.zh.split('（')[0]}"


def _one_cluster(table: pa.Table, n: int, value: str) -> Clustering:
    """Everyone in one cluster: too few customers, or no feature that tells them apart."""
    share = 1.0 if value in table.column_names and n else None
    profile = ClusterDescription(cluster=0, name="all customers", name_zh="全部客户", size=n,
                                 share=1.0, value_share=share)  # fmt: skip
    return Clustering(np.zeros(n, dtype=np.int64), 1, {1: 0.0}, [], [profile])


def cluster_customers(
    table: pa.Table, *, max_clusters: int = 8, seed: int = 0, value: str = "monetary"
) -> Clustering:
    """Cluster the customers of ``table`` (features as Arrow columns)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x, names = _matrix(table)
    n = len(x)
    if n < 3 or not names:
        return _one_cluster(table, n, value)
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
    if not silhouettes:  # every candidate collapsed into one group
        return _one_cluster(table, n, value)
    k = max(silhouettes, key=lambda c: silhouettes[c])
    # the final centres come from everyone in a small shop, from a stated sample in a big one
    final_idx = np.arange(n) if n <= _FINAL_SAMPLE else rng.choice(n, _FINAL_SAMPLE, replace=False)
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x[final_idx])
    labels = np.concatenate(
        [model.predict(x[lo : lo + _PREDICT_CHUNK]) for lo in range(0, n, _PREDICT_CHUNK)]
    )
    # order clusters by size, largest first, so cluster 0 is the biggest group
    sizes = np.bincount(labels, minlength=k)
    order = np.argsort(-sizes, kind="stable")
    labels = np.argsort(order)[labels]
    sizes = sizes[order]
    money = None
    if value in table.column_names:
        money = np.nan_to_num(_column(table, value))
    total = float(money.sum()) if money is not None else 0.0
    value_by = np.bincount(labels, weights=money, minlength=k) if money is not None else None
    # standardised cluster means (the shop's are 0) and raw ones beside the shop's
    z_means = np.column_stack(
        [np.bincount(labels, weights=x[:, j], minlength=k) / sizes for j in range(len(names))]
    )
    raw_means, shop_mean = [], []
    for name in names:
        raw = _column(table, name)
        raw_means.append(_cluster_means(raw, labels, k))
        shop_mean.append(float(np.nanmean(raw)))
    profiles = []
    for c in range(k):
        z = z_means[c]
        top = np.argsort(-np.abs(z))[:3]
        traits = [(names[i], float(z[i]), float(raw_means[i][c]), shop_mean[i]) for i in top]
        words = [_describe(names[i], z[i]) for i in top[:2]]
        profiles.append(
            ClusterDescription(
                cluster=c,
                name=", ".join(w for w, _ in words),
                name_zh="、".join(w for _, w in words),
                size=int(sizes[c]),
                share=float(sizes[c] / n),
                value_share=float(value_by[c] / total) if value_by is not None and total else None,
                traits=traits,
            )
        )
    log.info("clusters: k=%d chosen by silhouette %s", k, silhouettes)
    return Clustering(labels, k, silhouettes, names, profiles)
