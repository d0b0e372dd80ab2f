"""RFM, lifecycle and clusters: scores mean what they say, on real data and on data with
planted structure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from portrait.labels import LABELS
from portrait.pipeline import build
from portrait.segments import SEGMENTS, cluster_customers, segment_report

from support import copy_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def segmented(retail_ws, tmp_path_factory):
    ws = copy_workspace(retail_ws, tmp_path_factory.mktemp("segments"))
    build(ws, stages=["features", "segments"])
    seg = ws.table("segments").to_pandas().set_index("user_id")
    f = ws.table("features").to_pandas().set_index("user_id").loc[seg.index]
    yield ws, seg, f
    ws.close()


def test_the_segment_map_covers_every_score_pair_once():
    for r in range(1, 6):
        for fm in range(1, 6):
            hits = [n for n, rr, ff in SEGMENTS if rr[0] <= r <= rr[1] and ff[0] <= fm <= ff[1]]
            assert len(hits) == 1, (r, fm, hits)
    # and every segment has its name in both languages
    assert {n for n, _, _ in SEGMENTS} == set(LABELS["rfm_segment"])


def test_rfm_scores_follow_the_values(segmented):
    _, seg, f = segmented
    scored = seg.r_score.notna()
    assert scored.sum() == (f.frequency > 0).sum()
    for col in ("r_score", "f_score", "m_score"):
        assert set(seg.loc[scored, col].astype(int)) == {1, 2, 3, 4, 5}
    # more recent customers never score lower on R; bigger buyers never lower on F and M
    by_r = f[scored].assign(r=seg.r_score).groupby("r").recency_days
    assert (by_r.max().diff().dropna() <= 0).all()
    by_f = f[scored].assign(s=seg.f_score).groupby("s").frequency
    assert (by_f.min().diff().dropna() >= 0).all()
    # one-order customers tie, so they share one F score
    assert seg.f_score[f.frequency == 1].nunique() == 1


def test_champions_are_worth_more_than_hibernating_customers(segmented):
    ws, seg, f = segmented
    money = f.monetary.groupby(seg.rfm_segment).mean()
    assert money["Champions"] > 5 * money["Hibernating"]
    report = segment_report(ws)
    table = {s.segment: s for s in report.rfm_segment}
    assert sum(s.customers for s in table.values()) == seg.rfm_segment.notna().sum()
    assert table["Champions"].value_share > table["Champions"].share
    assert table["Champions"].label.zh == "重要价值客户"
    clusters = {s.segment: s for s in report.cluster}
    assert sum(s.customers for s in clusters.values()) == len(seg)


def test_lifecycle_stages_follow_their_thresholds(segmented):
    _, seg, f = segmented
    stage = seg.lifecycle_stage
    assert (stage[f.frequency == 0] == "prospect").all()
    assert (f.recency_days[stage == "churned"] > 180).all()
    assert f.recency_days[stage == "silent"].between(90, 180).all()
    assert (f.days_since_first_purchase[stage == "new"] < 30).all()
    won = stage == "won_back"
    assert won.sum() > 0 and (f.last_gap_days[won] > 180).all() and (f.recency_days[won] < 90).all()


def test_clusters_find_planted_groups():
    rng = np.random.default_rng(0)
    centres = {"frequency": (1, 12, 40), "monetary": (50, 800, 9000), "recency_days": (300, 60, 5)}
    group = rng.integers(0, 3, 3000)
    table = pa.table(
        {
            name: np.abs(np.array(c)[group] * rng.lognormal(0, 0.15, len(group)))
            for name, c in centres.items()
        }
    )
    result = cluster_customers(table, max_clusters=6)
    assert result.k == 3
    assert max(result.silhouettes, key=result.silhouettes.get) == 3
    # each planted group lands in one cluster
    for g in range(3):
        labels = result.labels[group == g]
        assert np.bincount(labels).max() / len(labels) > 0.98
    assert sum(p.size for p in result.profiles) == 3000
    assert abs(sum(p.value_share for p in result.profiles) - 1) < 1e-9


def test_clusters_on_real_data_are_described(segmented):
    ws, seg, _ = segmented
    profiles = ws.table("cluster_profiles").to_pyarrow().to_pylist()
    assert len(profiles) == profiles[0]["k"] >= 2
    assert sum(p["size"] for p in profiles) == len(seg)
    assert all(p["name"] and p["name_zh"] for p in profiles)
    assert set(seg.cluster) == set(range(len(profiles)))
