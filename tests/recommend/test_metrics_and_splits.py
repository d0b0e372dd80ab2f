"""Splits and ranking metrics, checked against hand computations."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp

from portrait.recommend import ranking_metrics, split_random, split_time


def test_ranking_metrics_match_a_hand_computation():
    # user 0 has test items {1, 4}: hits at ranks 2 and 3; user 1 has {0}: no hit in top 3
    recommended = np.array([[3, 1, 4], [2, 3, 1]])
    truth = sp.csr_matrix(([1, 1, 1], ([0, 0, 1], [1, 4, 0])), shape=(2, 5))
    popularity = np.array([4, 3, 2, 1, 0])
    m = ranking_metrics(recommended, truth, popularity, n_users=4, ks=(3,))
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@3"] == pytest.approx((dcg / idcg + 0) / 2)
    assert m["recall@3"] == pytest.approx((2 / 2 + 0 / 1) / 2)
    assert m["mrr@3"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["coverage@3"] == pytest.approx(4 / 5)  # items 1, 2, 3, 4
    info = -np.log2((popularity + 1) / 5)
    assert m["novelty@3"] == pytest.approx(info[recommended].mean())


def test_per_user_random_split_holds_out_a_fifth_of_each_user(movielens_log):
    train, test = split_random(movielens_log, seed=42)
    assert train.num_rows + test.num_rows == movielens_log.num_rows
    again_train, again_test = split_random(movielens_log, seed=42)
    assert again_test.equals(test)  # seeded
    users = movielens_log.column("user_id").to_numpy(zero_copy_only=False)
    per_user = dict(zip(*np.unique(users, return_counts=True), strict=True))
    held = dict(zip(*np.unique(test.column("user_id").to_numpy(zero_copy_only=False),
                               return_counts=True), strict=True))  # fmt: skip
    for user, n in per_user.items():
        assert held.get(user, 0) == round(n * 0.2), user
    _, other = split_random(movielens_log, seed=7)
    assert not other.equals(test)


def test_time_split_puts_everything_before_the_date_in_training(movielens_log):
    at = datetime(1998, 3, 1)
    train, test = split_time(movielens_log, at)
    assert train.num_rows + test.num_rows == movielens_log.num_rows
    assert pc.max(train.column("ts")).as_py() < at <= pc.min(test.column("ts")).as_py()
