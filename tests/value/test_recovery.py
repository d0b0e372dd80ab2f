"""Parameter recovery: a shop generated from BG/NBD with known parameters fits back to them."""

from __future__ import annotations

from datetime import date

import pytest

from portrait import init_workspace
from portrait.datasets.generator import generate_shop
from portrait.ingest import ingest
from portrait.value import BetaGeoModel, rfm_summary

TRUTH = {"r": 0.5, "alpha": 40.0, "a": 0.8, "b": 2.5}


@pytest.mark.slow
def test_fitted_parameters_are_within_ten_percent_of_the_planted_ones(tmp_path):
    generate_shop(
        tmp_path / "shop", users=50_000, seed=3, tables=["orders"], days=730,
        start="2023-01-01", bgnbd=tuple(TRUTH.values()),
    )  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    report = ingest(ws, tmp_path / "shop" / "orders.parquet", table="orders")
    assert report.rejected == 0
    summary = rfm_summary(ws, date(2025, 1, 1)).to_pyarrow()
    assert summary.num_rows == 50_000  # every customer buys at least once
    model = BetaGeoModel().fit(
        *(summary.column(c).to_numpy() for c in ("frequency", "recency", "T"))
    )
    for name, true in TRUTH.items():
        assert model.params_[name] == pytest.approx(true, rel=0.10), name
    ws.close()
