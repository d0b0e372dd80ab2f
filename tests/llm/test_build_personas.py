"""`portrait build` writes a persona of every segment and cluster, whose numbers are the
warehouse's (computed here again with pandas from the segments and features tables)."""

from __future__ import annotations

import json
import re

from portrait import open_workspace
from portrait.llm.stage import built_personas

from support import run_cli

# a number as written: 1,234 / 12.3 / 45.6% / -0.6
_WRITTEN = re.compile(r"(?<![\w.])[-+]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(%?)")


def _warehouse_numbers(ws) -> tuple[set[tuple[str, str]], list[float]]:
    """Every group and every number a persona may state, from the raw tables with pandas:
    each group's size, share, spend share and averages, the averages over the grouping,
    and the clusters' trait statistics as the segments stage stored them."""
    seg = ws.table("segments").to_pandas()
    f = ws.table("features").to_pandas()[["user_id", "monetary", "frequency", "recency_days"]]
    df = seg.merge(f, on="user_id")
    money = df.monetary.sum()
    groups: set[tuple[str, str]] = set()
    values: list[float] = []
    for col in ("rfm_segment", "lifecycle_stage", "cluster"):
        have = df[df[col].notna()]
        values += [have.frequency.mean(), have.recency_days.mean(), have.monetary.mean()]
        for code, g in have.groupby(col):
            groups.add((col, str(code)))
            values += [len(g), len(g) / len(have), g.monetary.sum() / money,
                       g.frequency.mean(), g.recency_days.mean(), g.monetary.mean()]  # fmt: skip
    profiles = ws.table("cluster_profiles").to_pandas()
    for _, p in profiles.iterrows():
        values.append(float(p.cluster))
        for trait in json.loads(p.traits) if isinstance(p.traits, str) else p.traits:
            values += [float(v) for v in trait[1:] if isinstance(v, int | float)]
    return groups, values


def _untraced(text: str, values: list[float]) -> list[str]:
    """The numbers in ``text`` that no warehouse value, rounded as written, gives."""
    out = []
    for m in _WRITTEN.finditer(text):
        digits = len(m[2] or "")
        written = abs(float(m[1].replace(",", "") + ("." + m[2] if m[2] else "")))
        scale = 100 if m[3] else 1
        if not any(round(abs(v) * scale, digits) == round(written, digits) for v in values):
            out.append(m[0])
    return out


def test_build_writes_a_persona_for_every_segment_and_cluster_traced_to_the_warehouse(
    demo_shop,
):
    assert "personas" in demo_shop.build.ran
    with open_workspace(demo_shop.path) as ws:
        made = built_personas(ws)
        groups, values = _warehouse_numbers(ws)
        stored = ws.table("personas").to_pandas()
    assert {(p.grouping, p.segment) for p in made.personas} == groups
    assert len(stored) == len(groups) and stored.language.eq(ws.config.llm.language).all()
    for p in made.personas:
        assert p.source == "offline"
        text = " ".join([p.text.name, p.text.description, p.text.distinguishing, *p.text.actions])
        assert re.search(r"\d", p.text.description)  # it does state numbers
        assert _untraced(text, values) == [], (p.grouping, p.segment, text)


def test_persona_command_shows_what_the_build_wrote(demo_shop):
    shown = run_cli("persona", "--format", "json", "-w", str(demo_shop.path))
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    with open_workspace(demo_shop.path) as ws:
        made = built_personas(ws)
    assert payload["requests"] == 0
    assert [p["text"]["name"] for p in payload["personas"]] == [p.text.name for p in made.personas]
