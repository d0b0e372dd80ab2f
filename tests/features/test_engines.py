"""The same feature definitions give the same numbers on DuckDB and on Spark, on real data."""

from __future__ import annotations

import math

import pytest

from portrait.features import FEATURES, compute_features

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def _rows(ws, engine):
    fs = compute_features(ws, engine=engine)
    table = fs.table.to_pyarrow().sort_by("user_id")
    return fs, table.to_pylist()


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("dataset", ["retail_ws", "taobao_ws"])
def test_every_feature_is_identical_on_duckdb_and_spark(dataset, request):
    ws = request.getfixturevalue(dataset)
    duck_fs, duck = _rows(ws, "duckdb")
    spark_fs, spark = _rows(ws, "spark")
    assert spark_fs.as_of.date == duck_fs.as_of.date
    assert spark_fs.missing == duck_fs.missing
    assert [r["user_id"] for r in duck] == [r["user_id"] for r in spark]
    assert len(duck) > 800
    computed = [n for n in FEATURES if n not in duck_fs.missing]
    assert len(computed) >= 20
    for name in computed:
        differ = [
            (d["user_id"], d[name], s[name])
            for d, s in zip(duck, spark, strict=True)
            if not _same(d[name], s[name])
        ]
        assert not differ, f"{name} differs for {len(differ)} customers, e.g. {differ[:3]}"
        assert any(d[name] is not None for d in duck), f"{name} is null for everyone"
