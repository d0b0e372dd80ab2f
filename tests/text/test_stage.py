"""The text stage writes one sentiment row per review; `portrait reviews` shows them."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from portrait.engine import Engine
from portrait.ingest import ingest
from portrait.stages import StageParams
from portrait.text import ReviewSummary, build_text, review_summary
from portrait.text.stage import detect_languages

from support import run_cli

TEXTS = [
    ("物流很快，质量不错，下次还来", 5),
    ("质量太差了，用了两天就坏了", 1),
    ("包装破损，客服也不理人，失望", 1),
    ("衣服很漂亮，尺码合适，好评", 5),
    ("Love it, works great and the sound is amazing", 5),
    ("Stopped working after a week. Terrible.", 1),
    ("", 3),  # a rating with no text: a row, with no score
]


@pytest.fixture
def reviewed_ws(ws, tmp_path):
    rows = [
        {"review_id": f"r{i}", "user_id": f"u{i % 3}", "item_id": "bad" if s == 1 else f"i{i}",
         "rating": s, "text": t, "ts": f"2024-03-0{i + 1} 10:00:00"}
        for i, (t, s) in enumerate(TEXTS)
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), path := tmp_path / "reviews.parquet")
    ingest(ws, path, table="reviews")
    return ws


def test_stage_writes_one_row_per_review(reviewed_ws):
    result = build_text(reviewed_ws, date(2024, 4, 1), StageParams(Engine.DUCKDB))
    assert result.rows == len(TEXTS) and result.chosen["model"] == "default"
    got = {
        r["review_id"]: r for r in reviewed_ws.table("review_sentiment").to_pyarrow().to_pylist()
    }
    assert len(got) == len(TEXTS)
    assert [got[f"r{i}"]["lang"] for i in range(6)] == ["zh"] * 4 + ["en"] * 2
    assert [got[f"r{i}"]["sentiment"] for i in range(6)] == [
        "positive",
        "negative",
        "negative",
        "positive",
        "positive",
        "negative",
    ]
    assert got["r6"]["score"] is None and got["r6"]["sentiment"] is None
    assert {got[f"r{i}"]["model"] for i in range(6)} == {"default"}
    # and the aspects of each clause: fast delivery, bad quality, broken packaging ...
    aspects = reviewed_ws.table("review_aspects").to_pyarrow().to_pylist()
    said = {(a["review_id"], a["aspect"], a["polarity"]) for a in aspects}
    assert {("r0", "logistics", "positive"), ("r1", "quality", "negative"),
            ("r2", "packaging", "negative"), ("r2", "service", "negative")} <= said  # fmt: skip
    summary = review_summary(reviewed_ws)
    shares = {a.aspect: a for a in summary.aspects}
    assert shares["quality"].mentions >= 2 and shares["packaging"].label.zh == "包装"


def test_stage_notes_a_shop_without_reviews(ws):
    result = build_text(ws, date(2024, 4, 1), StageParams(Engine.DUCKDB))
    assert result.rows == 0 and [n.code for n in result.notes] == ["no_reviews"]
    assert ws.count("review_sentiment") == 0
    summary = review_summary(ws)
    assert summary.reviews == 0 and summary.negative_share is None and summary.model is None


def test_summary_and_cli_json_validate(reviewed_ws):
    build_text(reviewed_ws, date(2024, 4, 1), StageParams(Engine.DUCKDB))
    summary = review_summary(reviewed_ws, min_reviews=2)
    assert summary.reviews == len(TEXTS) and summary.model == "default"
    assert summary.negative_share == pytest.approx(0.5)
    assert [i.item_id for i in summary.most_negative_items] == ["bad"]
    assert {x.lang: x.reviews for x in summary.by_language} == {"zh": 4, "en": 3}
    result = run_cli(
        "reviews", "--min-reviews", "2", "--format", "json", "-w", str(reviewed_ws.path)
    )
    assert result.returncode == 0, result.stderr
    assert ReviewSummary.model_validate_json(result.stdout) == summary
    table = run_cli("reviews", "-w", str(reviewed_ws.path))
    assert table.returncode == 0 and "bad" in table.stdout
    assert run_cli("reviews", "--format", "csv", "-w", str(reviewed_ws.path)).returncode == 0


def test_languages_are_detected_over_the_column():
    texts = pa.array(["好评", "great", None, "Echo 音质好", "iPhone"])
    given = pa.array([None, None, None, None, "zh-CN"])
    assert detect_languages(texts, given).to_pylist() == ["zh", "en", "en", "zh", "zh"]
