"""The ``personas`` build stage: a persona for every RFM segment, lifecycle stage and cluster.

``portrait build`` writes them to ``personas`` so the dashboard, the report and the API show
the same words without asking a model again. With the offline backend (the default) they are
the template personas; with a model they are its grounded answers, cached in the workspace,
and a build that would make more than ``[llm].max_paid_calls`` paid calls stops at this stage
and asks (``portrait build --yes``). Each row keeps the whole persona, its facts included, as
JSON, so :func:`built_personas` gives back exactly what was made.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from portrait.labels import Label
from portrait.llm.persona import Persona, Personas, segment_personas
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult

if TYPE_CHECKING:
    from portrait.workspace import Workspace

__all__ = ["STAGE", "build_personas", "built_personas"]


def build_personas(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """Personas of every segment and cluster into ``personas``."""
    made = segment_personas(ws, yes=params.yes)
    rows = [
        {"position": i, "grouping": p.grouping, "segment": p.segment, "language": p.language,
         "name": p.text.name, "source": p.source, "persona": p.model_dump_json()}
        for i, p in enumerate(made.personas)
    ]  # fmt: skip
    ws.replace_table("personas", pa.Table.from_pylist(rows, OUTPUTS["personas"].arrow_schema()))
    sources = sorted({p.source for p in made.personas})
    return StageResult(
        rows=len(rows),
        chosen={"model": made.model, "sources": sources, "requests": made.requests,
                "prompt_tokens": made.prompt_tokens, "completion_tokens": made.completion_tokens,
                "rejected": sum(len(p.rejected) for p in made.personas)},
    )  # fmt: skip


def built_personas(ws: Workspace) -> Personas:
    """The personas the last build wrote (no model is asked)."""
    ws.require("personas")
    t = ws.table("personas")
    stored = t.order_by("position").persona.to_pyarrow().to_pylist()
    personas = [Persona.model_validate_json(text) for text in stored]
    return Personas(
        language=personas[0].language if personas else ws.config.llm.language,
        model=personas[0].model if personas else "offline",
        personas=personas, requests=0, prompt_tokens=0, completion_tokens=0, cost=None,
    )  # fmt: skip


STAGE = Stage(
    name="personas",
    label=Label(en="personas", zh="人群画像"),
    reads=("segments", "cluster_profiles", "features"),
    writes=("personas",),
    config=("llm", "shop.currency"),
    run=build_personas,
)
