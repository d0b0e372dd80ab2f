"""Audiences and campaigns: preview, insight and from-text on the snapshot; saving, export
and campaigns through the writer.

Reads (``viewer``: sizes and aggregates only) call :mod:`portrait.audiences` on the served
snapshot. What changes the workspace — saving or deleting an audience, exporting its members
(``analyst``: the export names customers), creating a campaign — opens the warehouse as its
one writer for the call, then publishes a new snapshot so that the next read sees it; while
a build holds the warehouse that is 423 (try again after the build). An export is written
under ``serving/exports/`` (recorded, so forgetting a customer rewrites it) and returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from portrait.api.deps import Access, Analyst, Viewer
from portrait.api.snapshot import publish
from portrait.audiences import (
    Audience,
    AudienceDraft,
    AudienceInsight,
    AudienceList,
    AudiencePreview,
    audience_from_text,
    audience_insight,
    delete_audience,
    export_members,
    get_audience,
    list_audiences,
    preview,
    save_audience,
)
from portrait.audiences.campaigns import (
    Campaign,
    CampaignList,
    UpliftReport,
    campaign_report,
    create_campaign,
    list_campaigns,
)
from portrait.serving import ServingPaths
from portrait.workspace import Workspace, open_workspace

router = APIRouter(prefix="/v1/shops/{shop}", tags=["audiences"])
T = TypeVar("T")

AudienceName = Annotated[str, Path(description="A saved audience.", max_length=64)]
Definition = str | dict[str, Any]


class DefinitionBody(BaseModel):
    #: rule text, or a JSON definition ({"all": [...]})
    definition: Definition = Field(description="Rule text or a JSON definition.")


class SaveBody(DefinitionBody):
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=2000)
    replace: bool = False


class InsightBody(BaseModel):
    audience: Definition = Field(description="A saved audience's name or a definition.")
    against: Definition | None = None
    min_group: int | None = Field(default=None, ge=1)
    epsilon: float | None = Field(default=None, gt=0)
    seed: int = 0
    min_support: int = Field(default=30, ge=0)


class TextBody(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class CampaignBody(BaseModel):
    name: str = Field(max_length=64)
    audience: str = Field(max_length=64)
    holdout: float = Field(default=0.1, gt=0, le=0.5)
    stratify_by: list[str] = ["rfm_segment"]
    seed: int | None = None
    start: str | None = None


async def _read(access: Access, fn: Callable[[Workspace], T]) -> T:
    def run() -> T:
        with access.shop.snapshot() as snap:
            return snap.call(fn)

    return await anyio.to_thread.run_sync(run)


async def _write(access: Access, fn: Callable[[Workspace], T]) -> T:
    """``fn`` on the warehouse as its writer, then a new snapshot for the readers."""

    def run() -> T:
        with open_workspace(access.shop.path) as ws:
            out = fn(ws)
            publish(ws)
        access.shop.refresh()
        return out

    return await anyio.to_thread.run_sync(run)


def _owner(access: Access) -> str:
    return f"api-key:{access.key.key_id}"


# -- audiences --------------------------------------------------------------------------------
@router.get("/audiences", response_model=AudienceList, summary="Saved audiences")
async def get_audiences(access: Viewer) -> AudienceList:
    """Every saved audience with its definition and its size now and at every build."""
    return await _read(access, list_audiences)


@router.post("/audiences/preview", response_model=AudiencePreview, summary="Size of a definition")
async def post_preview(body: DefinitionBody, access: Viewer) -> AudiencePreview:
    """Check a definition and count its members as of the last build (422 names the mistake)."""
    return await _read(access, lambda ws: preview(ws, body.definition))


@router.post("/audiences/from-text", response_model=AudienceDraft, summary="Words to a definition")
async def post_from_text(body: TextBody, access: Viewer) -> AudienceDraft:
    """Chinese or English words turned into a definition, checked and counted, not saved;
    422 names the part that was not understood."""
    return await _read(access, lambda ws: audience_from_text(ws, body.text))


@router.post("/audiences/insight", response_model=AudienceInsight, summary="Who they are (TGI)")
async def post_insight(body: InsightBody, access: Viewer) -> AudienceInsight:
    """Size, revenue and value shares, and every tag value's TGI against the shop (or another
    audience); counts under the minimum group size are suppressed."""
    return await _read(access, lambda ws: audience_insight(
        ws, body.audience, against=body.against, min_group=body.min_group,
        epsilon=body.epsilon, seed=body.seed, min_support=body.min_support,
    ))  # fmt: skip


@router.post("/audiences", response_model=Audience, status_code=201, summary="Save an audience")
async def post_audience(body: SaveBody, access: Analyst) -> Audience:
    """Check, save and count an audience (the key is its owner); 409-like 422 when the name
    is taken and ``replace`` is false."""
    return await _write(access, lambda ws: save_audience(
        ws, body.name, body.definition, owner=_owner(access), description=body.description,
        replace=body.replace,
    ))  # fmt: skip


@router.get("/audiences/{name}", response_model=Audience, summary="A saved audience")
async def get_one(name: AudienceName, access: Viewer) -> Audience:
    return await _read(access, lambda ws: get_audience(ws, name))


@router.delete("/audiences/{name}", response_model=AudienceList, summary="Delete an audience")
async def delete_one(name: AudienceName, access: Analyst) -> AudienceList:
    """Delete a saved audience and its size history; the audiences left."""

    def run(ws: Workspace) -> AudienceList:
        delete_audience(ws, name)
        return list_audiences(ws)

    return await _write(access, run)


@router.post("/audiences/{name}/export", summary="Export members (CSV or Parquet)",
             response_class=FileResponse)  # fmt: skip
async def post_export(
    name: AudienceName,
    access: Analyst,
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
    columns: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> FileResponse:
    """The members' ``user_id`` and the non-PII columns asked for, as a file; recorded, so
    forgetting a customer rewrites it."""
    folder = ServingPaths(access.shop.path).root / "exports"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{name}-{stamp}.{format}"

    def run(ws: Workspace) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        export_members(ws, name, target, format=format, columns=columns or ())

    await _write(access, run)
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    return FileResponse(target, media_type=media, filename=target.name)


# -- campaigns --------------------------------------------------------------------------------
@router.get("/campaigns", response_model=CampaignList, summary="Campaigns")
async def get_campaigns(access: Viewer) -> CampaignList:
    return await _read(access, list_campaigns)


@router.post("/campaigns", response_model=Campaign, status_code=201, summary="Start a campaign")
async def post_campaign(body: CampaignBody, access: Analyst) -> Campaign:
    """Freeze a saved audience's members and hold out a stratified random share of them."""
    return await _write(access, lambda ws: create_campaign(
        ws, body.name, body.audience, holdout=body.holdout, stratify_by=body.stratify_by,
        seed=body.seed, start=body.start, owner=_owner(access),
    ))  # fmt: skip


@router.get("/campaigns/{name}/report", response_model=UpliftReport, summary="Uplift report")
async def get_report(
    name: AudienceName, access: Viewer, end: Annotated[str | None, Query()] = None
) -> UpliftReport:
    """Conversion and revenue per member in treatment against holdout, with intervals,
    p-values and a verdict (effect, no effect detected, too small to tell)."""
    return await _read(access, lambda ws: campaign_report(ws, name, end=end))
