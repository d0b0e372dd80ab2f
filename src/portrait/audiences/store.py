"""Saved audiences: a name, an owner, a definition, when it was made and changed, and its
size at every build.

Two warehouse tables hold them: ``audiences`` (one row per audience) and
``audience_sizes`` (one row per audience per build, appended by the ``audiences`` stage and
when an audience is saved). A definition is checked and compiled before it is saved, so a
saved audience always compiles against the shop it was saved in; if a later configuration
removes a name it uses, reading it says so.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from portrait.audiences.definition import built_as_of, compile_definition, from_json
from portrait.engine import Engine
from portrait.errors import ConfigError, NotFoundError
from portrait.facts import Fact
from portrait.labels import Label
from portrait.schema import OUTPUTS
from portrait.stages import Stage, StageParams, StageResult

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from portrait.workspace import Workspace

__all__ = [
    "STAGE",
    "Audience",
    "AudienceList",
    "AudiencePreview",
    "SizePoint",
    "delete_audience",
    "get_audience",
    "list_audiences",
    "members",
    "preview",
    "definition_of",
    "record_sizes",
    "resolve",
    "save_audience",
]

_NAME = re.compile(r"[\w\-.]{1,64}")


def _ensure(ws: Workspace) -> None:
    """``audience_sizes`` before the first build wrote it (``audiences`` is made with the
    workspace; a read-only snapshot is left as it is)."""
    if not ws.has_table("audience_sizes") and not ws.read_only:
        ws.replace_table("audience_sizes", OUTPUTS["audience_sizes"].arrow_schema().empty_table())


def _text(definition: str | dict[str, Any]) -> str:
    if isinstance(definition, dict):
        return from_json(definition)
    stripped = definition.strip()
    return from_json(stripped) if stripped.startswith("{") else stripped


# -- facts ------------------------------------------------------------------------------------
class SizePoint(Fact):
    as_of: date
    customers: int
    recorded_at: datetime


class AudiencePreview(Fact):
    """What a definition selects now: its size against the shop's, and the query."""

    definition: str
    as_of: date
    customers: int
    #: customers with a portrait (the base the share is of)
    base: int
    share: float
    names: list[str]
    sql: str

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row of the scalar fields but the query (JSON carries it)."""
        return [{k: v for k, v in row.items() if k != "sql"} for row in super().csv_rows()]


class Audience(AudiencePreview):
    """A saved audience, with its size at every build."""

    name: str
    owner: str
    description: str
    created_at: datetime
    updated_at: datetime
    sizes: list[SizePoint]


class AudienceList(Fact):
    audiences: list[Audience]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [{"name": a.name, "owner": a.owner, "customers": a.customers, "share": a.share,
                 "definition": a.definition, "updated_at": a.updated_at}
                for a in self.audiences]  # fmt: skip


# -- functions --------------------------------------------------------------------------------
def preview(ws: Workspace, definition: str | dict[str, Any]) -> AudiencePreview:
    """Check a definition (text or JSON) and count its members as of the last build."""
    text = _text(definition)
    compiled = compile_definition(ws, text)
    counts = (
        compiled.base.aggregate(
            base=compiled.base.count(), customers=compiled.condition.fill_null(False).sum()
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    base, customers = int(counts["base"]), int(counts["customers"] or 0)
    return AudiencePreview(
        definition=compiled.rule.text, as_of=built_as_of(ws), customers=customers, base=base,
        share=customers / base if base else 0.0, names=sorted(compiled.rule.features),
        sql=compiled.sql(),
    )  # fmt: skip


def members(ws: Workspace, name: str) -> ir.Table:
    """The members (``user_id``) of a saved audience, as of the last build."""
    row = _row(ws, name)
    return compile_definition(ws, row["definition"], name=name).members


def resolve(ws: Workspace, name_or_definition: str | dict[str, Any]) -> tuple[str | None, str]:
    """``(name, definition)`` of a saved audience, or ``(None, text)`` of a definition given
    as it is (rule text or JSON); a saved name wins over a tag of the same name."""
    if isinstance(name_or_definition, str) and ws.has_table("audiences"):
        name = name_or_definition.strip()
        if _NAME.fullmatch(name):
            t = ws.table("audiences")
            rows = t.filter(t.name == name).definition.to_pyarrow().to_pylist()
            if rows:
                return name, str(rows[0])
    return None, _text(name_or_definition)


def definition_of(ws: Workspace, name: str) -> str:
    """The definition of a saved audience; :class:`NotFoundError` naming the saved ones."""
    return str(_row(ws, name)["definition"])


def _row(ws: Workspace, name: str) -> dict[str, Any]:
    _ensure(ws)
    t = ws.table("audiences")
    rows = t.filter(t.name == name).to_pyarrow().to_pylist()
    if not rows:
        known = t.name.to_pyarrow().to_pylist()
        hint = f" (saved: {', '.join(sorted(known)[:5])})" if known else ""
        raise NotFoundError(
            f"There is no audience {name!r}{hint}; `portrait audience list` shows them."
        )
    return dict(rows[0])


def save_audience(
    ws: Workspace,
    name: str,
    definition: str | dict[str, Any],
    *,
    owner: str = "",
    description: str = "",
    replace: bool = False,
) -> Audience:
    """Check, compile and save an audience, and record its size now.

    Raises :class:`RuleError` for a definition that does not compile, and
    :class:`ConfigError` for a bad name or a name in use (without ``replace``).
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not an audience name; use 1-64 letters, digits, '_', '-' or '.'."
        )
    shown = preview(ws, definition)  # checks and compiles
    _ensure(ws)
    now = datetime.now()
    t = ws.table("audiences")
    existing = t.filter(t.name == name).to_pyarrow().to_pylist()
    if existing and not replace:
        raise ConfigError(
            f"An audience {name!r} exists already; choose another name or replace it (--replace)."
        )
    created = existing[0]["created_at"] if existing else now
    ws.con.raw_sql(f"DELETE FROM audiences WHERE name = '{_quote(name)}'")
    ws.append("audiences", [{"name": name, "owner": owner, "description": description,
                             "definition": shown.definition, "created_at": created,
                             "updated_at": now}])  # fmt: skip
    ws.append("audience_sizes", [{"name": name, "as_of": shown.as_of,
                                  "customers": shown.customers, "recorded_at": now}])  # fmt: skip
    return get_audience(ws, name, now=shown)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def get_audience(ws: Workspace, name: str, *, now: AudiencePreview | None = None) -> Audience:
    """A saved audience: its definition, its size now (``now`` when the caller has just
    counted it) and at every build."""
    row = _row(ws, name)
    now = now or preview(ws, row["definition"])
    s = ws.table("audience_sizes")
    sizes = s.filter(s.name == name).order_by(["recorded_at"]).to_pyarrow().to_pylist()
    return Audience(
        **now.model_dump(), name=name, owner=row["owner"] or "",
        description=row["description"] or "", created_at=row["created_at"],
        updated_at=row["updated_at"],
        sizes=[SizePoint(as_of=r["as_of"], customers=r["customers"],
                         recorded_at=r["recorded_at"]) for r in sizes],
    )  # fmt: skip


def list_audiences(ws: Workspace) -> AudienceList:
    """Every saved audience, by name."""
    _ensure(ws)
    names = ws.table("audiences").order_by("name").name.to_pyarrow().to_pylist()
    return AudienceList(audiences=[get_audience(ws, n) for n in names])


def delete_audience(ws: Workspace, name: str) -> None:
    """Remove a saved audience and its size history."""
    _row(ws, name)
    ws.con.raw_sql(f"DELETE FROM audiences WHERE name = '{_quote(name)}'")
    ws.con.raw_sql(f"DELETE FROM audience_sizes WHERE name = '{_quote(name)}'")


def record_sizes(ws: Workspace, as_of: date, params: StageParams) -> StageResult:
    """The ``audiences`` stage: one size row per saved audience for this build.

    On Spark each audience is counted by Spark (:func:`portrait.spark.rebind`); its
    definition's shop-wide statistics (a percentile it names) are one row the warehouse
    computes over the same files when it is compiled."""
    _ensure(ws)
    names = ws.table("audiences").name.to_pyarrow().to_pylist()
    now = datetime.now()
    rows = []
    failed = []
    for name in names:
        try:
            definition = _row(ws, name)["definition"]
            if params.engine is Engine.SPARK:
                customers = _count_on_spark(ws, definition)
            else:
                customers = preview(ws, definition).customers
            rows.append({"name": name, "as_of": as_of, "customers": customers,
                         "recorded_at": now})  # fmt: skip
        except ConfigError:
            failed.append(name)
    ws.append("audience_sizes", rows)
    return StageResult(rows=len(rows), chosen={"audiences": len(rows), "not_compiled": failed})


def _count_on_spark(ws: Workspace, definition: str) -> int:
    """The members of a definition, counted by Spark."""
    from portrait import spark

    compiled = compile_definition(ws, _text(definition))
    count = compiled.base.aggregate(customers=compiled.condition.fill_null(False).sum())
    row = spark.rebind(ws, count).to_pyarrow().to_pylist()[0]
    return int(row["customers"] or 0)


STAGE = Stage(
    name="audiences",
    label=Label(en="audience sizes", zh="人群规模"),
    reads=("features", "tags", "value", "segments"),
    writes=("audience_sizes",),
    config=(),
    run=record_sizes,
)
