"""Personas of segments and clusters on the demo shop: offline, over HTTP, and the CLI."""

from __future__ import annotations

import json
import re

import pytest

from portrait import open_workspace
from portrait.errors import ConfirmationNeeded, NotFoundError
from portrait.llm import segment_personas
from portrait.segments import segment_report

from support import run_cli

# a number as written: 1,234 / 12.3 / 45.6% / -0.6
_WRITTEN = re.compile(r"(?<![\w.])[-+]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(%?)")


def _workspace_values(ws) -> list[float]:
    """Every number of the workspace's segment facts, and the shop averages beside them."""
    report = segment_report(ws)
    values: list[float] = []
    for grouping in ("rfm_segment", "lifecycle_stage", "cluster"):
        rows = getattr(report, grouping)
        for s in rows:
            values += [s.customers, s.share, s.value_share or 0, s.avg_frequency or 0,
                       s.avg_recency_days or 0, s.avg_monetary or 0]  # fmt: skip
            values += [float(n) for n in re.findall(r"\d+", s.label.en + s.segment)]
        totals = report.totals[grouping]
        values += [totals.avg_frequency or 0, totals.avg_recency_days or 0,
                   totals.avg_monetary or 0]  # fmt: skip
    for c in report.clustering.clusters if report.clustering else []:
        values += [v for t in c.traits for v in (t.z, t.mean or 0, t.shop_mean or 0)]
        values += [float(n) for t in c.traits for n in re.findall(r"\d+", t.label.en + t.label.zh)]
    return values


def _traced(text: str, values: list[float]) -> list[str]:
    """The numbers in ``text`` that no workspace value, rounded as written, gives."""
    untraced = []
    for m in _WRITTEN.finditer(text):
        digits = len(m[2] or "")
        written = abs(float(m[1].replace(",", "") + ("." + m[2] if m[2] else "")))
        scale = 100 if m[3] else 1
        if not any(round(abs(v) * scale, digits) == round(written, digits) for v in values):
            untraced.append(m[0])
    return untraced


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_segment_and_cluster_has_a_persona_whose_numbers_trace_to_the_workspace(
    demo_shop, language
):
    with open_workspace(demo_shop.path) as ws:
        personas = segment_personas(ws, language=language)
        report = segment_report(ws)
        values = _workspace_values(ws)
    want = {(g, s.segment) for g in ("rfm_segment", "lifecycle_stage", "cluster")
            for s in getattr(report, g)}  # fmt: skip
    assert {(p.grouping, p.segment) for p in personas.personas} == want
    assert personas.requests == 0 and personas.model == "offline"
    for p in personas.personas:
        assert p.source == "offline" and p.language == language
        text = " ".join([p.text.name, p.text.description, p.text.distinguishing, *p.text.actions])
        assert _traced(text, values) == [], (p.segment, text)
        assert f"{p.figures.customers:,}" in p.text.description
    clusters = [p for p in personas.personas if p.grouping == "cluster"]
    assert clusters and all(p.traits for p in clusters)


def test_one_segment_or_cluster_and_an_unknown_one(demo_shop):
    with open_workspace(demo_shop.path) as ws:
        [one] = segment_personas(ws, segment="Champions", language="en").personas
        [cl] = segment_personas(ws, cluster=0).personas
        with pytest.raises(NotFoundError, match="no segment 'Nobody'"):
            segment_personas(ws, segment="Nobody")
    assert one.text.name == "Champions" and one.label.zh == "重要价值客户"
    assert cl.grouping == "cluster" and cl.language == "zh"


def test_personas_from_a_model_over_http_then_from_the_cache(demo_ws, server, backend):
    def answer(request):
        facts = json.loads(request["messages"][1]["content"].split("FACTS:", 1)[1])
        fig = facts["segment_figures"]
        return json.dumps({
            "name": facts["name_en"],
            "description": f"{fig['customers']:,} customers, {fig['share']:.1%} of all.",
            "distinguishing": f"They spend {fig['avg_monetary']:,.0f} {facts['currency']}.",
            "actions": ["Keep in touch."],
        })  # fmt: skip

    server.default = answer
    first = segment_personas(demo_ws, client=backend, language="en", yes=True)
    made = len(server.requests)
    assert made == len(first.personas) and {p.source for p in first.personas} == {"model"}
    assert first.requests == made and first.cost is not None and first.cost > 0
    again = segment_personas(demo_ws, client=backend, language="en")
    assert len(server.requests) == made  # zero new requests
    assert {p.source for p in again.personas} == {"cache"}
    assert [p.text for p in again.personas] == [p.text for p in first.personas]
    sent = b"".join(server.raw).decode()
    users = demo_ws.table("users").select("user_id").limit(50).to_pyarrow().column(0).to_pylist()
    assert not any(f'"{u}"' in sent for u in users)  # no customer id leaves the machine


def test_a_large_run_states_the_count_and_asks(demo_ws, server, backend):
    with pytest.raises(ConfirmationNeeded, match=r"would make \d+ paid calls .* pass --yes"):
        segment_personas(demo_ws, client=backend, max_paid_calls=5)
    assert server.requests == []


def test_the_persona_command(demo_shop):
    result = run_cli("persona", "--segment", "Champions", "--language", "en",
                     "--format", "json", "-w", str(demo_shop.path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    [p] = data["personas"]
    assert p["segment"] == "Champions" and p["source"] == "offline"
    table = run_cli("persona", "--cluster", "0", "-w", str(demo_shop.path), columns=120)
    assert table.returncode == 0 and "聚类 0" in table.stdout
    bad = run_cli("persona", "--segment", "Nobody", "-w", str(demo_shop.path))
    assert bad.returncode == 6 and "portrait segments" in bad.stderr


def _profile_values(profile) -> list[float]:
    data = profile.model_dump(mode="json")
    values: list[float] = []

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, bool) or v is None:
            return
        elif isinstance(v, int | float):
            values.append(float(v))
        elif isinstance(v, str):
            values.extend(float(n) for n in re.findall(r"\d+", v))

    walk(data)
    return values


@pytest.mark.parametrize("language", ["en", "zh"])
def test_customer_personas_trace_every_number_to_the_profile(demo_shop, language):
    from portrait.llm import customer_persona

    with open_workspace(demo_shop.path) as ws:
        ids = ws.table("segments").select("user_id").limit(10).to_pyarrow().column(0).to_pylist()
        for user_id in ids:
            p = customer_persona(ws, str(user_id), language=language)
            assert p.source == "offline" and p.user_id == str(user_id)
            text = " ".join([p.text.name, p.text.description, p.text.distinguishing])
            assert _traced(text, _profile_values(p.profile)) == [], (user_id, text)


def test_a_customer_persona_over_http_sends_no_id(demo_ws, server, backend):
    from portrait.llm import customer_persona

    server.default = lambda request: json.dumps(
        {
            "name": "Champions",
            "description": "7 orders.",
            "distinguishing": "R5 F5 M5.",
            "actions": ["Reward them."],
        }  # fmt: skip
    )
    p = customer_persona(demo_ws, "12347", client=backend, language="en")
    assert p.source == "model" and p.requests == 1
    assert "12347" not in b"".join(server.raw).decode()
    again = customer_persona(demo_ws, "12347", client=backend, language="en")
    assert again.source == "cache" and len(server.requests) == 1


def test_the_persona_command_for_a_customer(demo_shop):
    result = run_cli("persona", "12347", "--language", "en", "-w", str(demo_shop.path),
                     columns=120)  # fmt: skip
    assert result.returncode == 0 and "customer 12347" in result.stdout
    both = run_cli("persona", "12347", "--segment", "Champions", "-w", str(demo_shop.path))
    assert both.returncode == 2
