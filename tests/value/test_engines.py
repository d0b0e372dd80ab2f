"""The value models' input is the same on DuckDB and on Spark, on real data."""

from __future__ import annotations

import math
from datetime import date

import pytest

from portrait.value import rfm_summary

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def test_rfm_summary_is_identical_on_duckdb_and_spark(retail_ws):
    args = (retail_ws, date(2011, 7, 1))
    kwargs = {"holdout_end": date(2011, 12, 10)}
    duck = rfm_summary(*args, **kwargs, engine="duckdb").to_pyarrow().sort_by("user_id")
    spark = rfm_summary(*args, **kwargs, engine="spark").to_pyarrow().sort_by("user_id")
    assert duck.num_rows == spark.num_rows > 2_900
    for name in duck.column_names:
        for d, s in zip(duck.column(name).to_pylist(), spark.column(name).to_pylist(),
                        strict=True):  # fmt: skip
            if isinstance(d, float) and isinstance(s, float):
                assert math.isclose(d, s, rel_tol=1e-9), name
            else:
                assert d == s, (name, d, s)
