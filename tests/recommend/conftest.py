"""MovieLens 100K as interaction logs, read once (the field's standard benchmark data)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from support import data_file


@pytest.fixture(scope="session")
def movielens_log() -> pa.Table:
    """Every rating as an interaction: user_id, item_id, ts, kind, weight 1, rating."""
    t = pacsv.read_csv(
        data_file("movielens_100k/u.data"),
        read_options=pacsv.ReadOptions(column_names=["user", "item", "rating", "epoch"]),
        parse_options=pacsv.ParseOptions(delimiter="\t"),
    )
    n = t.num_rows
    return pa.table({
        "user_id": t.column("user").cast(pa.string()),
        "item_id": t.column("item").cast(pa.string()),
        "ts": t.column("epoch").cast(pa.timestamp("s")).cast(pa.timestamp("us")),
        "kind": pa.array(["review"] * n),
        "weight": pa.array([1.0] * n),
        "rating": t.column("rating").cast(pa.float64()),
    })  # fmt: skip
