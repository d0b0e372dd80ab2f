"""The build: the stages that turn the warehouse into portraits, in order.

A stage reads tables and writes tables; each run is recorded in ``runs`` with its as-of
date, parameters, rows and seconds. ``build`` runs the stages that are stale: a stage is
current when its last successful run saw the same data (the ingests), the same
configuration and the same as-of date, and every stage before it is current too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import ibis

from portrait.errors import ConfigError
from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: stage name -> what it writes
STAGES: dict[str, tuple[str, ...]] = {
    "features": ("features",),
    "segments": ("segments", "cluster_profiles"),
    "value": ("value",),
    "tags": ("tags",),
    "recommend": ("recommendations",),
}


@dataclass
class BuildResult:
    as_of: date
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    #: features the shop's data cannot support, with the reason
    missing: dict[str, str] = field(default_factory=dict)
    #: what the models want the operator to know (no amounts, no churn model ...)
    notes: list[str] = field(default_factory=list)


def _fingerprint(ws: Workspace, as_of: date, engine: str) -> str:
    ingests = ws.table("ingests")
    state = ingests.aggregate(n=ingests.count(), last=ingests.started_at.max()).execute()
    config = (ws.path / "portrait.toml").read_text(encoding="utf-8")
    raw = json.dumps([str(as_of), engine, state.iloc[0].astype(str).tolist(), config])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def last_run(ws: Workspace, stage: str) -> dict[str, Any] | None:
    runs = ws.table("runs")
    rows = (
        runs.filter((runs.stage == stage) & (runs.status == "ok"))
        .order_by(ibis.desc("started_at"))
        .limit(1)
        .to_pyarrow()
        .to_pylist()
    )
    if not rows:
        return None
    row = rows[0]
    row["params"] = json.loads(row["params"] or "{}")
    return row


def build(
    ws: Workspace,
    as_of: str | date | None = None,
    *,
    engine: str | None = None,
    force: bool = False,
    stages: Iterable[str] | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> BuildResult:
    """Run the stale stages, in order; ``progress(stage, "start"|"done"|"skip")``.

    ``stages`` limits the run to those stages (the others are left as they are).
    """
    from portrait.features import build_features, parse_as_of
    from portrait.recommend.serve import build_recommendations
    from portrait.segments import build_segments
    from portrait.tags import build_tags
    from portrait.value import build_value

    chosen = set(STAGES if stages is None else stages)
    if chosen - set(STAGES):
        raise ConfigError(
            f"Unknown stage {sorted(chosen - set(STAGES))[0]!r}; the stages are "
            f"{', '.join(STAGES)}."
        )
    day = parse_as_of(as_of, ws)
    engine = engine or ws.config.engine.backend
    stamp = _fingerprint(ws, day, engine)
    result = BuildResult(as_of=day)
    existing = set(ws.con.list_tables())
    stale = force
    for stage, outputs in STAGES.items():
        if stage not in chosen:
            continue
        previous = last_run(ws, stage)
        current = (
            previous is not None
            and previous["params"].get("fingerprint") == stamp
            and set(outputs) <= existing
        )
        if current and not stale:
            result.skipped.append(stage)
            result.missing = previous["params"].get("missing", result.missing)
            if progress:
                progress(stage, "skip")
            continue
        stale = True
        if progress:
            progress(stage, "start")
        as_of_ts = datetime.combine(day, datetime.min.time())
        params = {"fingerprint": stamp, "engine": engine}
        with ws.run(stage, as_of=as_of_ts, **params) as run:
            if stage == "features":
                fs = build_features(ws, day, engine=engine)
                result.missing = fs.missing
                run["rows"] = ws.count("features")
            elif stage == "segments":
                clustering = build_segments(ws, missing=result.missing)
                run["rows"] = ws.count("segments")
                params["clusters"] = clustering.k
            elif stage == "recommend":
                recs = build_recommendations(ws, day, engine=engine)
                run["rows"] = recs.customers
                result.notes += recs.notes
            elif stage == "value":
                valued = build_value(ws, day, engine=engine)
                run["rows"] = valued.customers
                result.notes += valued.notes
            else:
                run["rows"] = build_tags(ws, result.missing)
            # the missing features travel with every stage's run, for `portrait tags`
            run["params_extra"] = {"missing": result.missing}
        result.ran.append(stage)
        result.rows[stage] = run["rows"]
        if progress:
            progress(stage, "done")
    return result
