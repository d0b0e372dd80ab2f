"""Churn: will a customer who has bought go without buying for the next N days?

A gradient-boosted tree model (LightGBM) learns the answer from every numeric feature as of
one date, with the label taken from the N days after it; it is validated on a later date
whose label window comes after the training one's, never on a random split, because a shop
always predicts the future from the past. Its scores are compared in the same report with
four baselines: days since the last purchase alone, 1 - P(alive), and the BG/NBD expected
purchases in the label window and probability of none there (under BG/NBD a one-time buyer
has P(alive) = 1, so these two are the fair model-based scores). The model also learns from
those BG/NBD scores, fitted on data before each as-of date.

Each customer's top reasons are the features that push their score up the most: exact
per-customer contributions (TreeSHAP, Lundberg et al. 2020, *Nature Machine Intelligence*
2, 56-67) that LightGBM computes itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from portrait.errors import DataError, NotFittedError
from portrait.facts import Fact
from portrait.features import FEATURES
from portrait.labels import LABELS, Label

if TYPE_CHECKING:
    from portrait.workspace import Workspace

#: features never given to the model: identifiers and text
_EXCLUDED = {f.name for f in FEATURES.values() if not f.numeric}
MIN_CHURN_CUSTOMERS = 50
#: customers per training snapshot above which a fixed sample is taken
MAX_TRAIN_CUSTOMERS = 50_000
#: monthly snapshots stacked for training
SNAPSHOTS, SNAPSHOT_STEP_DAYS = 3, 30
#: churn risk bands on the predicted probability
RISK_BANDS: tuple[tuple[float, str], ...] = ((0.7, "high"), (0.4, "medium"), (0.0, "low"))


def numeric_features(table: pa.Table) -> list[str]:
    """The columns the model learns from: numeric features and the purchase scores."""
    return [
        n for n in table.column_names
        if (n in FEATURES and n not in _EXCLUDED) or n in PURCHASE_SCORES
    ]  # fmt: skip


def matrix(table: pa.Table, names: list[str]) -> np.ndarray:
    """Feature columns as a float matrix; nulls become NaN, which the trees handle."""
    cols = [table.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in names]
    return np.column_stack(cols) if cols else np.empty((table.num_rows, 0))


class ChurnModel:
    """Gradient-boosted trees on as-of features (LightGBM), scikit-learn style.

    Parameters
    ----------
    horizon_days
        The label: no completed purchase in this many days after the as-of date.
    seed
        Seed of the trees' sampling and of the early-stopping carve-out.
    """

    kind = "churn_lightgbm"

    def __init__(self, *, horizon_days: int = 90, seed: int = 0) -> None:
        self.horizon_days = horizon_days
        self.seed = seed

    @staticmethod
    def fittable(churned: np.ndarray) -> bool:
        """Whether there are enough buyers, some who came back and some who did not."""
        y = np.asarray(churned)
        return len(y) >= MIN_CHURN_CUSTOMERS and y.min() != y.max()

    def fit(self, features: pa.Table, churned: np.ndarray) -> ChurnModel:
        """Fit on one row of features per customer and whether each churned.

        A fifth of the customers, drawn at random, is first held back to find how many
        trees help (early stopping) and the operating threshold (best F1 on them); the
        final model is then fitted on every customer with that many trees.
        """
        import lightgbm as lgb
        from sklearn.metrics import precision_recall_curve

        y = np.asarray(churned, dtype=np.int64)
        if not self.fittable(y):
            raise DataError(
                f"A churn model needs at least {MIN_CHURN_CUSTOMERS} buyers, some who came back "
                f"and some who did not; there are {len(y)} ({int(y.sum())} churned)."
            )
        names = numeric_features(features)
        x = matrix(features, names)
        rng = np.random.default_rng(self.seed)
        held = rng.random(len(y)) < 0.2
        if y[held].min() == y[held].max():
            held[:] = False
        params = {
            "objective": "binary", "learning_rate": 0.03, "num_leaves": 7,
            "min_data_in_leaf": 50, "feature_fraction": 0.8, "bagging_fraction": 0.8,
            "bagging_freq": 1, "lambda_l2": 1.0, "seed": self.seed, "verbose": -1,
            "num_threads": 0, "deterministic": True, "force_row_wise": True,
        }  # fmt: skip
        rounds = 150
        if held.any():
            # the carve-out decides how many trees help and where the threshold goes; the
            # final model then learns from every customer with that many trees
            probe = lgb.train(
                params, lgb.Dataset(x[~held], y[~held], feature_name=names),
                num_boost_round=600,
                valid_sets=[lgb.Dataset(x[held], y[held], feature_name=names)],
                callbacks=[lgb.early_stopping(40, verbose=False)],
            )  # fmt: skip
            rounds = max(int(probe.best_iteration), 50)
            p, yy = probe.predict(x[held], num_iteration=rounds), y[held]
        self.booster_ = lgb.train(
            params, lgb.Dataset(x, y, feature_name=names), num_boost_round=rounds
        )
        self.features_ = names
        if not held.any():
            p, yy = self.booster_.predict(x), y
        precision, recall, thresholds = precision_recall_curve(yy, p)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        self.threshold_ = float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5
        self.medians_ = {
            n: float(np.nanmedian(x[:, i])) if np.isfinite(x[:, i]).any() else None
            for i, n in enumerate(names)
        }
        self.customers_ = len(y)
        self.churn_rate_ = float(y.mean())
        return self

    def _check(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError(
                "This ChurnModel is not fitted yet; call fit(...) or ChurnModel.load(...) first."
            )

    def predict_proba(self, features: pa.Table) -> np.ndarray:
        """Probability that each customer buys nothing in the next ``horizon_days`` days."""
        self._check()
        return cast(np.ndarray, self.booster_.predict(self._align(features)))

    def _align(self, features: pa.Table) -> np.ndarray:
        absent = [n for n in self.features_ if n not in features.column_names]
        if absent:
            raise DataError(
                f"The features lack {', '.join(absent[:3])}, which the churn model was trained "
                "on; rebuild (portrait build) so the model is refitted."
            )
        return matrix(features, self.features_)

    def reasons(self, features: pa.Table, top: int = 3) -> list[np.ndarray]:
        """The ``top`` features raising each customer's churn score most, strongest first.

        Returns ``top`` arrays of feature names (None where fewer features raise it).
        """
        self._check()
        contrib = cast(
            np.ndarray, self.booster_.predict(self._align(features), pred_contrib=True)
        )[:, :-1]  # fmt: skip
        order = np.argsort(-contrib, axis=1)[:, :top]
        names = np.array(self.features_, dtype=object)
        out = []
        for k in range(min(top, contrib.shape[1])):
            idx = order[:, k]
            strength = contrib[np.arange(len(idx)), idx]
            out.append(np.where(strength > 0, names[idx], None))  # type: ignore[call-overload]
        return out

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: Path, **meta: Any) -> None:
        self._check()
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "churn.lgb.txt"))
        info = {
            "kind": self.kind, "horizon_days": self.horizon_days, "seed": self.seed,
            "features": self.features_, "threshold": self.threshold_, "medians": self.medians_,
            "customers": self.customers_, "churn_rate": self.churn_rate_, **meta,
        }  # fmt: skip
        (folder / "churn.json").write_text(json.dumps(info, indent=2, default=str), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> ChurnModel:
        import lightgbm as lgb

        path = folder / "churn.json"
        if not path.exists():
            raise NotFittedError(
                f"No churn model is saved in {folder}; run `portrait build` to fit one."
            )
        info = json.loads(path.read_text("utf-8"))
        model = cls(horizon_days=info["horizon_days"], seed=info["seed"])
        model.booster_ = lgb.Booster(model_file=str(folder / "churn.lgb.txt"))
        model.features_ = info["features"]
        model.threshold_ = info["threshold"]
        model.medians_ = info["medians"]
        model.customers_ = info["customers"]
        model.churn_rate_ = info["churn_rate"]
        return model


#: model-based scores added to the features (their words: the ``purchase_score`` labels)
PURCHASE_SCORES: tuple[str, ...] = tuple(LABELS["purchase_score"])


def purchase_scores(summary: pa.Table, horizon_days: int, *, model: str = "bgnbd",
                    unit: str = "days") -> pa.Table:  # fmt: skip
    """``p_alive`` and ``expected_purchases`` in the next ``horizon_days``, per buyer of
    ``summary`` (:func:`portrait.value.summary.rfm_summary` as of the snapshot's date).

    The repeat-purchase model is fitted on the purchases before that date only, so the
    scores can sit beside the features of that date without leaking the label.
    """
    from portrait.value.models import PURCHASE_MODELS
    from portrait.value.summary import UNIT_DAYS

    fitted = PURCHASE_MODELS[model]().fit(*(summary.column(c).to_numpy() for c in SUMMARY))
    return scores_of(fitted, summary, horizon_days / UNIT_DAYS[unit])


SUMMARY = ("frequency", "recency", "T")


def scores_of(fitted: Any, summary: pa.Table, t: float) -> pa.Table:
    """The :data:`PURCHASE_SCORES` of every customer of ``summary`` under a fitted
    repeat-purchase model, ``t`` in its time unit."""
    from portrait.value._base import per_distinct

    cols = [summary.column(c).to_numpy() for c in SUMMARY]
    return pa.table({
        "user_id": summary.column("user_id"),
        "expected_purchases": per_distinct(
            lambda *c: fitted.conditional_expected_purchases(t, *c), *cols
        ),
        "p_alive": per_distinct(fitted.conditional_probability_alive, *cols),
        "p_purchase": per_distinct(lambda *c: fitted.probability_purchase_within(t, *c), *cols),
    })  # fmt: skip


def with_purchase_scores(features: pa.Table, scores: pa.Table) -> pa.Table:
    """The features with the purchase model's scores joined on ``user_id``, by ``user_id``.

    (Arrow's hash join returns rows in no fixed order; sorting keeps every later step, the
    random carve-out included, reproducible.)
    """
    keep = [c for c in features.column_names if c not in PURCHASE_SCORES]
    joined = features.select(keep).join(scores, "user_id", join_type="left outer")
    return joined.sort_by("user_id")


def labelled(
    ws: Workspace, as_of: date, horizon_days: int, *, model: str = "bgnbd", unit: str = "days",
    engine: str | None = None,
) -> pa.Table:  # fmt: skip
    """Buyers' features and purchase scores as of ``as_of``, and ``churned`` after it.

    Above :data:`MAX_TRAIN_CUSTOMERS` buyers, a fixed sample of them (by the MD5 of the id,
    so the same customers every time) keeps the training set in memory.
    """
    from portrait.features import training_set
    from portrait.value.summary import rfm_summary

    summary = rfm_summary(ws, as_of, unit=unit, engine=engine).to_pyarrow()  # type: ignore[arg-type]
    if summary.num_rows == 0:
        return pa.table({"user_id": pa.array([], pa.string()), "churned": pa.array([], pa.bool_())})
    share = min(1.0, MAX_TRAIN_CUSTOMERS / summary.num_rows)
    expr = training_set(ws, as_of, horizon_days=horizon_days, engine=engine, share=share)
    table = expr.to_pyarrow()
    scores = purchase_scores(summary, horizon_days, model=model, unit=unit)
    return with_purchase_scores(table, scores)


def training_snapshots(
    ws: Workspace, last: date, horizon_days: int, *, snapshots: int = SNAPSHOTS,
    model: str = "bgnbd", unit: str = "days", engine: str | None = None,
) -> pa.Table:  # fmt: skip
    """Labelled snapshots as of ``last`` and every :data:`SNAPSHOT_STEP_DAYS` before it.

    One date gives one row per customer, a few thousand in a small shop; stacking a few
    monthly snapshots gives the trees more to learn from and averages out one month's
    peculiarities. Each snapshot's label window ends by ``last + horizon``, before any date
    the model is then tested or used on. Snapshots before the first purchase are skipped.
    """
    return stack_snapshots(
        last, lambda day: labelled(ws, day, horizon_days, model=model, unit=unit, engine=engine),
        snapshots=snapshots,
    )  # fmt: skip


def stack_snapshots(
    last: date, label: Callable[[date], pa.Table], *, snapshots: int = SNAPSHOTS
) -> pa.Table:
    """``label(day)`` as of ``last`` and every :data:`SNAPSHOT_STEP_DAYS` before it, stacked
    with their ``snapshot`` date (on DuckDB and on Spark alike); stops at a date with no
    buyers yet."""
    tables = []
    for k in range(snapshots):
        day = last - timedelta(days=SNAPSHOT_STEP_DAYS * k)
        t = label(day)
        if t.num_rows == 0:
            break  # no buyers yet that early
        tables.append(t.append_column("snapshot", pa.array([day] * t.num_rows, pa.date32())))
    if not tables:
        return pa.table({"user_id": pa.array([], pa.string()), "churned": pa.array([], pa.bool_())})
    names = tables[0].column_names
    return pa.concat_tables([t.select(names) for t in tables])


class CalibrationBin(Fact):
    """Customers in one decile of predicted churn probability."""

    decile: int
    customers: int
    predicted: float
    observed: float


class Driver(Fact):
    """An input of the churn model and its mean absolute contribution to the score."""

    feature: str
    label: Label
    weight: float


class ChurnEvaluation(Fact):
    """Churn model validated on a later date, with its baselines."""

    train_as_of: date
    test_as_of: date
    horizon_days: int
    train_customers: int
    test_customers: int
    test_churn_rate: float
    threshold: float
    #: method -> {"roc_auc", "pr_auc"}; the model also has precision, recall, brier
    metrics: dict[str, dict[str, float]] = {}
    #: reliability: per decile of predicted probability, mean predicted and observed
    calibration: list[CalibrationBin] = []
    #: inputs by mean |contribution| on the test customers, strongest first
    importance: list[Driver] = []

    @property
    def beats_baselines(self) -> bool:
        model = self.metrics["model"]["roc_auc"]
        return all(model > m["roc_auc"] for k, m in self.metrics.items() if k != "model")

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"method": k, **v} for k, v in self.metrics.items()]


def evaluate_churn(
    ws: Workspace,
    test_as_of: str | date | None = None,
    *,
    horizon_days: int = 90,
    purchase_model: str = "bgnbd",
    unit: str = "days",
    seed: int = 0,
    engine: str | None = None,
) -> ChurnEvaluation:
    """Train as of ``test_as_of - horizon`` and test as of ``test_as_of``.

    ``test_as_of`` defaults to the last date whose whole label window is in the data.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    from portrait.asof import default_as_of

    end = default_as_of(ws)
    test_day = (
        end - timedelta(days=horizon_days) if test_as_of is None
        else date.fromisoformat(str(test_as_of))
    )  # fmt: skip
    if test_day + timedelta(days=horizon_days) > end:
        raise DataError(
            f"The label window of {test_day} runs past the data's end ({end}); choose a date "
            f"at least {horizon_days} days earlier."
        )
    train_day = test_day - timedelta(days=horizon_days)
    train = training_snapshots(
        ws, train_day, horizon_days, model=purchase_model, unit=unit, engine=engine
    )
    test = labelled(ws, test_day, horizon_days, model=purchase_model, unit=unit, engine=engine)
    model = ChurnModel(horizon_days=horizon_days, seed=seed).fit(
        train, train.column("churned").to_numpy(zero_copy_only=False)
    )
    y = test.column("churned").to_numpy(zero_copy_only=False).astype(int)
    if len(y) == 0 or y.min() == y.max():
        raise DataError(f"Every test customer as of {test_day} is in one class; pick a date.")
    p = model.predict_proba(test)
    pred = p >= model.threshold_
    metrics = {
        "model": {
            "roc_auc": float(roc_auc_score(y, p)),
            "pr_auc": float(average_precision_score(y, p)),
            "precision": float((y[pred] == 1).mean()) if pred.any() else 0.0,
            "recall": float(pred[y == 1].mean()),
            "brier": float(brier_score_loss(y, p)),
        }
    }
    baselines = {
        "recency": test.column("recency_days"),
        "p_alive": pc.subtract(1.0, test.column("p_alive")),
        "expected": pc.negate(test.column("expected_purchases")),
        "p_purchase": pc.subtract(1.0, test.column("p_purchase")),
    }
    for name, column in baselines.items():
        score = column.to_numpy(zero_copy_only=False).astype(float)
        metrics[name] = {
            "roc_auc": float(roc_auc_score(y, score)),
            "pr_auc": float(average_precision_score(y, score)),
        }
    calibration = []
    edges = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    for b in range(10):
        inside = bins == b
        if inside.any():
            calibration.append(CalibrationBin(decile=b + 1, customers=int(inside.sum()),
                                              predicted=float(p[inside].mean()),
                                              observed=float(y[inside].mean())))  # fmt: skip
    contrib = cast(
        np.ndarray, model.booster_.predict(model._align(test), pred_contrib=True)
    )[:, :-1]  # fmt: skip
    weight = np.abs(contrib).mean(axis=0)
    importance = sorted(zip(model.features_, weight.tolist(), strict=True), key=lambda t: -t[1])
    return ChurnEvaluation(
        train_as_of=train_day, test_as_of=test_day, horizon_days=horizon_days,
        train_customers=model.customers_, test_customers=len(y),
        test_churn_rate=float(y.mean()), threshold=model.threshold_, metrics=metrics,
        calibration=calibration,
        importance=[Driver(feature=n, label=input_label(n), weight=w) for n, w in importance[:10]],
    )  # fmt: skip


def input_label(name: str) -> Label:
    """What an input of the churn model means: a feature, or a purchase-model score."""
    if name in PURCHASE_SCORES:
        return LABELS["purchase_score"][name]
    feature = FEATURES.get(name)
    return feature.label if feature else Label(en=name, zh=name)
