"""The evaluation harness: splits, full-ranking metrics, tuning on validation, rating CV.

Protocols the field uses (Dacrema, Cremonesi and Jannach 2019, "Are we really making much
progress?", *RecSys '19*, on how easily they go wrong):

- **splits**: by time (train before a date, test after: what a shop lives with) or per-user
  random (each user's interactions, 80% train / 20% test, seeded: for comparison with
  published numbers);
- **full ranking**: every item in the training catalogue is ranked for every test user,
  items the user already has in training masked; test interactions with items the training
  data never saw cannot be recommended by any model and are counted and left out;
- **metrics** at K: Recall (hits / the user's test items), NDCG (binary relevance, ideal DCG
  over min(test items, K)), MRR, catalogue coverage (share of items recommended to anyone)
  and novelty (mean -log2 of the share of users who had a recommended item);
- **tuning**: each model's hyper-parameters are chosen on a validation carve-out of the
  training data made by the same kind of split, never on the test; the best is refitted on
  all training data and tested once;
- **explicit ratings**: RMSE and MAE by k-fold cross-validation over the ratings.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from portrait.errors import ConfigError, DataError
from portrait.facts import Fact, Note
from portrait.recommend._base import Recommender
from portrait.recommend.interactions import Interactions, interactions, to_matrix
from portrait.recommend.mf import MatrixFactorization
from portrait.recommend.models import make_model
from portrait.recommend.userknn import UserKNN
from portrait.registry import RECOMMENDERS

log = logging.getLogger(__name__)

RATING_MODELS: dict[str, Callable[[], Any]] = {
    "userknn": lambda: UserKNN(k=40, shrink=10.0, centre=True),
    "mf": lambda: MatrixFactorization(),
}
KS = (10, 20)
#: test customers below which models' differences are too uncertain to compare
MIN_TEST_CUSTOMERS = 100
#: popularity's NDCG@20 below which a gain over it is reported as a difference, not a share
NEAR_ZERO_NDCG = 1e-3
#: popularity blended into a model's scores, tried after its own parameters (0 first)
POPULARITY_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 3.0)


# -- splits ----------------------------------------------------------------------------------
def split_random(
    log: pa.Table, *, test_share: float = 0.2, seed: int = 42
) -> tuple[pa.Table, pa.Table]:
    """Each user's interactions shuffled (seeded) and ``test_share`` of them, rounded, held
    out; users with a single interaction stay in training."""
    users = log.column("user_id").to_numpy(zero_copy_only=False).astype(str)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(users)), users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    sizes = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, sizes)
    held = np.repeat(np.round(sizes * test_share).astype(np.int64), sizes)
    test = np.zeros(len(users), dtype=bool)
    test[order] = rank < held
    mask = pa.array(test)
    return log.filter(pc.invert(mask)), log.filter(mask)


def split_time(log: pa.Table, at: datetime) -> tuple[pa.Table, pa.Table]:
    """Interactions before ``at`` (UTC) train; from ``at`` on, test."""
    ts = log.column("ts")
    cut = pa.scalar(at, ts.type)
    return log.filter(pc.less(ts, cut)), log.filter(pc.greater_equal(ts, cut))


# -- metrics ---------------------------------------------------------------------------------
def ranking_metrics(
    recommended: np.ndarray, truth: sp.csr_matrix, popularity: np.ndarray, n_users: int,
    ks: Iterable[int] = KS,
) -> dict[str, float]:  # fmt: skip
    """Metrics of top-K lists (one row per test user) against their test items."""
    n, width = recommended.shape
    truth = (truth > 0).astype(np.float32).tocsr()
    hits = np.asarray(truth[np.repeat(np.arange(n), width), recommended.ravel()]).reshape(n, width)
    relevant = np.diff(truth.indptr)
    discount = 1.0 / np.log2(np.arange(2, width + 2))
    out: dict[str, float] = {}
    info = -np.log2((popularity + 1.0) / (n_users + 1.0))
    for k in ks:
        h = hits[:, :k]
        ideal = np.cumsum(discount[:k])[np.minimum(relevant, k) - 1]
        first = np.where(h.any(axis=1), h.argmax(axis=1), -1)
        out[f"recall@{k}"] = float(np.mean(h.sum(axis=1) / relevant))
        out[f"ndcg@{k}"] = float(np.mean((h * discount[:k]).sum(axis=1) / ideal))
        reciprocal = np.divide(1.0, first + 1, out=np.zeros(len(first)), where=first >= 0)
        out[f"mrr@{k}"] = float(np.mean(reciprocal))
        out[f"coverage@{k}"] = float(len(np.unique(recommended[:, :k])) / len(popularity))
        out[f"novelty@{k}"] = float(info[recommended[:, :k]].mean())
    return out


@dataclass
class Split:
    """A training matrix and the test users' held-out items on the same catalogue."""

    train: Interactions
    test_users: np.ndarray  # row indices into train
    truth: sp.csr_matrix  # test users x items
    dropped_unknown: int = 0

    @classmethod
    def make(cls, train_log: pa.Table, test_log: pa.Table) -> Split:
        train = interactions(train_log)
        full = to_matrix(test_log, train.users, train.items)
        full = full - full.multiply(train.matrix > 0)  # what they had is not a hit
        full.eliminate_zeros()
        users = np.flatnonzero(np.diff(full.indptr) > 0)
        users = users[np.diff(train.matrix.indptr)[users] > 0]
        known_items = pc.is_in(test_log.column("item_id"), value_set=pa.array(train.items))
        dropped = int(len(known_items) - pc.sum(known_items).as_py()) if len(known_items) else 0
        return cls(train, users, full[users], dropped)

    def score(self, model: Recommender, ks: Iterable[int] = KS) -> dict[str, float]:
        ks = tuple(ks)
        rows = self.train.matrix[self.test_users]
        ids, _ = model.recommend(self.test_users, rows, N=max(ks))
        popularity = np.asarray((self.train.matrix > 0).sum(axis=0)).ravel()
        return ranking_metrics(ids, self.truth, popularity, self.train.matrix.shape[0], ks)


class RankingResult(Fact):
    """One model's parameters (chosen on validation) and its metrics on the test split."""

    model: str
    params: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    #: validation NDCG@20 of every setting tried
    tried: list[tuple[dict[str, Any], float]] = []


def _grid(space: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not space:
        return [{}]
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*space.values())]


def evaluate_ranking(
    train_log: pa.Table,
    test_log: pa.Table,
    *,
    validation: tuple[pa.Table, pa.Table] | None = None,
    models: Iterable[str] = tuple(RECOMMENDERS),
    grids: dict[str, dict[str, list[Any]]] | None = None,
    ks: Iterable[int] = KS,
    seed: int = 0,
) -> tuple[Split, list[RankingResult]]:
    """Tune each model on ``validation`` (a split of the training log), refit the best on
    all of ``train_log`` and score it on ``test_log``."""
    ks = tuple(ks)
    split = Split.make(train_log, test_log)
    if len(split.test_users) == 0:
        raise DataError("No test user has both training and test interactions; move the split.")
    val = Split.make(*validation) if validation is not None else None
    results = []
    for name in models:
        if name not in RECOMMENDERS:
            raise ConfigError(f"Unknown model {name!r}; choose from {', '.join(RECOMMENDERS)}.")
        space = (grids or {}).get(name) or {k: list(v) for k, v in RECOMMENDERS[name].grid.items()}
        settings = _grid(space)
        tried = []
        if val is not None and len(val.test_users) and len(settings) > 1:
            model, best_score = None, -np.inf
            for params in settings:
                candidate = make_model(name, params, seed=seed).fit(val.train.matrix)
                tried.append((params, val.score(candidate, (20,))["ndcg@20"]))
                if tried[-1][1] > best_score:  # keep only the best fitted model so far
                    model, best_score, best = candidate, tried[-1][1], dict(params)
            if "popularity_weight" in RECOMMENDERS[name].params:
                # then how much popularity to add, on the same fitted model
                assert model is not None
                for weight in POPULARITY_WEIGHTS[1:]:
                    model.popularity_weight = weight
                    tried.append(({**best, "popularity_weight": weight},
                                  val.score(model, (20,))["ndcg@20"]))  # fmt: skip
                best = dict(max(tried, key=lambda t: t[1])[0])
        else:
            best = settings[0]
        t0 = time.perf_counter()
        model = make_model(name, best, seed=seed).fit(split.train.matrix)
        fit_seconds = time.perf_counter() - t0
        results.append(RankingResult(model=name, params=best, metrics=split.score(model, ks),
                                     fit_seconds=fit_seconds, tried=tried))  # fmt: skip
        log.info("%s %s %s", name, best, results[-1].metrics)
    return split, results


class RatingResult(Fact):
    """An explicit-rating model's cross-validated errors."""

    model: str
    rmse: float
    mae: float
    #: mean seconds to fit one fold
    fit_seconds: float
    folds: int


def evaluate_ratings(
    log: pa.Table, *, folds: int = 5, seed: int = 0, models: Iterable[str] = tuple(RATING_MODELS)
) -> list[RatingResult]:
    """RMSE and MAE of explicit-rating models by ``folds``-fold cross-validation."""
    rated = log.filter(pc.is_valid(log.column("rating")))
    if rated.num_rows < folds:
        raise DataError("There are too few ratings to cross-validate; reviews need ratings.")
    data = interactions(rated, value="rating")
    users = data.user_index(rated.column("user_id").to_numpy(zero_copy_only=False))
    items = data.item_index(rated.column("item_id").to_numpy(zero_copy_only=False))
    ratings = rated.column("rating").to_numpy(zero_copy_only=False).astype(np.float64)
    fold = np.random.default_rng(seed).permutation(len(ratings)) % folds
    out = []
    for name in models:
        errors, abs_errors, seconds = [], [], []
        for f in range(folds):
            train, test = fold != f, fold == f
            matrix = sp.csr_matrix(
                (ratings[train], (users[train], items[train])), shape=data.matrix.shape
            )
            t0 = time.perf_counter()
            model = RATING_MODELS[name]().fit(matrix)
            seconds.append(time.perf_counter() - t0)
            pred = np.clip(model.predict(users[test], items[test]), ratings.min(), ratings.max())
            errors.append(np.sqrt(np.mean((pred - ratings[test]) ** 2)))
            abs_errors.append(np.mean(np.abs(pred - ratings[test])))
        out.append(RatingResult(model=name, rmse=float(np.mean(errors)),
                                mae=float(np.mean(abs_errors)),
                                fit_seconds=float(np.mean(seconds)), folds=folds))  # fmt: skip
    return out


class WorkspaceEvaluation(Fact):
    """The models compared on a shop's own interactions."""

    split: Literal["time", "random"]
    #: time split: the local days tested (the first and the last)
    test_from: date | None = None
    test_to: date | None = None
    #: random split: the share held out of each customer's interactions, and the seed
    test_share: float | None = None
    seed: int
    train_interactions: int
    test_users: int
    items: int
    #: test interactions with items the training data never saw (no model can hit them)
    dropped_unknown: int
    results: list[RankingResult]
    ratings: list[RatingResult] = []
    #: the model with the best NDCG@20
    best: str
    #: its NDCG@20 against popularity's, as a share (+0.5 = 50% better); null when
    #: popularity was not evaluated or scored near 0 (below :data:`NEAR_ZERO_NDCG`), where a
    #: share means nothing: read ``ndcg_over_popularity`` then
    gain_over_popularity: float | None
    #: its NDCG@20 minus popularity's (an absolute difference); null without popularity
    ndcg_over_popularity: float | None = None
    #: fewer than :data:`MIN_TEST_CUSTOMERS` test customers: too few to tell models apart
    too_few_to_compare: bool = False
    #: what to keep in mind when reading the numbers
    notes: list[Note] = []

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"model": r.model, **r.metrics, "fit_seconds": r.fit_seconds,
                 "params": ", ".join(f"{k}={v}" for k, v in r.params.items())}
                for r in self.results]  # fmt: skip


def _gain(results: list[RankingResult], best: RankingResult) -> tuple[float | None, float | None]:
    """The best model's NDCG@20 against popularity's: (as a share, as a difference); the
    share is null when popularity's is near zero."""
    pop = next((r for r in results if r.model == "popularity"), None)
    if pop is None:
        return None, None
    base, top = pop.metrics["ndcg@20"], best.metrics["ndcg@20"]
    return (top / base - 1 if base >= NEAR_ZERO_NDCG else None), top - base


def evaluate_workspace(
    ws: Any,
    *,
    split: str = "time",
    at: str | None = None,
    test_share: float = 0.2,
    seed: int = 42,
    models: Iterable[str] = tuple(RECOMMENDERS),
    grids: dict[str, dict[str, list[Any]]] | None = None,
    ratings: bool = False,
) -> WorkspaceEvaluation:
    """Compare the models on the workspace's interactions (``portrait recommend evaluate``).

    ``split="time"`` trains before the local date ``at`` (default: the date that leaves the
    last 15% of the data's days, at least one, for the test) and validates on the same
    length of time before it; ``split="random"`` holds out ``test_share`` of each user's
    interactions (seeded), and validates the same way inside the training part.
    """
    from datetime import timedelta

    from portrait.asof import parse_date, utc_of_local_midnight
    from portrait.recommend.interactions import interaction_log

    weights = ws.config.recommend.weights
    full = interaction_log(ws, weights=weights)
    if full.num_rows == 0:
        raise DataError("The workspace has no interactions with products; ingest some first.")
    zone = ws.config.shop.timezone
    if split == "random":
        train, test = split_random(full, test_share=test_share, seed=seed)
        validation = split_random(train, test_share=test_share, seed=seed + 1)
        window: dict[str, Any] = {"test_share": test_share}
        detail = f"per-user random {1 - test_share:.0%}/{test_share:.0%}, seed {seed}"
    elif split == "time":
        ts = full.column("ts")
        first, last = pc.min(ts).as_py().date(), pc.max(ts).as_py().date()
        span = (last - first).days + 1
        test_days = max(1, round(span * 0.15))
        day = parse_date(at, option="--at") if at else last - timedelta(days=test_days - 1)
        length = (last - day).days + 1
        cut = utc_of_local_midnight(day, zone)
        train, test = split_time(full, cut)
        validation = split_time(train, utc_of_local_midnight(day - timedelta(days=length), zone))
        window = {"test_from": day, "test_to": last}
        detail = f"train before {day}, test {day}..{last} ({length} days)"
    else:
        raise ConfigError(f"Unknown split {split!r}; use 'time' or 'random'.")
    if test.num_rows == 0 or train.num_rows == 0:
        raise DataError(f"The split ({detail}) leaves nothing to train or test on; move it.")
    evaluated, results = evaluate_ranking(
        train, test, validation=validation, models=models, grids=grids, seed=seed
    )
    return WorkspaceEvaluation(
        split=cast(Literal["time", "random"], split),  # checked above: else it raised
        seed=seed, train_interactions=train.num_rows, items=len(evaluated.train.items),
        dropped_unknown=evaluated.dropped_unknown, results=results,
        ratings=evaluate_ratings(full, seed=seed) if ratings else [],
        **comparison(results, len(evaluated.test_users)), **window,
    )  # fmt: skip


def comparison(results: list[RankingResult], test_users: int) -> dict[str, Any]:
    """The :class:`WorkspaceEvaluation` fields that compare the models: the best, its gain
    over popularity, and whether there are enough test customers to tell them apart."""
    best = max(results, key=lambda r: r.metrics["ndcg@20"])
    share, difference = _gain(results, best)
    few = test_users < MIN_TEST_CUSTOMERS
    notes = [Note.of("small_test_set", customers=test_users, minimum=MIN_TEST_CUSTOMERS)]
    return {
        "test_users": test_users, "best": best.model, "gain_over_popularity": share,
        "ndcg_over_popularity": difference, "too_few_to_compare": few,
        "notes": notes if few else [],
    }  # fmt: skip
