"""The build: the registered stages, in order, each rerun only when what it depends on changed.

Every stage follows one contract (:class:`portrait.stages.Stage`). A stage is current when
its last successful run has the same *fingerprint*: the data (the ingests), the shop's time
zone, the as-of date, the engine, the stage's own part of ``portrait.toml`` and the
fingerprints of the stages whose tables it reads. So adding a rule tag reruns only the tags
stage, a new clustering setting reruns segments and then tags, and a new ingest reruns
everything. Each run is a row of ``runs`` (:meth:`Workspace.run`), and
:func:`build_state` reads them back for ``portrait status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, Literal

from portrait.asof import parse_as_of
from portrait.audiences import STAGE as AUDIENCES
from portrait.engine import Engine
from portrait.errors import ConfigError
from portrait.facts import Fact, Note
from portrait.features import STAGE as FEATURES
from portrait.hashing import fingerprint
from portrait.labels import Label
from portrait.llm.stage import STAGE as PERSONAS
from portrait.overview import IdentitySummary, TableStatus, identity_summary, table_status
from portrait.recommend import STAGE as RECOMMEND
from portrait.runs import RunRecord, last_run, recent_runs
from portrait.segments import STAGE as SEGMENTS
from portrait.stages import Stage, StageParams, upstream
from portrait.tags import STAGE as TAGS
from portrait.text import STAGE as TEXT
from portrait.value import STAGE as VALUE
from portrait.workspace import Workspace

log = logging.getLogger(__name__)

#: the stages of ``portrait build``, in the order they run
STAGES: dict[str, Stage] = {
    s.name: s for s in (FEATURES, SEGMENTS, VALUE, TEXT, TAGS, RECOMMEND, PERSONAS, AUDIENCES)
}


class BuildResult(Fact):
    """What a build ran, skipped as current, wrote and wants known."""

    as_of: date
    ran: list[str] = []
    skipped: list[str] = []
    #: stage -> rows of its main output, for the stages that ran
    rows: dict[str, int] = {}
    notes: list[Note] = []
    #: the run records of the stages that ran (rows in and out, seconds, peak memory)
    runs: list[RunRecord] = []


class StageState(Fact):
    """Whether a stage's tables are up to date with the data and the configuration."""

    stage: str
    label: Label
    state: Literal["current", "stale", "never_run"]
    last_run: RunRecord | None = None


class BuildState(Fact):
    """The build as ``portrait status`` shows it: each stage's state and the latest runs."""

    as_of: date | None
    stages: list[StageState]
    runs: list[RunRecord]


def fingerprints(ws: Workspace, as_of: date, engine: Engine) -> dict[str, str]:
    """Each stage's fingerprint as of ``as_of``: what its tables depend on, hashed."""
    data = [ws.data_version(), ws.config.shop.timezone, str(as_of), str(engine)]
    out: dict[str, str] = {}
    for stage in STAGES.values():
        before = [out[name] for name in upstream(STAGES, stage)]
        out[stage.name] = fingerprint(data, stage.settings(ws.config), before)
    return out


def build_state(ws: Workspace, *, limit: int = 10) -> BuildState:
    """Each stage's state as of its last build date, and the latest runs."""
    last = {name: last_run(ws, name) for name in STAGES}
    dates = [r.as_of.date() for r in last.values() if r is not None and r.as_of is not None]
    as_of = max(dates) if dates else None
    now: dict[str, str] = {}
    if as_of is not None:
        first = next(r for r in last.values() if r is not None)
        now = fingerprints(ws, as_of, Engine.parse(first.params.get("engine"), Engine.DUCKDB))
    existing = set(ws.con.list_tables())
    states = []
    for name, stage in STAGES.items():
        run = last[name]
        if run is None:
            state: Literal["current", "stale", "never_run"] = "never_run"
        elif run.params.get("fingerprint") == now.get(name) and set(stage.writes) <= existing:
            state = "current"
        else:
            state = "stale"
        states.append(StageState(stage=name, label=stage.label, state=state, last_run=run))
    return BuildState(as_of=as_of, stages=states, runs=recent_runs(ws, limit=limit))


def _table_rows(ws: Workspace, names: Iterable[str], existing: set[str]) -> dict[str, int]:
    """The rows of each of ``names`` that exists: one count query a table."""
    return {name: ws.count(name) for name in names if name in existing}


def build(
    ws: Workspace,
    as_of: str | date | None = None,
    *,
    engine: str | Engine | None = None,
    force: bool = False,
    stages: Iterable[str] | None = None,
    progress: Callable[[str, str], None] | None = None,
    on_run: Callable[[RunRecord], None] | None = None,
    yes: bool = False,
) -> BuildResult:
    """Run the stale stages, in order; ``progress(stage, "start"|"done"|"skip")``.

    ``stages`` limits the run to those stages (the others are left as they are); ``force``
    reruns them whether stale or not; ``yes`` lets the personas stage make more paid model
    calls than ``[llm].max_paid_calls`` (without it, it stops and asks).

    Each stage's run in ``runs`` records the rows of the tables it reads (as it starts) and
    writes (as it ends), its seconds and the process's peak memory; ``on_run(record)`` is
    called with that record as each stage finishes.
    """
    chosen = set(STAGES if stages is None else stages)
    if chosen - set(STAGES):
        raise ConfigError(
            f"Unknown stage {sorted(chosen - set(STAGES))[0]!r}; the stages are "
            f"{', '.join(STAGES)}."
        )
    day = parse_as_of(as_of, ws)
    params = StageParams(engine=Engine.parse(engine, ws.config.engine.backend), yes=yes)
    stamps = fingerprints(ws, day, params.engine)
    result = BuildResult(as_of=day)
    existing = set(ws.con.list_tables())
    for name, stage in STAGES.items():
        if name not in chosen:
            continue
        previous = last_run(ws, name)
        current = (
            previous is not None
            and previous.params.get("fingerprint") == stamps[name]
            and set(stage.writes) <= existing
        )
        if current and not force:
            result.skipped.append(name)
            if progress:
                progress(name, "skip")
            continue
        if progress:
            progress(name, "start")
        as_of_ts = datetime.combine(day, datetime.min.time())
        rows_in = _table_rows(ws, stage.reads, existing)
        with ws.run(
            name,
            as_of=as_of_ts,
            fingerprint=stamps[name],
            engine=str(params.engine),
            rows_in=rows_in,
        ) as run:
            outcome = stage.run(ws, day, params)
            existing = set(ws.con.list_tables())
            run["rows"] = outcome.rows
            run["params_extra"] = {
                **outcome.chosen,
                "notes": [n.model_dump(mode="json") for n in outcome.notes],
                "rows_out": _table_rows(ws, stage.writes, existing),
            }
        record = last_run(ws, name)
        assert record is not None  # just written
        result.runs.append(record)
        if on_run:
            on_run(record)
        result.ran.append(name)
        result.rows[name] = outcome.rows
        result.notes.extend(outcome.notes)
        if progress:
            progress(name, "done")
    return result


class ShopInfo(Fact):
    name: str
    timezone: str
    currency: str


class WorkspaceStatus(Fact):
    """What ``portrait status`` shows: the shop, its tables, and the state of the build."""

    shop: ShopInfo
    tables: list[TableStatus]
    identities: IdentitySummary
    build: BuildState

    def csv_rows(self) -> list[dict[str, Any]]:
        return [t.model_dump(mode="json", exclude={"label"}) | {"sources": "; ".join(t.sources)}
                for t in self.tables]  # fmt: skip


def workspace_status(ws: Workspace, *, runs: int = 10) -> WorkspaceStatus:
    """Each table's rows, date range and sources; each stage's state; the latest runs."""
    shop = ws.config.shop
    return WorkspaceStatus(
        shop=ShopInfo(name=shop.name, timezone=shop.timezone, currency=shop.currency),
        tables=table_status(ws), identities=identity_summary(ws),
        build=build_state(ws, limit=runs),
    )  # fmt: skip
