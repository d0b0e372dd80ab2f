"""Real files corrupted the ways exports break, over a thousand seeded cases: nothing lost.

Each case is one corrupted record in a few hundred lines of real data (see
``bench/corruption.py``, which runs more): for every file, ``read = data rows = accepted +
duplicates + rejected``, and every untouched row is read with the clean file's values and ends
where the clean file's ingest put it.
"""

from __future__ import annotations

import pytest

from bench.corruption import KINDS, SOURCES, run_source

from support import data_file

#: (source, files, corrupted records per file): 1,080 cases
PLAN = {"retail": (8, 35), "taobao": (10, 40), "reviews": (10, 40)}


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_corrupted_real_files_lose_nothing(source, tmp_path):
    data_file(str(source.path))  # fails with the fix when the shared data is missing
    files, per_file = PLAN[source.name]
    result = run_source(
        source, tmp_path, files=files, cases_per_file=per_file, lines=400, seed=20261129
    )
    assert result["cases"] >= files * per_file
    assert not result["failures"], "\n".join(result["failures"][:10])
    # every kind of corruption this source can carry was planted
    expected = set(KINDS)
    if source.text_field is None:
        expected.discard("embedded_newline")
    if source.date_field is None:
        expected.discard("mixed_date")
    assert set(result["kinds"]) == expected, result["kinds"]


def test_the_suite_runs_over_a_thousand_cases():
    assert sum(files * cases for files, cases in PLAN.values()) >= 1_000
