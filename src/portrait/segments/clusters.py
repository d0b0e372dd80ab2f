"""Behavioural clusters: k-means on standardised features, k chosen by silhouette.

Counts, money and day counts are skewed (a few customers buy a hundred times), so they are
log-transformed before standardising; shares and rates are left as they are. Missing values
take the median, and features that most customers lack are left out. The number of clusters
is the one with the best silhouette score (Rousseeuw 1987) over 2..``max_clusters``, each
scored on the same sample; the final model is fitted on every customer (on a random 200,000
of them in a bigger shop, then every customer is assigned to the nearest centre). Each cluster is
described by the features whose mean differs most from the whole shop's, in standard
deviations.

The samples are the customers first in the order of a seeded hash of their id
(:func:`sample_keys`), not of their row position, so that Spark, which has no row order,
draws the same ones (:mod:`portrait.segments.on_spark`): the fit, the standardisation
(:class:`Scaling`) and the profiles (:func:`describe`) are shared by both engines.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, cast

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


@dataclass
class Scaling:
    """How each usable feature becomes a column of the clustering matrix: a missing value
    takes the median, a skewed feature is log-transformed, then it is centred on ``means``
    and divided by ``sds`` (both taken after the first two steps, over every customer)."""

    names: list[str]
    medians: list[float]
    logs: list[bool]
    means: list[float] = field(default_factory=list)
    sds: list[float] = field(default_factory=list)


def usable(name: str, coverage: float, sd: float, minimum: float) -> bool | None:
    """Whether a candidate feature is used (None if not), and if so whether it is logged:
    it must be known for most customers and vary; skewed units are logged unless negative."""
    if coverage < _MIN_COVERAGE or not sd > 0:
        return None
    return FEATURES[name].unit in _SKEWED_UNITS and minimum >= 0


def _matrix(table: pa.Table, scaling: Scaling | None = None) -> tuple[np.ndarray, Scaling]:
    """The transformed, standardised float32 matrix of the usable features, and how it was
    made; with ``scaling`` (found over all customers elsewhere), made that way instead.

    One column at a time into a preallocated matrix, so that ten million customers cost
    the matrix (~80 bytes each) and one column at a time, not several copies of it.
    """
    if scaling is not None:
        prepared = list(zip(scaling.names, scaling.medians, scaling.logs, strict=True))
        found = scaling
    else:
        prepared = _prepare(table)
        found = Scaling([n for n, _, _ in prepared], [m for _, m, _ in prepared],
                        [g for _, _, g in prepared])  # fmt: skip
    x = np.empty((table.num_rows, len(prepared)), dtype=np.float32)
    for j, (name, median, log) in enumerate(prepared):
        col = _column(table, name)
        np.copyto(col, median, where=np.isnan(col))
        if log:
            np.log1p(col, out=col)
        if scaling is None:
            found.means.append(float(col.mean()))
            col -= found.means[j]
            found.sds.append(float(col.std()))
        else:
            col -= scaling.means[j]
        sd = found.sds[j]
        x[:, j] = col / (sd if sd > 0 else 1.0)
    return x, found


def _prepare(table: pa.Table) -> list[tuple[str, float, bool]]:
    """(name, median, logged) of each usable feature of ``table``."""
    prepared: list[tuple[str, float, bool]] = []
    for name in CANDIDATES:
        if name not in table.column_names:
            continue
        raw = _column(table, name)
        have = ~np.isnan(raw)
        if not have.any():
            continue
        log = usable(name, float(have.mean()), float(np.nanstd(raw)), float(np.nanmin(raw)))
        if log is not None:
            prepared.append((name, float(np.nanmedian(raw)), log))
    return prepared


def _hash_key(seed: int) -> str:
    return hashlib.md5(str(seed).encode()).hexdigest()[:16]


def sample_keys(user_ids: Any, seed: int) -> np.ndarray:
    """A seeded 64-bit hash of each id (signed, as Spark orders it): customers are sampled
    in the order of these keys, which any engine computes the same from the ids alone."""
    import pandas as pd

    ids = np.asarray(user_ids, dtype=object)
    hashed = pd.util.hash_array(ids, hash_key=_hash_key(seed), categorize=False)
    return cast(np.ndarray, hashed.view(np.int64))


@dataclass
class FittedClusters:
    """The chosen number of clusters, the silhouette of each tried, the k-means model."""

    k: int
    silhouettes: dict[int, float]
    model: Any


def sample_size() -> int:
    """Customers :func:`fit_clusters` reads: the fitting sample or the final one."""
    return max(_FIT_SAMPLE, _FINAL_SAMPLE)


def fit_clusters(
    sample: np.ndarray, n: int, *, max_clusters: int = 8, seed: int = 0
) -> FittedClusters | None:
    """Choose k and fit k-means on ``sample``: the first :func:`sample_size` (or all)
    customers in :func:`sample_keys` order, as a :class:`Scaling` matrix, of ``n`` in all.

    k is chosen on the first ``_FIT_SAMPLE`` rows (silhouettes on the first
    ``_SCORE_SAMPLE``); the final centres come from the first ``_FINAL_SAMPLE``. None when
    every candidate collapsed into one group.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    fit = sample[: min(len(sample), _FIT_SAMPLE)]
    scored = fit[: min(len(fit), _SCORE_SAMPLE)]
    silhouettes: dict[int, float] = {}
    for k in range(2, min(max_clusters, n - 1) + 1):
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(fit)
        labels = model.predict(scored)
        if len(set(labels)) < 2:
            continue
        silhouettes[k] = float(silhouette_score(scored, labels, random_state=seed))
    if not silhouettes:  # every candidate collapsed into one group
        return None
    k = max(silhouettes, key=lambda c: silhouettes[c])
    # the final centres come from everyone in a small shop, from a stated sample in a big one
    final = sample[: min(len(sample), _FINAL_SAMPLE)]
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(final)
    return FittedClusters(k, silhouettes, model)


@dataclass
class ClusterStats:
    """Per cluster as k-means numbered it: what the profiles are made of."""

    sizes: np.ndarray
    #: spend of each cluster and of the shop (None without the value column)
    value: np.ndarray | None
    total_value: float
    #: clusters x features: sums of the standardised features
    z_sums: np.ndarray
    #: clusters x features: means of the raw features, missing values left out
    raw_means: np.ndarray
    #: the shop's mean of each raw feature, missing values left out
    shop_means: np.ndarray


def describe(
    stats: ClusterStats, names: list[str], n: int
) -> tuple[np.ndarray, list[ClusterDescription]]:
    """Number the clusters by size, largest first (cluster 0 is the biggest group), and
    describe each by the features whose mean differs most from the shop's.

    Returns the new number of each k-means cluster and the descriptions, in the new order.
    """
    k = len(stats.sizes)
    order = np.argsort(-stats.sizes, kind="stable")
    sizes = stats.sizes[order]
    value_by = stats.value[order] if stats.value is not None else None
    total = stats.total_value
    # standardised cluster means (the shop's are 0) and raw ones beside the shop's
    z_means = stats.z_sums[order] / sizes[:, None]
    raw_means = stats.raw_means[order]
    profiles = []
    for c in range(k):
        z = z_means[c]
        top = np.argsort(-np.abs(z))[:3]
        traits = [(names[i], float(z[i]), float(raw_means[c, i]), float(stats.shop_means[i]))
                  for i in top]  # fmt: skip
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
    return np.argsort(order), profiles


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


def one_cluster(n: int, has_value: bool) -> ClusterDescription:
    """The one cluster of everyone: too few customers, or no feature that tells them apart."""
    return ClusterDescription(cluster=0, name="all customers", name_zh="全部客户", size=n,
                              share=1.0, value_share=1.0 if has_value and n else None)  # fmt: skip


def _one_cluster(table: pa.Table, n: int, value: str) -> Clustering:
    profile = one_cluster(n, value in table.column_names)
    return Clustering(np.zeros(n, dtype=np.int64), 1, {1: 0.0}, [], [profile])


def cluster_customers(
    table: pa.Table, *, max_clusters: int = 8, seed: int = 0, value: str = "monetary"
) -> Clustering:
    """Cluster the customers of ``table`` (features as Arrow columns, with ``user_id``
    when the sample is to be the one any engine draws: :func:`sample_keys`)."""
    x, scaling = _matrix(table)
    names = scaling.names
    n = len(x)
    if n < 3 or not names:
        return _one_cluster(table, n, value)
    if "user_id" in table.column_names:
        keys = sample_keys(table.column("user_id").to_numpy(zero_copy_only=False), seed)
        order = np.argsort(keys, kind="stable")[: sample_size()]
    else:
        order = np.random.default_rng(seed).permutation(n)[: sample_size()]
    fitted = fit_clusters(x[order], n, max_clusters=max_clusters, seed=seed)
    if fitted is None:
        return _one_cluster(table, n, value)
    k, silhouettes, model = fitted.k, fitted.silhouettes, fitted.model
    raw_labels = np.concatenate(
        [model.predict(x[lo : lo + _PREDICT_CHUNK]) for lo in range(0, n, _PREDICT_CHUNK)]
    )
    money = None
    if value in table.column_names:
        money = np.nan_to_num(_column(table, value))
    stats = ClusterStats(
        sizes=np.bincount(raw_labels, minlength=k),
        value=np.bincount(raw_labels, weights=money, minlength=k) if money is not None else None,
        total_value=float(money.sum()) if money is not None else 0.0,
        z_sums=np.column_stack(
            [np.bincount(raw_labels, weights=x[:, j], minlength=k) for j in range(len(names))]
        ),
        raw_means=np.column_stack(
            [_cluster_means(_column(table, name), raw_labels, k) for name in names]
        ),
        shop_means=np.array([float(np.nanmean(_column(table, name))) for name in names]),
    )
    renumber, profiles = describe(stats, names, n)
    labels = renumber[raw_labels]
    log.info("clusters: k=%d chosen by silhouette %s", k, silhouettes)
    return Clustering(labels, k, silhouettes, names, profiles)
