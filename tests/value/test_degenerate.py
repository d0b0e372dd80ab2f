"""Purchase models that say when they do not fit: the boundary note's direction, and a shop
where nearly everyone buys once (issue 11, seen problem 7)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from portrait import init_workspace, open_workspace
from portrait.ingest import ingest
from portrait.pipeline import build
from portrait.runs import last_run
from portrait.value import BetaGeoModel, ModifiedBetaGeoModel, load_models, rfm_summary
from portrait.value.build import _no_churn_model
from portrait.value.models import choose_purchase_model

AS_OF = date(2024, 1, 1)
HOLDOUT_DAYS = 180


def _purchases(
    seed: int, n: int, r: float, alpha: float, a: float, b: float, *, first_only: bool = True,
    days: float = 365.0, holdout: float = HOLDOUT_DAYS,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(customer, day) of every purchase: rate ~ Gamma(r, alpha) per day, drop-out chance
    p ~ Beta(a, b) after each purchase, the first one too when ``first_only`` (MBG/NBD's
    story, Batislam et al. 2007) and only after repeat purchases otherwise (BG/NBD's)."""
    rng = np.random.default_rng(seed)
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    first = rng.random(n) * days
    users, times = [], []
    for i in range(n):
        t = first[i]
        users.append(i), times.append(t)
        if first_only and rng.random() < p[i]:
            continue
        while True:
            t += rng.exponential(1 / lam[i])
            if t >= days + holdout:
                break
            users.append(i), times.append(t)
            if rng.random() < p[i]:
                break
    return np.array(users), np.array(times)


def _summary(users: np.ndarray, times: np.ndarray, days: float = 365.0) -> tuple[np.ndarray, ...]:
    """(frequency, recency, T, bought in the holdout) per customer, in days (not per day)."""
    x, tx, big_t, later = [], [], [], []
    for u in np.unique(users):
        ts = np.sort(times[users == u])
        before = ts[ts < days]
        x.append(len(before) - 1), tx.append(before[-1] - before[0])
        big_t.append(days - before[0]), later.append(bool((ts >= days).any()))
    return np.array(x, float), np.array(tx), np.array(big_t), np.array(later)


@pytest.fixture(scope="module")
def one_time_shop(tmp_path_factory):
    """A shop where 99% of 10,000 customers buy once: most leave right after their first
    purchase (mean drop-out chance 98.5%), the few who stay buy about monthly."""
    users, times = _purchases(0, 10_000, 1.0, 30.0, 1.0, 0.015)
    folder = tmp_path_factory.mktemp("one_time")
    start = datetime(2023, 1, 1)
    rng = np.random.default_rng(1)
    pq.write_table(pa.table({
        "order_id": [f"O{k}" for k in range(len(users))],
        "user_id": [f"U{u}" for u in users],
        "ts": pa.array([start + timedelta(days=float(d)) for d in times], pa.timestamp("s")),
        "status": ["completed"] * len(users),
        "amount": np.round(rng.gamma(2.0, 20.0, len(users)), 2),
    }), folder / "orders.parquet")  # fmt: skip
    ws = init_workspace(folder / "ws")
    assert ingest(ws, folder / "orders.parquet", table="orders").rejected == 0
    result = build(ws, AS_OF, stages=["features", "value"])
    ws.close()
    with open_workspace(folder / "ws") as ws:
        yield ws, result


def test_the_boundary_note_states_the_direction_of_the_fit():
    # the shop: a = 11,670, b = 0.0001 means everyone leaves after a purchase
    leaving = BetaGeoModel()
    leaving.params_ = {"r": 0.5, "alpha": 10.0, "a": 11_670.0, "b": 1e-4}
    note = leaving._boundary_note()
    assert note.code == "dropout_after_purchase"
    assert "leave after each purchase" in note.label.en and "100%" in note.label.en
    assert "11670" in note.label.en and "流失" in note.label.zh
    # Online Retail's: a -> 0 means nobody does
    staying = BetaGeoModel()
    staying.params_ = {"r": 0.8, "alpha": 71.0, "a": 1e-4, "b": 137.5}
    assert staying._boundary_note().code == "no_dropout"
    assert "stay" in staying._boundary_note().label.en


def test_a_fit_that_hits_the_bound_says_which_way_it_went():
    # BG/NBD's own story with drop-out after nearly every repeat purchase
    x, tx, big_t, _ = _summary(*_purchases(3, 3_000, 2.0, 20.0, 50.0, 1e-3, first_only=False))
    model = BetaGeoModel().fit(x, tx, big_t)
    codes = [n.code for n in model.warnings_]
    assert model.mean_dropout() > 0.9
    assert "no_dropout" not in codes
    if model._at_bounds():
        assert "dropout_after_purchase" in codes


def test_p_alive_is_left_empty_when_no_model_fits_better():
    # purchases from BG/NBD itself, with drop-out after most repeat purchases: BG/NBD is
    # right, so MBG/NBD does not fit better, and its P(alive) ranks backwards anyway
    x, tx, big_t, _ = _summary(*_purchases(0, 10_000, 0.5, 20.0, 5.0, 0.2, first_only=False))
    choice = choose_purchase_model(x, tx, big_t)
    assert choice.model.kind == "bgnbd" and not choice.p_alive
    note = choice.notes[-1]
    assert note.code == "p_alive_withheld" and note.values["alive"] < 0.5
    assert "P(alive) is left empty" in note.label.en and "留空" in note.label.zh


def test_a_model_that_fits_is_kept():
    # BG/NBD's own story with moderate drop-out: about half of the customers who came back
    # are predicted gone, which is true here, and the fit is not extreme
    x, tx, big_t, _ = _summary(*_purchases(0, 3_000, 0.5, 20.0, 0.8, 2.5, first_only=False))
    choice = choose_purchase_model(x, tx, big_t, configured="bgnbd")
    assert choice.model.kind == "bgnbd" and choice.p_alive
    assert not any(n.code in {"purchase_model_switched", "p_alive_withheld"}
                   for n in choice.notes)  # fmt: skip
    # MBG/NBD lets one-time buyers leave, so it never degenerates this way
    assert not ModifiedBetaGeoModel().fit(x, tx, big_t).leaves_after_purchase(x, tx, big_t)


def test_p_alive_on_a_shop_where_nearly_everyone_buys_once(one_time_shop):
    ws, result = one_time_shop
    s = rfm_summary(ws, AS_OF, holdout_end=AS_OF + timedelta(days=HOLDOUT_DAYS)).to_pandas()
    assert (s.frequency == 0).mean() > 0.985
    came = s.holdout_purchases.to_numpy() > 0
    assert came.sum() >= 30
    args = (s.frequency, s.recency, s["T"])
    # what the issue saw: BG/NBD gives every one-time buyer P(alive) = 1, the customers who
    # came back P(alive) near 0, and ranks them worse than recency does
    bgnbd = BetaGeoModel().fit(*args)
    assert bgnbd.leaves_after_purchase(*args)
    recency_auc = roc_auc_score(came, -(s["T"] - s.recency))
    assert roc_auc_score(came, bgnbd.conditional_probability_alive(*args)) < recency_auc
    # the value stage says so and uses MBG/NBD, which fits these purchases better
    notes = {n.code: n for n in result.notes}
    switched = notes["purchase_model_switched"]
    assert switched.values["configured"] == "bgnbd" and switched.values["chosen"] == "mbgnbd"
    assert switched.values["chosen_ll"] > switched.values["configured_ll"]
    assert "no_dropout" not in notes  # the direction is not misreported
    assert "no_amounts" not in notes  # 99% one-time buyers still have amounts
    saved = load_models(ws)
    assert saved.purchase.kind == "mbgnbd"
    assert saved.meta["purchase"]["configured_model"] == "bgnbd"
    run = last_run(ws, "value")
    assert run is not None and run.params["purchase_model"] == "mbgnbd"
    assert run.params["configured_purchase_model"] == "bgnbd"
    # and its P(alive) predicts who buys in the holdout at least as well as recency alone
    value = ws.table("value").to_pandas().set_index("user_id").loc[s.user_id]
    assert value.p_alive.notna().all()
    assert roc_auc_score(came, value.p_alive) >= recency_auc
    # the customers who came back are no longer ranked below every one-time buyer
    repeat = s.frequency.to_numpy() > 0
    assert value.p_alive[repeat].mean() > value.p_alive[~repeat].mean()


def test_the_configured_model_is_kept_on_online_retail(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        saved = load_models(ws)
    assert saved.purchase.kind == "bgnbd"
    assert saved.meta["purchase"]["configured_model"] == "bgnbd"
    assert not saved.meta["purchase"]["p_alive_withheld"]
    assert not {"purchase_model_switched", "p_alive_withheld"} & {n.code for n in saved.notes}


def test_no_churn_model_counts_customers_not_snapshot_rows():
    users = [f"U{k}" for k in range(20)] * 3  # three monthly snapshots of 20 customers
    churned = [k % 2 == 0 for k in range(20)] * 3
    note = _no_churn_model(pa.table({"user_id": users, "churned": churned}))
    assert note.values["customers"] == 20 and note.values["churned"] == 10
    assert "there are 20, 10 churned" in note.label.en
