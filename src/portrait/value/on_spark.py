"""The value stage on Spark: models fitted on the driver from bounded inputs, every buyer
scored on the executors.

What comes to the driver, and why it is bounded:

- the repeat-purchase models (BG/NBD, MBG/NBD) are fitted on the distinct (frequency,
  recency, T) triples with their counts, which Spark groups: a summary by day has at most
  a few hundred thousand of them whatever the number of customers (the triples are
  spread back by their counts on the driver for the fit, 24 bytes a buyer, because
  :meth:`~portrait.value._purchase.PurchaseModel.fit` takes one row per customer);
- Gamma-Gamma's likelihood has log(x·m + v) per customer, which no per-x sums reduce, so
  it is fitted on the repeat buyers' (x, m) themselves, a fixed sample of
  :data:`MAX_SPEND_CUSTOMERS` of them (by the MD5 of the id) above that;
- the churn model's training snapshots are the bounded sample the DuckDB path takes
  (:data:`portrait.value.churn.MAX_TRAIN_CUSTOMERS` per snapshot, by the MD5 of the id,
  which both engines compute alike), each with the purchase model of its date fitted on
  that date's triples.

Every buyer is then scored in ``mapInArrow`` (:func:`portrait.spark.map_arrow`) with the
fitted models broadcast: P(alive), expected purchases, CLV, the churn probability and its
top three reasons (LightGBM's own TreeSHAP contributions), by the same functions as the
DuckDB path, so a customer's numbers are the same on both engines. The value tiers need
ranks, which Spark gives as quantiles (:data:`TIER_ERROR`); the table is written as a Spark
table. The fitted models are saved as the DuckDB path saves them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from portrait import spark
from portrait.engine import Engine
from portrait.facts import Note
from portrait.features import training_set
from portrait.features.training import in_sample
from portrait.schema import OUTPUTS
from portrait.value import churn as churn_module
from portrait.value._base import per_distinct
from portrait.value.build import (
    _TIER_SHARES,
    ValueResult,
    _empty,
    _no_churn_model,
    purchase_columns,
    risk_band,
    save_models,
)
from portrait.value.churn import (
    PURCHASE_SCORES,
    SUMMARY,
    ChurnModel,
    scores_of,
    stack_snapshots,
    with_purchase_scores,
)
from portrait.value.clv import customer_lifetime_value
from portrait.value.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from portrait.value.models import PURCHASE_MODELS, choose_purchase_model
from portrait.value.summary import UNIT_DAYS, TimeUnit, rfm_summary

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.value._purchase import PurchaseModel
    from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: repeat buyers above which Gamma-Gamma is fitted on a fixed sample of them
MAX_SPEND_CUSTOMERS = 200_000
#: relative rank error of the value tiers' edges (Spark's ``approxQuantile``): a customer's
#: tier can differ from the exact ranking only within this share of all buyers of an edge
#: (none in a shop of under 5,000 buyers); and customers tied at an edge all take the upper
#: tier, where the DuckDB path splits a tie by row order
TIER_ERROR = 1e-4
#: the summary's columns under the names the scoring reads (``frequency`` is also a feature)
_X, _TX, _T, _M = "_x", "_tx", "_T", "_m"


def triples(summary: Any) -> pa.Table:
    """The distinct (frequency, recency, T) of a Spark summary, with their counts ``n``."""
    return summary.groupBy(*SUMMARY).count().withColumnRenamed("count", "n").toArrow()


def spread(distinct: pa.Table) -> tuple[np.ndarray, ...]:
    """(frequency, recency, T) with each distinct triple repeated its count of times."""
    counts = distinct.column("n").to_numpy()
    return tuple(
        np.repeat(distinct.column(c).to_numpy().astype(np.float64), counts) for c in SUMMARY
    )


def _renamed(summary: Any) -> Any:
    from pyspark.sql import functions as F

    return summary.select("user_id", *[F.col(c).alias(a) for c, a in zip(SUMMARY, (_X, _TX, _T),
                                                                         strict=True)])  # fmt: skip


def _as_summary(rows: pa.Table) -> pa.Table:
    """The renamed summary columns of ``rows`` back under their own names."""
    renamed = {c: rows.column(a) for c, a in zip(SUMMARY, (_X, _TX, _T), strict=True)}
    return pa.table({"user_id": rows.column("user_id"), **renamed})


# -- the churn model's training data ------------------------------------------------------------
def labelled(
    ws: Workspace, as_of: date, horizon_days: int, *, model: str, unit: TimeUnit
) -> pa.Table:
    """:func:`portrait.value.churn.labelled` on Spark: only the sampled buyers' rows and the
    date's distinct triples come to the driver."""
    summary = spark.dataframe(rfm_summary(ws, as_of, unit=unit, engine=Engine.SPARK))
    with spark.scratch(ws, _renamed(summary), "snapshot") as snapshot:
        distinct = snapshot.groupBy(_X, _TX, _T).count().withColumnRenamed("count", "n")
        distinct = distinct.toArrow().rename_columns([*SUMMARY, "n"])
        buyers = int(np.sum(distinct.column("n").to_numpy()))
        if buyers == 0:
            return pa.table({"user_id": pa.array([], pa.string()),
                             "churned": pa.array([], pa.bool_())})  # fmt: skip
        share = min(1.0, churn_module.MAX_TRAIN_CUSTOMERS / buyers)
        expr = training_set(ws, as_of, horizon_days=horizon_days, engine=Engine.SPARK,
                            share=share)  # fmt: skip
        rows = spark.dataframe(expr).join(snapshot, "user_id", "left").toArrow()
    fitted = PURCHASE_MODELS[model]().fit(*spread(distinct))
    known = rows.filter(rows.column(_X).is_valid())
    scores = scores_of(fitted, _as_summary(known), horizon_days / UNIT_DAYS[unit])
    return with_purchase_scores(rows.drop_columns([_X, _TX, _T]), scores)


def training_snapshots(
    ws: Workspace, last: date, horizon_days: int, *, model: str, unit: TimeUnit
) -> pa.Table:
    """:func:`portrait.value.churn.training_snapshots` on Spark, snapshot by snapshot."""
    return stack_snapshots(
        last, lambda day: labelled(ws, day, horizon_days, model=model, unit=unit)
    )


# -- scoring on the executors -------------------------------------------------------------------
@dataclass
class Scorer:
    """Everything a batch of buyers is scored with: broadcast once, applied per batch."""

    purchase: PurchaseModel
    p_alive: bool
    spend: GammaGammaModel | None
    churn: ChurnModel | None
    unit_days: int
    horizon_days: int
    clv_months: int
    discount_rate: float

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The ``value`` columns of a batch of buyers (their summary as ``_x``, ``_tx``,
        ``_T``, ``_m`` beside their features), and ``_tier``, what the tiers rank."""
        model, step = self.purchase, self.unit_days
        x, tx, t = (batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                    for c in (_X, _TX, _T))  # fmt: skip
        n = len(x)
        cols: dict[str, Any] = {"user_id": batch.column("user_id")}
        cols |= purchase_columns(model, x, tx, t, step, p_alive=self.p_alive)
        if self.spend is not None:
            money = np.nan_to_num(
                batch.column(_M).to_numpy(zero_copy_only=False).astype(np.float64)
            )
            spend = self.spend.conditional_expected_average_profit(x, money)
            cols["expected_spend"] = spend
            cols["clv"] = customer_lifetime_value(
                model, x, tx, t, spend, months=self.clv_months, discount_rate=self.discount_rate,
                unit_days=step,
            )  # fmt: skip
            cols["_tier"] = np.nan_to_num(cols["clv"])
        else:
            cols["expected_spend"] = np.full(n, np.nan)
            cols["clv"] = np.full(n, np.nan)
            cols["_tier"] = cols["expected_purchases_365d"]
        horizon = self.horizon_days / step
        if self.churn is None:
            p_buy = per_distinct(
                lambda a, b, c: model.probability_purchase_within(horizon, a, b, c), x, tx, t
            )
            cols["churn_probability"] = 1.0 - p_buy
            cols["churn_model"] = np.full(n, model.kind, dtype=object)
            reasons: list[np.ndarray] = [np.full(n, None, dtype=object)] * 3
        else:
            summary = pa.table({"user_id": batch.column("user_id"), "frequency": x,
                                "recency": tx, "T": t})  # fmt: skip
            scores = scores_of(model, summary, horizon)
            features = batch.drop_columns([_X, _TX, _T, _M])
            features = features.select([c for c in features.column_names
                                        if c not in PURCHASE_SCORES])  # fmt: skip
            for name in PURCHASE_SCORES:
                features = features.append_column(name, scores.column(name))
            cols["churn_probability"] = self.churn.predict_proba(features)
            cols["churn_model"] = np.full(n, "lightgbm", dtype=object)
            reasons = self.churn.reasons(features)
        cols["churn_risk"] = risk_band(cols["churn_probability"])
        for k in (1, 2, 3):
            cols[f"churn_reason_{k}"] = reasons[k - 1] if k <= len(reasons) else None
        return pa.table({
            k: pa.array(v, from_pandas=True) if isinstance(v, np.ndarray)
            else pa.nulls(n, pa.string()) if v is None else v
            for k, v in cols.items()
        })  # fmt: skip


_DDL = (
    ", ".join(
        f"{c.name} {'string' if c.kind in ('id', 'string') else 'double'}"
        for c in OUTPUTS["value"].columns
        if c.name != "value_tier"
    )
    + ", _tier double"
)


def score_buyers(ws: Workspace, summary: Any, features: Any, scorer: Scorer) -> Any:
    """Every buyer of a Spark RFM summary scored on the executors with ``scorer``
    broadcast: the ``value`` columns but the tier, and ``_tier``, what the tiers rank.
    ``features`` (a Spark table with ``user_id``) is read for the churn model's inputs."""
    from pyspark.sql import functions as F

    renamed = zip((*SUMMARY, "monetary_value"), (_X, _TX, _T, _M), strict=True)
    buyers = summary.select("user_id", *[F.col(c).alias(a) for c, a in renamed])
    if scorer.churn is not None:
        wanted = [c for c in scorer.churn.features_ if c not in PURCHASE_SCORES]
        buyers = buyers.join(features.select("user_id", *wanted), "user_id", "left")
    shared = spark.broadcast(ws, scorer)
    return spark.map_arrow(buyers, lambda batch: shared.value(batch), _DDL)


def build_value_on_spark(ws: Workspace, as_of: date) -> ValueResult:
    """:func:`portrait.value.build_value` on Spark; writes ``value`` as a Spark table."""
    from pyspark.sql import functions as F

    cfg = ws.config.value
    step = UNIT_DAYS[cfg.time_unit]
    expr = rfm_summary(ws, as_of, unit=cfg.time_unit, engine=Engine.SPARK)
    with spark.scratch(ws, expr, "summary") as summary:
        distinct = triples(summary)
        n = int(np.sum(distinct.column("n").to_numpy()))
        result = ValueResult(customers=n)
        if n < 10:
            result.notes.append(Note.of("few_buyers", customers=n, as_of=str(as_of)))
            ws.replace_table("value", _empty())
            return result
        x, tx, t = spread(distinct)
        choice = choose_purchase_model(x, tx, t, configured=cfg.model, penalizer=cfg.penalizer)
        model = result.purchase_model = choice.model
        result.configured_model, result.p_alive_withheld = cfg.model, not choice.p_alive
        result.notes += choice.notes
        del x, tx, t
        spend_model = _spend_model(summary, expr, cfg.penalizer, result)
        churn = _churn_model(ws, as_of, model, result)
        scorer = Scorer(model, choice.p_alive, spend_model, churn, step,
                        cfg.churn_horizon_days, cfg.clv_months, cfg.discount_rate)  # fmt: skip
        features = None
        if churn is not None:
            features = spark.dataframe(ws.output("features", Engine.SPARK))
        scored = score_buyers(ws, summary, features, scorer)
        with spark.scratch(ws, scored, "value") as scored:
            edges = [tier_edge(n, share) for share in _TIER_SHARES]
            high, medium = scored.approxQuantile("_tier", edges, TIER_ERROR)
            tier = (F.when(F.col("_tier") >= high, "high")
                    .when(F.col("_tier") >= medium, "medium").otherwise("low"))  # fmt: skip
            ws.replace_table("value", scored.withColumn("value_tier", tier)
                             .select(*OUTPUTS["value"].names))  # fmt: skip
        dates = summary.agg(F.min("first_purchase").alias("first"),
                            F.max("last_purchase").alias("last")).collect()[0]  # fmt: skip
    save_models(ws, result, as_of, pa.table({
        "first_purchase": pa.repeat(pa.scalar(dates["first"], pa.int64()), n),
        "last_purchase": pa.repeat(pa.scalar(dates["last"], pa.int64()), n),
    }))  # fmt: skip
    return result


def tier_edge(n: int, share: float) -> float:
    """The quantile (a probability) of the lowest score among the top ``share`` of ``n``
    buyers, counted as the DuckDB path counts them (the rank ``p`` from the top is in when
    ``p / n < share``), so that ``score >= edge`` selects exactly them barring ties."""
    top = int(np.ceil(share * n))
    while top > 0 and (top - 1) / n >= share:
        top -= 1
    while top / n < share:
        top += 1
    rank = n - min(max(top, 1), n) + 1  # the lowest of them, counted from the bottom
    return (rank - 0.5) / n  # Spark's quantile p is the value of rank ceil(p * n)


def _spend_model(
    summary: Any, expr: ir.Table, penalizer: float, result: ValueResult
) -> GammaGammaModel | None:
    """Gamma-Gamma on the repeat buyers with a positive mean amount (a sample of them above
    :data:`MAX_SPEND_CUSTOMERS`), with the DuckDB path's checks and notes; ``summary`` is
    the computed summary, ``expr`` its query (which samples)."""
    from pyspark.sql import functions as F

    spend = F.col("spend")
    money = F.col("monetary_value")
    counts = summary.agg(
        F.count(F.when(spend.isNotNull() & ~F.isnan(spend), 1)).alias("spent"),
        F.count(F.when((F.col("frequency") > 0) & (money > 0) & ~F.isnan(money), 1)).alias("rep"),
    ).collect()[0]
    if counts["spent"] < 2:  # not the repeat purchases' mean: one-time buyers have none
        result.notes.append(Note.of("no_amounts"))
        return None
    if counts["rep"] < 2:
        result.notes.append(Note.of("no_spend_model"))
        return None
    repeat = summary.filter((F.col("frequency") > 0) & (money > 0) & ~F.isnan(money))
    if counts["rep"] > MAX_SPEND_CUSTOMERS:
        share = MAX_SPEND_CUSTOMERS / counts["rep"]
        repeat = spark.dataframe(expr.filter(in_sample(expr.user_id, share))).filter(
            (F.col("frequency") > 0) & (money > 0) & ~F.isnan(money)
        )
    rows = repeat.select("frequency", "monetary_value").toArrow()
    x = rows.column("frequency").to_numpy().astype(np.float64)
    m = rows.column("monetary_value").to_numpy().astype(np.float64)
    model = GammaGammaModel(penalizer=penalizer).fit(x, m)
    result.spend_model = model
    result.notes += model.warnings_
    rho = frequency_spend_correlation(x, m)
    if abs(rho) > 0.3:
        result.notes.append(Note.of("spend_correlated", correlation=float(rho)))
    return model


def _churn_model(
    ws: Workspace, as_of: date, model: PurchaseModel, result: ValueResult
) -> ChurnModel | None:
    """The churn model fitted on the driver from the sampled snapshots, or None (with the
    note why) when they cannot train one."""
    cfg = ws.config.value
    horizon = cfg.churn_horizon_days
    train = training_snapshots(ws, as_of - timedelta(days=horizon), horizon, model=model.kind,
                               unit=cfg.time_unit)  # fmt: skip
    churned = train.column("churned").to_numpy(zero_copy_only=False)
    if not ChurnModel.fittable(churned):
        result.notes.append(_no_churn_model(train))
        return None
    churn = ChurnModel(horizon_days=horizon, seed=ws.config.segments.seed).fit(train, churned)
    result.churn_model = churn
    return churn
