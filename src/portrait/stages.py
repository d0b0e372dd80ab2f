"""The stage contract: one shape for every step of ``portrait build``.

A stage declares its name, the tables it reads and writes, and the parts of the
configuration its result depends on; it runs as ``run(workspace, as_of, params)`` and
returns a :class:`StageResult`. The pipeline (:mod:`portrait.pipeline`) loops over the
registered stages in order and reruns a stage only when what it depends on changed: the
data, the as-of date, the engine, its own part of ``portrait.toml``, or a stage whose
tables it reads. Stages pass nothing to each other except tables: what one found missing
is a table (``feature_gaps``) that the next reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from portrait.engine import Engine
from portrait.facts import Fact, Note
from portrait.labels import Label

if TYPE_CHECKING:
    from portrait.workspace import Workspace


class StageResult(Fact):
    """What a stage run wrote and wants known."""

    #: rows of the stage's main output (customers scored, tags computed ...)
    rows: int
    notes: list[Note] = []
    #: what the stage chose while running (the number of clusters ...), kept in ``runs``
    chosen: dict[str, Any] = {}


@dataclass(frozen=True)
class StageParams:
    """What every stage run is given besides the workspace and the as-of date."""

    engine: Engine
    #: go ahead with a stage's paid model calls above ``[llm].max_paid_calls``
    yes: bool = False


@dataclass(frozen=True)
class Stage:
    """A step of the build that reads tables and writes tables."""

    name: str
    label: Label
    #: warehouse tables it reads (canonical tables, or other stages' outputs)
    reads: tuple[str, ...]
    #: tables it writes, each declared in :data:`portrait.schema.OUTPUTS`
    writes: tuple[str, ...]
    #: dotted keys of ``portrait.toml`` its result depends on (``"tags"``, ``"segments.seed"``)
    config: tuple[str, ...]
    run: Callable[[Workspace, date, StageParams], StageResult]

    def settings(self, config: Any) -> dict[str, Any]:
        """The values of :attr:`config` in a workspace's configuration, as JSON-able data."""
        out: dict[str, Any] = {}
        for key in self.config:
            value: Any = config
            for part in key.split("."):
                value = getattr(value, part)
            out[key] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        return out


def upstream(stages: Mapping[str, Stage], stage: Stage) -> list[str]:
    """The stages that write a table ``stage`` reads, in registry order."""
    return [s.name for s in stages.values() if set(s.writes) & set(stage.reads)]
