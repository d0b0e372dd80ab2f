"""The ``portrait`` command line: parse arguments, call one library function, show its facts.

Each command calls one public function that returns a facts object and hands it to
:func:`portrait.terminal.emit`; listing commands take ``--format table|json|csv``. Nothing
here queries a table or computes a number. An error Portrait raises on purpose prints as one
line (what is wrong and what to do) with its kind's exit code (:func:`run`).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer
import typer.core
from rich.console import Console
from rich.markup import escape

from portrait.errors import ConfigError, PortraitError
from portrait.labels import label
from portrait.terminal import (
    Format,
    both,
    console,
    count,
    emit,
    feature_value,
    notes,
    num,
    pct,
    show,
    table,
)

if TYPE_CHECKING:
    from portrait.api.keys import ApiKeys
    from portrait.audiences import (
        Audience,
        AudienceDraft,
        AudienceInsight,
        AudienceList,
        AudiencePreview,
    )
    from portrait.audiences.campaigns import Campaign, CampaignList, UpliftReport
    from portrait.datasets.demo import DemoResult
    from portrait.ingest import IngestReport
    from portrait.ingest.rejects import Rejects
    from portrait.llm import (
        CustomerPersona,
        Language,
        MarketingCopy,
        Personas,
        ProductDescription,
    )
    from portrait.llm.assistant import Answer
    from portrait.llm.copy import Channel
    from portrait.pipeline import WorkspaceStatus
    from portrait.profile import CustomerProfile
    from portrait.recommend import CustomerRecommendations, WorkspaceEvaluation
    from portrait.runs import RunRecord
    from portrait.segments import SegmentReport
    from portrait.tags import FeatureCatalogue, TagReport
    from portrait.text import ReviewSummary
    from portrait.text.portraits import ItemReviews
    from portrait.text.vectors import SimilarItems
    from portrait.value import ValueReport
    from portrait.workspace import Workspace

app = typer.Typer(
    help="Portrait: user portraits (用户画像) for e-commerce operations teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (工作区目录).")
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="table (for people), json or csv.")
]


def _open(path: Path) -> Workspace:
    from portrait.workspace import open_workspace

    return open_workspace(path)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder for the new workspace.")],
    name: Annotated[str, typer.Option(help="Shop name.")] = "shop",
    timezone: Annotated[str, typer.Option(help="Shop time zone (IANA).")] = "UTC",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "CNY",
) -> None:
    """Create a workspace: portrait.toml, the DuckDB warehouse and artifacts/.

    Example: portrait init my-shop --timezone Asia/Shanghai --currency CNY
    """
    from portrait.config import shop_config
    from portrait.workspace import init_workspace

    config = shop_config(name=name, timezone=timezone, currency=currency)
    init_workspace(path, config).close()
    console().print(
        f"Created workspace {path} (已创建工作区). Next: portrait ingest FILE -w {path}"
    )


@app.command()
def ingest(
    source: Annotated[Path, typer.Argument(help="CSV/TSV(.gz), JSON lines, Parquet or Excel.")],
    table_name: Annotated[
        str | None, typer.Option("--table", "-t", help="Canonical table the file fills.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", "-p", help="A named preset (portrait presets).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping file (TOML).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the mapping and the counts; write nothing.")
    ] = False,
    mode: Annotated[
        str,
        typer.Option(
            help="Rows whose key is stored already: insert (keep them), update "
            "(apply their changes) or replace (empty the table first)."
        ),
    ] = "insert",
    delimiter: Annotated[str | None, typer.Option(help="Delimiter: ';', tab, whitespace")] = None,
    encoding: Annotated[str | None, typer.Option(help="utf-8, gbk, gb18030, latin-1 ...")] = None,
    ts_format: Annotated[
        str | None, typer.Option(help="strftime format, 'epoch_s' or 'epoch_ms'.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="Zone of timestamps written without one.")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Ingest a file into the workspace; every row is accepted, a duplicate, or rejected.

    Examples: portrait ingest orders.csv --table orders --dry-run;
    portrait ingest online_retail.csv.gz --preset online-retail
    """
    from portrait.ingest import ingest as run_ingest

    with _open(workspace) as ws:
        report = run_ingest(
            ws, source, table=table_name, preset=preset, mapping=mapping, dry_run=dry_run,
            delimiter=delimiter, encoding=encoding, ts_format=ts_format, timezone=timezone,
            mode=mode,  # type: ignore[arg-type]
        )  # fmt: skip
    _show_ingest(console(), report)


def _show_ingest(out: Console, report: IngestReport) -> None:
    mode = "DRY RUN - nothing written (试运行，未写入)" if report.dry_run else "ingested (已导入)"
    out.print(
        f"[bold]{escape(report.source)}[/] -> {report.table}  ({escape(report.spec)}; {mode})",
    )
    detail = f"format {report.format}"
    if report.encoding:
        detail += f", encoding {report.encoding}"
    if report.delimiter:
        detail += f", delimiter {report.delimiter!r}"
    out.print(detail)
    grid = table("column 字段", "from 来源")
    for canonical, src in report.mapping.items():
        fmt = report.ts_formats.get(canonical.replace(".", "__"))
        grid.add_row(canonical, escape(src) + (f"  [dim](format {escape(fmt)})[/]" if fmt else ""))
    show(out, grid)
    if report.ignored:
        out.print(f"not used (未使用的列): {', '.join(report.ignored)}", markup=False)
    updated = f" + updated {report.updated:,}" if report.mode == "update" else ""
    out.print(
        f"{'would be: ' if report.dry_run else ''}read {report.read:,} = accepted "
        f"{report.accepted:,}{updated} + duplicates {report.duplicates:,} + rejected "
        f"{report.rejected:,}  (读取 = 接受{' + 更新' if updated else ''} + 重复 + 拒绝)"
    )
    if report.replaced:
        out.print(f"  replaced: {report.replaced:,} rows of {report.table} removed first "
                  "(--mode replace; 已替换)")  # fmt: skip
    if report.changed and report.mode == "insert":
        out.print(
            f"  {report.changed:,} of the duplicates are stored with other values and were "
            f"left as they were (e.g. {report.change_example}); to apply them: portrait "
            "ingest FILE --mode update (已存在但取值不同的行未更新)"
        )
    for name, n in report.derived.items():
        out.print(f"  + {n:,} new rows in {name}")
    if report.dry_run and report.sample:
        out.print("first rows as they would be stored (将写入的前几行):")
        grid = table(*report.sample[0])
        for row in report.sample:
            grid.add_row(*(escape("" if v is None else str(v)) for v in row.values()))
        show(out, grid)
    if report.seen_before:
        out.print(
            f"this file was ingested before ({report.seen_before} UTC); its rows are duplicates "
            "now (此文件已导入过)",
        )
    if report.reasons:
        out.print("rejected because (拒绝原因), rows of each kind with an example:")
        for reason, n in report.reasons:
            out.print(f"  {n:>8,}  {reason}", markup=False)
        if not report.dry_run:
            out.print("  every rejected row is in the rejects table: portrait rejects")
    for note in report.notes:
        out.print(f"note: {note}", markup=False)


@app.command()
def status(
    runs: Annotated[int, typer.Option(help="Latest runs to show.")] = 10,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Each table's rows, date range and sources; each build stage's state; the last runs.

    Example: portrait status -w my-shop
    """
    from portrait.pipeline import workspace_status

    with _open(workspace) as ws:
        facts = workspace_status(ws, runs=runs)
    emit(facts, fmt, _show_status)


def _show_status(out: Console, s: WorkspaceStatus) -> None:
    out.print(f"[bold]{escape(s.shop.name)}[/]  time zone {s.shop.timezone}, "
              f"currency {s.shop.currency}")  # fmt: skip
    grid = table("table 表", "rows 行数", "from 起", "to 止", "sources 来源", numeric=[1])
    for t in s.tables:
        grid.add_row(t.name, count(t.rows), str(t.first or "")[:10], str(t.last or "")[:10],
                     escape("; ".join(t.sources)))  # fmt: skip
    show(out, grid)
    if s.identities.aliases:
        out.print(f"identities (身份合并): {s.identities.aliases:,} ids linked to "
                  f"{s.identities.people:,} people")  # fmt: skip
    b = s.build
    if b.as_of is None:
        out.print("not built yet (尚未构建): portrait build")
    else:
        states = ", ".join(f"{st.stage} {st.state.replace('_', ' ')}" for st in b.stages)
        out.print(f"built as of {b.as_of} (截至日期): {states}")
    if b.runs:
        grid = table("started (UTC) 开始", "stage 阶段", "status 状态", "s 秒", "in 读入",
                     "out 写出", "MB 内存", numeric=[3, 4, 5, 6],
                     title="runs 运行: seconds, rows read and written, peak memory MB")  # fmt: skip
        for r in b.runs:
            grid.add_row(str(r.started_at)[:16], r.stage, r.status, f"{r.seconds:.1f}",
                         count(r.rows_read), count(r.rows_written),
                         num(r.peak_memory_mb, 0))  # fmt: skip
        show(out, grid)


@app.command()
def rejects(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Rejected rows with their source, row number, raw values and reason.

    Example: portrait rejects --limit 50
    """
    from portrait.ingest import rejected_rows

    with _open(workspace) as ws:
        facts = rejected_rows(ws, limit=limit)
    emit(facts, fmt, _show_rejects)


def _show_rejects(out: Console, r: Rejects) -> None:
    for row in r.first:
        out.print(f"{row.source}:{row.row_number}  {row.reason}", markup=False)
        out.print(f"    raw (原始值): {row.raw}", markup=False)
    if r.reasons:
        out.print("by reason (按原因):")
        for k in r.reasons:
            out.print(f"  {k.rows:>8,}  {k.reason}", markup=False)
    out.print(f"{r.total:,} rejected rows in all (共 {r.total:,} 行被拒绝)")


@app.command()
def presets() -> None:
    """List the ingest presets for the shared public datasets.

    Example: portrait presets
    """
    from portrait.ingest import PRESETS

    grid = table("preset", "fills 目标表", "what 说明")
    for spec in PRESETS.values():
        grid.add_row(spec.name, spec.table, spec.description)
    show(console(), grid)


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="Where to build the demo workspace.")] = Path(
        "demo-shop"
    ),
) -> None:
    """Build a workspace from the bundled Online Retail sample and summarise the shop.

    Example: portrait demo --path demo-shop
    """
    from portrait.datasets.demo import run_demo

    result = run_demo(path)
    out = console()
    _show_ingest(out, result.ingest)
    _show_demo(out, result)


def _show_demo(out: Console, result: DemoResult) -> None:
    ov = result.overview
    cur = ov.currency
    out.print()
    out.print(f"[bold]The shop at a glance (店铺概览)[/]  {result.attribution}")
    if ov.first_order and ov.last_order:
        out.print(
            f"  {ov.first_order:%Y-%m-%d} .. {ov.last_order:%Y-%m-%d}: {ov.orders:,} orders "
            f"({ov.cancelled_orders:,} cancelled, {ov.guest_orders:,} by guests)"
        )
    out.print(
        f"  {ov.customers:,} customers bought (购买客户数); {ov.repeat_customers:,} "
        f"({ov.repeat_share:.0%}) came back for a second order (复购率)",
    )  # fmt: skip
    out.print(
        f"  revenue {ov.revenue:,.0f} {cur} (销售额), average order {ov.average_order_value:,.2f} "
        f"{cur} (客单价), merchandise only",
    )  # fmt: skip
    out.print("  best sellers (畅销商品):")
    for item in ov.top_items:
        out.print(f"    {escape(item.title or item.item_id)}: {item.revenue:,.0f} {cur}, "
                  f"{item.buyers:,} buyers")  # fmt: skip
    countries = ", ".join(f"{c.country} {c.customers:,}" for c in ov.top_countries)
    out.print(f"  customers by country (客户国家): {countries}")
    if ov.peak_month is not None:
        peak = ov.peak_month
        out.print(f"  busiest month (销售高峰): {peak.month:%Y-%m} with {peak.revenue:,.0f} "
                  f"{cur} from {peak.customers:,} customers")  # fmt: skip
    seg = result.segments
    out.print(f"[bold]Who the customers are (客户分层)[/], as of {result.build.as_of}:")
    for s in seg.rfm_segment[:6]:
        out.print(f"  {both(s.label)}: {s.customers:,} customers ({s.share:.0%}) bring "
                  f"{pct(s.value_share)} of the revenue")  # fmt: skip
    stages = ", ".join(f"{both(s.label)} {s.customers:,}" for s in seg.lifecycle_stage)
    out.print(f"  lifecycle (生命周期): {stages}")
    val = result.value
    if val is not None and val.clv:
        months = val.clv_months
        out.print(
            f"[bold]What they are worth (客户价值)[/]: {val.clv:,.0f} {cur} expected from "
            f"today's customers over the next {months} months (预测{months}个月价值, BG/NBD + "
            f"Gamma-Gamma), {num(val.expected_purchases_90d, 0)} purchases in the next 90 days",
        )
        for t in val.tiers:
            out.print(f"  {both(t.label)}: {t.customers:,} customers, {pct(t.clv_share)} of the "
                      "expected value")  # fmt: skip
        out.print(
            f"  at high risk of churning (高流失风险): {val.at_risk_customers:,} customers "
            f"holding {pct(val.at_risk_clv_share)} of the expected value",
        )  # fmt: skip
    who = "USER_ID"
    if result.example is not None:
        who = result.example.user_id
        out.print(f"[bold]What to offer (推荐)[/]: every customer has a list; the most valuable "
                  f"one, {escape(who)}, gets:")  # fmt: skip
        for r in result.example.items:
            why = r.reason_label
            name = escape(r.title or r.item_id)
            out.print(f"  {name}: {escape(why.en)} ({escape(why.zh)})")
    rev = result.reviews
    if rev is not None and rev.reviews:
        out.print(f"[bold]What customers say (评价)[/]: {escape(result.reviews_attribution)}")
        out.print(f"  {rev.reviews:,} reviews: {pct(rev.positive_share)} positive (正面), "
                  f"{pct(rev.negative_share)} negative (负面)")  # fmt: skip
        talked = "; ".join(f"{both(a.label)} {a.mentions:,} mentions, {pct(a.negative_share)} "
                           "negative" for a in rev.aspects[:4])  # fmt: skip
        if talked:
            out.print(f"  what they talk about (评价维度): {talked}")
        for i in rev.most_negative_items[:3]:
            about = label("aspect", i.top_complaint)
            out.print(f"  most criticised (差评较多): item {escape(i.item_id)}, "
                      f"{pct(i.negative_share)} of {i.reviews} reviews negative"
                      + (f", mostly about {both(about)}" if about else ""))  # fmt: skip
    if result.persona is not None:
        p = result.persona
        out.print(f"[bold]A persona (人群画像)[/]: {escape(p.text.name)} "
                  f"({both(label('llm_source', p.source))})")  # fmt: skip
        out.print(f"  {escape(p.text.description)}")
        for action in p.text.actions[:2]:
            out.print(f"  - {escape(action)}")
    notes(out, result.build.notes, prefix="  note (提示): ")
    out.print(
        f"Workspace: {result.path}  (next: portrait value / portrait reviews / portrait persona "
        f"/ portrait recommend {who} / portrait profile {who} -w {result.path})",
    )  # fmt: skip


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the files.")],
    users: Annotated[int, typer.Option(help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    days: Annotated[int, typer.Option(help="Days of history.")] = 365,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2024-01-01",
    events_per_user: Annotated[float, typer.Option(help="Mean events per customer.")] = 10.0,
    tables: Annotated[
        str | None, typer.Option(help="Comma-separated tables to write (default all).")
    ] = None,
    bgnbd: Annotated[
        str | None,
        typer.Option(help="Plant a BG/NBD purchase process: r,alpha,a,b (alpha in days)."),
    ] = None,
    aliases: Annotated[
        bool,
        typer.Option(
            help="A new customer id per order, linked to the person in "
            "customers.csv (as marketplace exports do)."
        ),
    ] = False,
) -> None:
    """Write a synthetic shop (all canonical tables) for benchmarks and experiments.

    Example: portrait generate --users 100000 --format csv --out /tmp/shop
    """
    from portrait.datasets.generator import generate_shop

    planted = None
    if bgnbd:
        try:
            planted = [float(v) for v in bgnbd.split(",")]
        except ValueError:
            raise ConfigError(
                f"--bgnbd {bgnbd!r} is not four numbers; write it like 0.25,20,0.8,2.5."
            ) from None
    written = generate_shop(
        out_dir, users=users, seed=seed, fmt=fmt, days=days, start=start,  # type: ignore[arg-type]
        events_per_user=events_per_user, bgnbd=planted, aliases=aliases,
        tables=[t.strip() for t in tables.split(",")] if tables else None,
    )  # fmt: skip
    out = console()
    for name, n in written.items():
        out.print(f"{name}: {n:,} rows")
    out.print(f"written to {out_dir}")


@app.command()
def build(
    as_of: Annotated[
        str | None, typer.Option(help="Compute as of this local date, YYYY-MM-DD.")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (default: config).")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, stale or not.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Go ahead with more than [llm].max_paid_calls calls.")
    ] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Build features, segments, value models, review text, tags, recommendations and
    personas (the stale stages).

    Example: portrait build --as-of 2011-12-10 -w my-shop
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from portrait.api.events import fold
    from portrait.api.snapshot import publish_if_changed
    from portrait.pipeline import STAGES
    from portrait.pipeline import build as run_build

    out = console()
    with _open(workspace) as ws, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=out, disable=quiet or not out.is_terminal, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("build", total=len(STAGES))

        def progress(stage: str, event: str) -> None:
            if event == "start":
                bar.update(task, description=stage)
            else:
                bar.advance(task)

        def finished(r: RunRecord) -> None:  # printed above the bar, which stays at the bottom
            bar.console.print(f"  {r.stage}: {count(r.rows_read) or '-'} -> "
                              f"{count(r.rows_written)} rows, {r.seconds:.1f} s, "
                              f"peak {num(r.peak_memory_mb, 0)} MB")  # fmt: skip

        folded = fold(ws)  # the events the API server received, first
        result = run_build(ws, as_of, engine=engine, force=force, progress=progress,
                           on_run=finished, yes=yes)  # fmt: skip
        published = publish_if_changed(ws, served_only=True)  # for `portrait serve`
    if folded.ingest is not None:
        out.print(f"folded in {folded.ingest.accepted:,} events the API received "
                  f"({folded.ingest.duplicates:,} duplicates; 已并入实时事件)")  # fmt: skip
    out.print(f"built as of {result.as_of} (截至日期)")
    if result.skipped:
        out.print(f"  up to date, not rerun (无需重算): {', '.join(result.skipped)}")  # fmt: skip
    notes(out, result.notes, prefix="  note (提示): ")
    if published is not None:
        out.print(f"published snapshot {published.run_id} for the API server (已发布快照)")


@app.command()
def serve(
    workspaces: Annotated[
        list[Path] | None,
        typer.Option("--workspace", "-w", help="A workspace (shop) to serve; repeat for more."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API for one or more shops (each workspace is /v1/shops/<folder name>).

    Example: portrait serve -w shop-a -w shop-b --port 8000  (then open /docs)
    """
    import uvicorn

    from portrait.api import ServerConfig, create_app

    config = ServerConfig(workspaces=workspaces or [Path(".")], host=host, port=port)
    server = create_app(config)
    console().print(f"serving {', '.join(config.shops())} on http://{host}:{port} "
                    "(API docs: /docs; 接口文档)")  # fmt: skip
    uvicorn.run(server, host=host, port=port, log_level="info")


api_key_app = typer.Typer(
    help="API keys of a shop for the REST API (roles: viewer < analyst < admin): create, "
    "list, revoke.\n\nExample: portrait api-key create --role analyst -w my-shop",
    no_args_is_help=True,
)
app.add_typer(api_key_app, name="api-key")


@api_key_app.command("create")
def api_key_create(
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Make a key for the shop; it is printed once and stored only as a salted hash.

    Example: portrait api-key create --role analyst -w my-shop
    """
    import getpass

    from portrait.api.keys import create_key

    _open(workspace)  # a clear error if the folder is not a workspace
    made = create_key(workspace, role, created_by=getpass.getuser())
    out = console()
    out.print(f"{made.info.role} key {made.info.key_id} for shop {made.info.shop} "
              "(shown once; 仅显示一次):", markup=False)  # fmt: skip
    sys.stdout.write(made.key + "\n")


@api_key_app.command("list")
def api_key_list(fmt: FormatOpt = Format.TABLE, workspace: WorkspaceOpt = Path(".")) -> None:
    """The shop's keys: id, role, when and by whom made (never the keys).

    Example: portrait api-key list -w my-shop
    """
    from portrait.api.keys import list_keys

    _open(workspace)
    emit(list_keys(workspace), fmt, _show_keys)


def _show_keys(out: Console, keys: ApiKeys) -> None:
    grid = table("key id", "role 角色", "shop 店铺", "created 创建时间", "by 创建人")
    for k in keys.keys:
        grid.add_row(k.key_id, k.role, escape(k.shop), str(k.created_at), escape(k.created_by))
    show(out, grid)


@api_key_app.command("revoke")
def api_key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (portrait api-key list).")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Revoke a key; a running server refuses it within a second.

    Example: portrait api-key revoke 3f2a9c0d1b7e -w my-shop
    """
    from portrait.api.keys import revoke_key

    _open(workspace)
    info = revoke_key(workspace, key_id)
    console().print(f"revoked {info.role} key {info.key_id} (已吊销)", markup=False)


events_app = typer.Typer(
    help="Events the API server received (portrait build folds them in first).\n\n"
    "Example: portrait events fold -w my-shop",
    no_args_is_help=True,
)
app.add_typer(events_app, name="events")


@events_app.command("fold")
def events_fold(workspace: WorkspaceOpt = Path(".")) -> None:
    """Ingest the events the API server stored into the warehouse (portrait build does it too).

    Example: portrait events fold -w my-shop
    """
    from portrait.api.events import fold

    with _open(workspace) as ws:
        report = fold(ws)
    out = console()
    if report.ingest is None:
        out.print("no events waiting (没有待并入的事件)")
        return
    _show_ingest(out, report.ingest)


@app.command()
def forget(
    user_id: Annotated[str, typer.Argument(help="The customer's id (an alias names its person).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do it without asking.")] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Forget a customer: remove them (and their aliases) from every table, cache, export,
    event file and API snapshot; record when and by whom, not whom.

    Example: portrait forget 12347 -w my-shop --yes
    """
    import getpass

    from portrait.api.forget import forget as forget_customer

    _open(workspace)
    if not yes:
        typer.confirm(f"Forget customer {user_id} everywhere in {workspace}? This cannot be "
                      "undone (删除后无法恢复)", abort=True)  # fmt: skip
    report, _ = forget_customer(workspace, user_id, requested_by=getpass.getuser())
    out = console()
    out.print(f"forgotten (已删除): {report.rows:,} rows from {len(report.tables)} tables, "
              f"{report.cache_files} cached responses, {report.export_files} export files, "
              f"{report.event_files} event files; recorded as {report.forget_id}")  # fmt: skip


@app.command()
def tags(
    features: Annotated[
        bool, typer.Option("--features", help="List the features rules can use.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Tags with their coverage and values (or, with --features, the features).

    Example: portrait tags -w my-shop
    """
    from portrait.tags import feature_catalogue, tag_report

    with _open(workspace) as ws:
        if features:
            emit(feature_catalogue(ws), fmt, _show_features)
            return
        facts = tag_report(ws)
    emit(facts, fmt, _show_tags)


def _empty_because(code: str | None) -> str:

    return both(label("missing_data", code)) if code else ""


def _show_features(out: Console, c: FeatureCatalogue) -> None:
    grid = table("feature 特征", "type", "window", "meaning 含义", "empty because 为空原因")
    for f in c.features:
        grid.add_row(f.name, f.dtype, f"{f.window}d" if f.window else "all",
                     f"{f.label.en} / {f.label.zh}", _empty_because(f.empty_because))  # fmt: skip
    show(out, grid)


def _show_tags(out: Console, r: TagReport) -> None:
    grid = table("tag 标签", "kind", "name 名称", "coverage 覆盖率", "values 取值分布", numeric=[3])
    for t in r.tags:
        shown = ", ".join(
            f"{both(v.label) if v.label else v.value} {v.share:.0%}" for v in t.values[:5]
        )
        if len(t.values) > 5:
            shown += f", ... ({len(t.values)} values)"
        grid.add_row(t.name, t.kind, both(t.label), f"{t.coverage:.0%}",
                     escape(shown or f"(empty: {_empty_because(t.empty_because)})"))  # fmt: skip
    show(out, grid)
    out.print(f"{r.customers:,} customers (客户数)")


@app.command()
def segments(fmt: FormatOpt = Format.TABLE, workspace: WorkspaceOpt = Path(".")) -> None:
    """RFM segments, lifecycle stages and clusters: size, value share, averages.

    Example: portrait segments -w my-shop
    """
    from portrait.segments import segment_report

    with _open(workspace) as ws:
        facts = segment_report(ws)
    emit(facts, fmt, _show_segments)


def _show_segments(out: Console, r: SegmentReport) -> None:
    titles = {
        "rfm_segment": "RFM segments (RFM分层)",
        "lifecycle_stage": "Lifecycle stages (生命周期)",
        "cluster": "Behavioural clusters (行为聚类)",
    }
    for key, title in titles.items():
        grid = table("segment 分层", "customers 客户", "share 占比", "value 价值占比",
                     "orders 订单", "days since 未购天数", "spend 消费", title=title,
                     numeric=range(1, 7))  # fmt: skip
        for s in getattr(r, key):
            name = both(s.label) if key != "cluster" else f"{s.segment}: {both(s.label)}"
            grid.add_row(name, count(s.customers), pct(s.share), pct(s.value_share),
                         num(s.avg_frequency), num(s.avg_recency_days),
                         num(s.avg_monetary))  # fmt: skip
        show(out, grid)
    c = r.clustering
    if c is not None:
        tried = ", ".join(f"{k}: {v:.3f}" for k, v in c.silhouettes.items())
        out.print(f"{c.k} clusters chosen by silhouette (轮廓系数) {c.silhouette:.3f}; "
                  f"tried {tried}")  # fmt: skip
        for p in c.clusters:
            traits = "; ".join(
                f"{t.feature} {num(t.mean, 2)} vs shop {num(t.shop_mean, 2)} ({t.z:+.1f} sd)"
                for t in p.traits
            )
            out.print(f"  cluster {p.cluster} ({escape(both(p.label))}): {traits}")  # fmt: skip


@app.command()
def reviews(
    items: Annotated[int, typer.Option(help="Most negatively reviewed items to list.")] = 10,
    min_reviews: Annotated[int, typer.Option(help="Reviews an item needs to be listed.")] = 3,
    item: Annotated[
        str | None, typer.Option(help="One item: its complaints, praise and example reviews.")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """What customers say: review sentiment overall, by language, and the worst items.

    Example: portrait reviews --items 5 --format json -w my-shop
    """
    from portrait.text import review_summary
    from portrait.text.portraits import item_reviews

    with _open(workspace) as ws:
        if item is not None:
            one = item_reviews(ws, item)
        else:
            facts = review_summary(ws, items=items, min_reviews=min_reviews)
    if item is not None:
        emit(one, fmt, _show_item_reviews)
    else:
        emit(facts, fmt, _show_reviews)


def _show_item_reviews(out: Console, r: ItemReviews) -> None:
    out.print(f"item (商品) {escape(r.item_id)}: {r.reviews} reviews (条评价), "
              f"{pct(r.positive_share)} positive (正面), {pct(r.negative_share)} negative (负面)"
              + (f"; its category (类目) {pct(r.category_negative_share)} negative"
                 if r.category_negative_share is not None else ""))  # fmt: skip
    grid = table("aspect 维度", "praise 好评", "complaints 差评", numeric=range(1, 3))
    for a in r.aspects:
        grid.add_row(both(a.label), count(a.positive_reviews), count(a.negative_reviews))
    show(out, grid)
    for title, texts in (("praise (好评)", r.praise_examples),
                         ("complaints (差评)", r.complaint_examples)):  # fmt: skip
        for text in texts:
            out.print(f"  {title}: {escape(text)}")


def _show_reviews(out: Console, r: ReviewSummary) -> None:

    model = both(label("sentiment_model", r.model)) if r.model else "none (无)"
    out.print(f"{r.reviews:,} reviews (条评价), scored by (模型) {model}")
    grid = table("language 语言", "reviews 评价", "positive 正面", "neutral 中性",
                 "negative 负面", numeric=range(1, 5))  # fmt: skip
    for x in [r, *r.by_language]:
        grid.add_row(getattr(x, "lang", "all 全部"), count(x.reviews), pct(x.positive_share),
                     pct(x.neutral_share), pct(x.negative_share))  # fmt: skip
    show(out, grid)
    grid = table("item 商品", "reviews 评价", "negative 负面", "mean score 平均得分",
                 "top complaint 主要差评点",
                 title=f"Most negative items (差评最多的商品, >= {r.min_reviews} reviews)",
                 numeric=range(1, 4))  # fmt: skip
    for i in r.most_negative_items:
        grid.add_row(i.item_id, count(i.reviews), pct(i.negative_share), num(i.mean_score, 2),
                     both(label("aspect", i.top_complaint)) if i.top_complaint else "")  # fmt: skip
    show(out, grid)
    if r.aspects:
        grid = table("aspect 维度", "mentions 提及", "positive 正面", "negative 负面",
                     title="What the reviews talk about (评价维度)",
                     numeric=range(1, 4))  # fmt: skip
        for a in r.aspects:
            grid.add_row(both(a.label), count(a.mentions), pct(a.positive_share),
                         pct(a.negative_share))  # fmt: skip
        show(out, grid)


@app.command()
def similar(
    item_id: Annotated[str, typer.Argument(help="The item.")],
    n: Annotated[int, typer.Option("-n", help="How many.")] = 10,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Items whose titles and reviews read most like this one (相似商品, text vectors).

    Example: portrait similar 85099B -n 5 -w my-shop
    """
    from portrait.text.vectors import similar_items

    with _open(workspace) as ws:
        facts = similar_items(ws, item_id, n=n)
    emit(facts, fmt, _show_similar)


def _show_similar(out: Console, r: SimilarItems) -> None:
    out.print(f"like (相似于) {escape(r.title or r.item_id)}:")
    grid = table("item 商品", "title 名称", "similarity 相似度", "reviews 评价",
                 numeric=range(2, 4))  # fmt: skip
    for s in r.items:
        grid.add_row(s.item_id, escape(s.title or ""), num(s.similarity, 2), count(s.reviews))
    show(out, grid)


@app.command()
def profile(
    user_id: Annotated[str, typer.Argument(help="The customer's id.")],
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """One customer's portrait: key numbers, segments, value and churn risk, tags.

    Example: portrait profile 12347 -w my-shop
    """
    from portrait.profile import customer_profile

    with _open(workspace) as ws:
        facts = customer_profile(ws, user_id)
    emit(facts, fmt, _show_profile)


@app.command()
def persona(
    user_id: Annotated[
        str | None, typer.Argument(help="One customer's id (default: segments and clusters).")
    ] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only this RFM segment or lifecycle stage (its code).")
    ] = None,
    cluster: Annotated[int | None, typer.Option(help="Only this cluster.")] = None,
    language: Annotated[
        str | None, typer.Option(help="zh or en (default: [llm].language).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Go ahead with more than [llm].max_paid_calls calls.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Personas (人群画像) of segments and clusters, or of one customer, grounded in numbers.

    With no options: the personas `portrait build` wrote.

    Example: portrait persona --segment Champions -w my-shop
    """
    from portrait.llm import customer_persona, segment_personas
    from portrait.llm.stage import built_personas

    if language not in (None, "zh", "en"):
        raise ConfigError(f"--language {language!r} is not zh or en; use one of them.")
    if user_id is not None and (segment is not None or cluster is not None):
        raise ConfigError("Give a customer's id or --segment/--cluster, not both.")
    lang = cast("Language | None", language)
    everything = user_id is None and segment is None and cluster is None and language is None
    with _open(workspace) as ws:
        if user_id is not None:
            one = customer_persona(ws, user_id, language=lang)
        elif everything and ws.has_table("personas"):
            facts = built_personas(ws)
        else:
            facts = segment_personas(ws, segment=segment, cluster=cluster, language=lang, yes=yes)
    if user_id is not None:
        emit(one, fmt, _show_customer_persona)
    else:
        emit(facts, fmt, _show_personas)


@app.command(name="copy")
def copy_command(
    segment: Annotated[
        str | None, typer.Option(help="For this RFM segment or lifecycle stage (its code).")
    ] = None,
    cluster: Annotated[int | None, typer.Option(help="For this cluster.")] = None,
    item: Annotated[str | None, typer.Option(help="About this item.")] = None,
    channel: Annotated[str, typer.Option(help="sms, push or email.")] = "sms",
    variants: Annotated[int, typer.Option(help="Variants for an A/B test (1-4).")] = 3,
    language: Annotated[
        str | None, typer.Option(help="zh or en (default: [llm].language).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Go ahead with more than [llm].max_paid_calls calls.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Marketing copy (营销文案) for a segment and/or an item, in variants within the channel's
    length limit (SMS 70 characters with the opt-out).

    Example: portrait copy --segment "At Risk" --item 85123A --channel sms -w my-shop
    """
    from portrait.llm import marketing_copy

    if language not in (None, "zh", "en"):
        raise ConfigError(f"--language {language!r} is not zh or en; use one of them.")
    if channel not in ("sms", "push", "email"):
        raise ConfigError(f"--channel {channel!r} is not sms, push or email; use one of them.")
    with _open(workspace) as ws:
        facts = marketing_copy(
            ws, segment=segment, cluster=cluster, item_id=item,
            channel=cast("Channel", channel), variants=variants,
            language=cast("Language | None", language), yes=yes,
        )  # fmt: skip
    emit(facts, fmt, _show_copy)


def _show_copy(out: Console, c: MarketingCopy) -> None:
    limits = ", ".join(f"{k} <= {v}" for k, v in c.limits.max_chars.items())
    out.print(f"{c.channel} ({escape(limits)} characters 字符)")
    for v in c.variants:
        out.print(f"[bold]{v.id}[/] ({v.angle}; {both(label('llm_source', v.source))})")
        for field, text in v.text.items():
            out.print(f"  {field} ({v.lengths[field]}): {escape(text)}")


@app.command()
def describe(
    item_id: Annotated[str, typer.Argument(help="The item.")],
    language: Annotated[
        str | None, typer.Option(help="zh or en (default: [llm].language).")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """A product description (商品描述) from the item's data and what its reviews praise,
    with the merchant's watch-outs from what they criticise.

    Example: portrait describe 85099B --language en -w my-shop
    """
    from portrait.llm import product_description

    if language not in (None, "zh", "en"):
        raise ConfigError(f"--language {language!r} is not zh or en; use one of them.")
    with _open(workspace) as ws:
        facts = product_description(ws, item_id, language=cast("Language | None", language))
    emit(facts, fmt, _show_description)


def _show_description(out: Console, d: ProductDescription) -> None:
    out.print(f"[bold]{escape(d.text.headline)}[/] ({both(label('llm_source', d.source))})")
    out.print(f"  {escape(d.text.description)}")
    for point in d.text.selling_points:
        out.print(f"  + {escape(point)}")
    for watch in d.text.watch_outs:
        out.print(f"  ! for the merchant (仅供商家): {escape(watch)}")


@app.command()
def ask(
    user_id: Annotated[str, typer.Argument(help="The customer who asks.")],
    question: Annotated[str, typer.Argument(help="Their question, in Chinese or English.")],
    language: Annotated[
        str | None, typer.Option(help="Answer in zh or en (default: the question's).")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """The customer-service assistant (智能客服): answers from that customer's own data only.

    Example: portrait ask 12347 "我最近一次的订单是什么？" -w my-shop
    """
    from portrait.llm.assistant import ask as answer

    if language not in (None, "zh", "en"):
        raise ConfigError(f"--language {language!r} is not zh or en; use one of them.")
    with _open(workspace) as ws:
        facts = answer(ws, user_id, question, language=cast("Language | None", language))
    emit(facts, fmt, _show_answer)


def _show_answer(out: Console, a: Answer) -> None:
    out.print(escape(a.text.answer))
    if a.refused:
        out.print(f"  (refused, 已拒绝: {a.refusal})")
        return
    out.print(f"  intent (意图): {both(a.intent_label)}; source (来源): "
              f"{both(label('llm_source', a.source))}")  # fmt: skip
    f = a.facts
    if f is not None:
        used = [f"order {o.order_id}" for o in ([f.focus] if f.focus else [])]
        used += [f"item {p.item_id}" for p in f.products + f.recommendations]
        out.print(f"  facts used (依据): {', '.join(used) or 'none'}; "
                  f"{f.orders_total} orders on the account")  # fmt: skip


def _show_customer_persona(out: Console, p: CustomerPersona) -> None:
    source = both(label("llm_source", p.source))
    out.print(f"[bold]{escape(p.text.name)}[/] (customer {escape(p.user_id)}; {source})")
    out.print(f"  {escape(p.text.description)}")
    out.print(f"  {escape(p.text.distinguishing)}")
    for action in p.text.actions:
        out.print(f"  - {escape(action)}")


def _show_personas(out: Console, r: Personas) -> None:
    for p in r.personas:
        source = both(label("llm_source", p.source))
        out.print(f"[bold]{escape(p.text.name)}[/] ({p.grouping} {escape(p.segment)}; {source})")
        out.print(f"  {escape(p.text.description)}")
        out.print(f"  {escape(p.text.distinguishing)}")
        for action in p.text.actions:
            out.print(f"  - {escape(action)}")
    out.print(f"{r.model}: {r.requests} requests, {count(r.prompt_tokens)} + "
              f"{count(r.completion_tokens)} tokens")  # fmt: skip


def _rows(out: Console, title: str, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    out.print(f"[bold]{title}[/]")
    for name, value in rows:
        out.print(f"  {name}: {escape(value)}")


def _show_profile(out: Console, p: CustomerProfile) -> None:
    out.print(f"[bold]Customer {escape(p.user_id)} (客户画像)[/]  as of {p.as_of or '?'}")

    def features(group: str) -> list[tuple[str, str]]:
        return [(str(f.label), feature_value(f.value, f.unit))
                for f in p.features if f.group == group]  # fmt: skip

    _rows(out, "Key numbers (核心指标)", features("key"))
    s = p.segments
    seg = []
    if s.rfm_segment:
        m = s.m_score if s.m_score is not None else "-"
        seg.append(("RFM segment (RFM分层)",
                    f"{both(s.rfm_label)} (R{s.r_score} F{s.f_score} M{m})"))  # fmt: skip
    if s.lifecycle_stage:
        seg.append(("Lifecycle stage (生命周期)", both(s.lifecycle_label)))
    if s.cluster is not None:
        seg.append(("Behavioural cluster (行为聚类)", f"{s.cluster}: {both(s.cluster_label)}"))
    _rows(out, "Segments (分层)", seg)
    v = p.value
    if v is not None:
        rows = []
        if v.clv is not None:
            months = v.clv_months
            what = f"{v.clv:,.2f} {v.currency}; tier {both(v.value_tier_label)}"
            rows.append((f"Predicted value, next {months} months (预测{months}个月价值)", what))
        else:
            rows.append(("Value tier (价值等级)", both(v.value_tier_label)))
        rows.append(("Still a customer, probability (仍活跃概率)", pct(v.p_alive, 0)))
        rows.append(("Expected purchases, next 90 days (未来90天预计购买)",
                     num(v.expected_purchases_90d, 2)))  # fmt: skip
        rows.append(("Next purchase expected (预计下次购买)", both(v.next_purchase_label)))
        if v.churn_probability is not None:
            rows.append((f"Churn risk, {v.churn_horizon_days} days (流失风险)",
                         f"{pct(v.churn_probability, 0)} {both(v.churn_risk_label)}"))  # fmt: skip
        reasons = []
        for r in v.reasons:
            text = f"{r.label.en} / {r.label.zh}"
            if r.value is not None:
                text += f": {feature_value(r.value, r.unit)}"
                if r.typical is not None:
                    text += f" (typical 常见值 {feature_value(r.typical, r.unit)})"
            reasons.append(text)
        if reasons:
            rows.append(("What raises the risk most (主要流失原因)", "; ".join(reasons)))
        _rows(out, "Value and churn risk (价值与流失风险)", rows)
    yes = [both(t.label) for t in p.tags if t.kind == "rule"]
    tag_rows = [("Tagged (命中标签)", "; ".join(yes))] if yes else []
    tag_rows += [(str(t.label), both(t.value_label) if t.value_label else str(t.value))
                 for t in p.tags if t.kind == "fact"]  # fmt: skip
    _rows(out, "Tags (标签)", tag_rows)
    _rows(out, "Behaviour (行为)", features("behaviour"))


@app.command()
def value(
    calibration_end: Annotated[
        str | None,
        typer.Option(help="Last day of the calibration period (default: 60% into the data)."),
    ] = None,
    holdout_end: Annotated[
        str | None, typer.Option(help="Last day of the holdout (default: the data's end).")
    ] = None,
    churn_date: Annotated[
        str | None,
        typer.Option(help="Date the churn model is tested at (default: the latest possible)."),
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Customer value and churn: the saved models and how well they predict.

    Fits the purchase model up to --calibration-end and compares its predictions of the
    holdout with what customers did and with two baselines; trains the churn model on an
    earlier date and tests it on a later one against three baselines.

    Example: portrait value --calibration-end 2011-06-30 -w my-shop
    """
    from portrait.value import value_report

    with _open(workspace) as ws:
        facts = value_report(ws, calibration_end=calibration_end, holdout_end=holdout_end,
                             churn_date=churn_date)  # fmt: skip
    emit(facts, fmt, _show_value)


def _method(code: str) -> str:

    return both(label("method", code))


def _show_value(out: Console, r: ValueReport) -> None:
    cur = r.currency
    if r.saved is not None:
        p = r.saved.purchase
        params = ", ".join(f"{k}={v:.4g}" for k, v in p.params.items())
        out.print(
            f"[bold]Saved models (已保存模型)[/] as of {p.as_of}, fitted on {p.customers:,} "
            f"customers' purchases {p.data_from}..{p.data_to} (Portrait "
            f"{p.portrait_version}): {p.kind} {params}",
        )  # fmt: skip
        if r.saved.spend is not None:
            s = r.saved.spend
            params = ", ".join(f"{k}={v:.4g}" for k, v in s.params.items())
            out.print(f"  gamma_gamma {params}; mean spend per purchase "
                      f"{num(s.mean_spend, 2)} {cur}")  # fmt: skip
    else:
        out.print("No saved models yet (尚未保存模型): run portrait build to fit and save them.")
    h = r.holdout
    grid = table(
        "method 方法", "predicted 预测", "actual 实际", "MAE 每客户误差", numeric=[1, 2, 3],
        title=f"Repeat purchases: calibration to {h.calibration_end}, holdout to "
        f"{h.holdout_end} ({h.horizon_days} days), {h.customers:,} customers (复购预测)",
    )  # fmt: skip
    for m in h.predicted_total:
        grid.add_row(_method(m), num(h.predicted_total[m], 2), count(h.actual_total),
                     f"{h.mae[m]:.3f}")  # fmt: skip
    show(out, grid)
    params = ", ".join(f"{k}={v:.4g}" for k, v in h.model["params"].items())
    out.print(f"  {h.model['kind']} fitted by maximum likelihood: {params}")
    out.print(f"  best per-customer MAE: {_method(h.best_method)}")
    grid = table("repeats 校准期复购", "customers 客户", "actual 实际",
                 *[_method(m) for m in h.predicted_total], numeric=range(1, 3 + len(h.mae)),
                 title="Mean holdout repeat purchases by calibration repeat purchases "
                 "(按校准期复购次数分组)")  # fmt: skip
    for g in h.groups:
        grid.add_row(g.group, count(g.customers), num(g.actual, 2),
                     *[num(g.predicted.get(m), 2) for m in h.predicted_total])  # fmt: skip
    show(out, grid)
    grid = table("month 月份", "days 天数", "actual 实际", "predicted 预测", "gap 偏差",
                 numeric=range(1, 5), title="Repeat purchases by month of the holdout "
                 "(验证期逐月复购)")  # fmt: skip
    for mo in h.months:
        gap = "" if mo.gap is None else f"{mo.gap:+.0%}"
        grid.add_row(mo.month, str(mo.days), count(mo.actual), num(mo.predicted, 2), gap)
    show(out, grid)
    notes(out, h.notes, prefix="  ")
    c = r.churn
    model = c.metrics["model"]
    grid = table(
        "method 方法", "ROC AUC", "PR AUC", numeric=[1, 2],
        title=f"Churn = no purchase in {c.horizon_days} days: trained as of {c.train_as_of} and "
        f"earlier snapshots ({c.train_customers:,} rows), tested as of {c.test_as_of} on "
        f"{c.test_customers:,} customers, {c.test_churn_rate:.1%} churned (流失预测)",
    )  # fmt: skip
    for k, v in c.metrics.items():
        grid.add_row(_method(k), f"{v['roc_auc']:.3f}", f"{v['pr_auc']:.3f}")
    show(out, grid)
    out.print(f"  at the operating threshold {c.threshold:.2f} (best F1 on held-back training "
              f"customers): precision {model['precision']:.1%}, recall "
              f"{model['recall']:.1%}; Brier score {model['brier']:.3f}")  # fmt: skip
    out.print("  the model beats every baseline on ROC AUC" if c.beats_baselines
              else "  the model does NOT beat every baseline on ROC AUC here")  # fmt: skip
    grid = table("decile 分位", "customers 客户", "predicted 预测", "observed 实际",
                 numeric=range(4), title="Calibration: predicted against observed churn by "
                 "decile (校准：预测与实际流失率)")  # fmt: skip
    for b in c.calibration:
        grid.add_row(str(b.decile), count(b.customers), pct(b.predicted), pct(b.observed))
    show(out, grid)
    grid = table(
        "feature 特征",
        "meaning 含义",
        "weight 权重",
        numeric=[2],
        title="What drives the churn score (mean |contribution|) (流失驱动因素)",
    )
    for d in c.importance:
        grid.add_row(d.feature, f"{d.label.en} / {d.label.zh}", f"{d.weight:.3f}")
    show(out, grid)


class _RecommendGroup(typer.core.TyperGroup):
    """``portrait recommend USER_ID`` shows a list; ``portrait recommend evaluate`` compares."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return list(super().parse_args(ctx, args))


recommend_app = typer.Typer(
    cls=_RecommendGroup, no_args_is_help=True,
    help="Recommendations: one customer's list (portrait recommend USER_ID) or the models "
    "compared (portrait recommend evaluate).\n\nExample: portrait recommend 12347 -w my-shop",
)  # fmt: skip
app.add_typer(recommend_app, name="recommend")


@recommend_app.command("show")
def recommend_show(
    user_id: Annotated[str, typer.Argument(help="The customer's id.")],
    n: Annotated[int, typer.Option("-n", help="How many items.")] = 10,
    category: Annotated[
        str | None, typer.Option(help="Only items whose category starts with this.")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """One customer's recommendations with a reason for each.

    Example: portrait recommend 12347 -n 10 -w my-shop
    """
    from portrait.recommend import recommendations_for

    with _open(workspace) as ws:
        facts = recommendations_for(ws, user_id, n=n, category=category)
    emit(facts, fmt, _show_recommendations)


def _show_recommendations(out: Console, r: CustomerRecommendations) -> None:
    out.print(f"[bold]Recommended for {escape(r.user_id)} (推荐商品)[/]")
    grid = table("#", "item 商品", "category 类目", "why 推荐理由", numeric=[0])
    for item in r.items:
        why = item.reason_label
        grid.add_row(str(item.rank), escape(f"{item.title or item.item_id} ({item.item_id})"),
                     escape(item.category or ""), escape(f"{why.en} / {why.zh}"))  # fmt: skip
    show(out, grid)
    if r.short:
        out.print(f"  only {r.found} items pass the filters (仅有{r.found}个商品符合条件)")


@recommend_app.command("evaluate")
def recommend_evaluate(
    split: Annotated[str, typer.Option(help="time (the default for shops) or random.")] = "time",
    at: Annotated[str | None, typer.Option(help="Time split: first test day, YYYY-MM-DD.")] = None,
    test_share: Annotated[float, typer.Option(help="Random split: share held out.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Random split and model seed.")] = 42,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models (default all).")
    ] = None,
    ratings: Annotated[
        bool, typer.Option(help="Also RMSE/MAE of explicit ratings by 5-fold CV.")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Compare the recommenders on this shop's data: Recall, NDCG, MRR, coverage, novelty.

    Example: portrait recommend evaluate --split time --at 2011-10-01 -w my-shop
    """
    from portrait.recommend import evaluate_workspace
    from portrait.registry import RECOMMENDERS

    chosen = [m.strip() for m in models.split(",")] if models else list(RECOMMENDERS)
    with _open(workspace) as ws:
        facts = evaluate_workspace(ws, split=split, at=at, test_share=test_share, seed=seed,
                                   models=chosen, ratings=ratings)  # fmt: skip
    emit(facts, fmt, _show_evaluation)


def _show_evaluation(out: Console, e: WorkspaceEvaluation) -> None:
    if e.split == "time":
        how = f"train before {e.test_from}, test {e.test_from}..{e.test_to}"
    else:
        how = f"per-user random split, {e.test_share:.0%} held out, seed {e.seed}"
    out.print(
        f"[bold]Recommenders compared (推荐模型评估)[/]: {how}; {e.test_users:,} test "
        f"customers, {e.items:,} items, full ranking; hyper-parameters chosen on a validation "
        "split of the training data",
    )  # fmt: skip
    if e.dropped_unknown:
        out.print(f"  {e.dropped_unknown:,} test interactions with items unseen in training "
                  "cannot be recommended and are left out")  # fmt: skip
    ks = ("@10", "@20")
    grid = table("model 模型", *[f"recall{k}" for k in ks], *[f"ndcg{k}" for k in ks], "mrr@20",
                 "cov@20", "novelty", "fit s", numeric=range(1, 9))  # fmt: skip
    for r in e.results:
        m = r.metrics
        grid.add_row(
            f"{r.model}{' *' if r.model == e.best else ''}",
            *[f"{m['recall' + k]:.4f}" for k in ks], *[f"{m['ndcg' + k]:.4f}" for k in ks],
            f"{m['mrr@20']:.4f}", f"{m['coverage@20']:.4f}", f"{m['novelty@20']:.2f}",
            f"{r.fit_seconds:.2f}",
        )  # fmt: skip
    show(out, grid)
    for r in e.results:
        if r.params:
            params = ", ".join(f"{k}={v}" for k, v in r.params.items())
            out.print(f"  {r.model}: {params}")
    if e.gain_over_popularity is not None:
        out.print(f"  best: {e.best}, NDCG@20 {e.gain_over_popularity:+.0%} against popularity "
                  "(相对热门基线)")  # fmt: skip
    elif e.ndcg_over_popularity is not None:
        out.print(f"  best: {e.best}, NDCG@20 {e.ndcg_over_popularity:+.4f} against "
                  "popularity, an absolute difference: popularity scored near 0 "
                  "(相对热门基线，绝对差)")  # fmt: skip
    notes(out, e.notes, prefix="  note (提示): ")
    if e.ratings:
        grid = table("rating model 评分模型", "RMSE", "MAE", "fit s per fold", numeric=[1, 2, 3])
        for rr in e.ratings:
            grid.add_row(rr.model, f"{rr.rmse:.4f}", f"{rr.mae:.4f}", f"{rr.fit_seconds:.2f}")
        show(out, grid)


campaign_app = typer.Typer(
    no_args_is_help=True,
    help="Campaigns (营销活动): a random holdout of every stratum of a saved audience, then "
    "the uplift report.\n\nExample: portrait campaign create winback --audience at-risk -w my-shop",
)  # fmt: skip
app.add_typer(campaign_app, name="campaign")


@campaign_app.command("create")
def campaign_create(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    audience: Annotated[str, typer.Option("--audience", "-a", help="A saved audience.")],
    holdout: Annotated[
        float, typer.Option(help="Share of every stratum held out, above 0 and at most 0.5.")
    ] = 0.1,
    stratify: Annotated[
        str, typer.Option(help="Comma-separated columns whose values are the strata ('' none).")
    ] = "rfm_segment",
    seed: Annotated[
        int | None, typer.Option(help="Seed of the draw (default: a random one, recorded).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (default: the build's as-of date).")
    ] = None,
    owner: Annotated[str, typer.Option(help="Who runs the campaign.")] = "",
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Freeze an audience's members and hold out the same random share of every stratum.

    Example: portrait campaign create winback --audience at-risk --holdout 0.1 --seed 7 -w my-shop
    """
    from portrait.audiences import create_campaign

    columns = [c.strip() for c in stratify.split(",") if c.strip()]
    with _open(workspace) as ws:
        facts = create_campaign(ws, name, audience, holdout=holdout, stratify_by=columns,
                                seed=seed, start=start, owner=owner)  # fmt: skip
    emit(facts, fmt, _show_campaign)


def _show_campaign(out: Console, c: Campaign) -> None:
    by = ", ".join(c.stratify_by) or "none"
    out.print(f"[bold]Campaign {escape(c.name)} (营销活动)[/]: audience {escape(c.audience)} "
              f"as of {c.audience_as_of}, starts {c.start}, seed {c.seed}")  # fmt: skip
    out.print(f"{c.members:,} members: treatment {c.treatment:,}, holdout {c.holdout:,} "
              f"({c.holdout_share:.0%} of every stratum by {escape(by)}; 对照组)")  # fmt: skip
    grid = table("stratum 分层", "members 人数", "holdout 对照组", numeric=[1, 2])
    for s in c.strata:
        grid.add_row(escape(s.stratum), count(s.members), count(s.holdout))
    show(out, grid)


@campaign_app.command("list")
def campaign_list(fmt: FormatOpt = Format.TABLE, workspace: WorkspaceOpt = Path(".")) -> None:
    """Every campaign with its audience, start and groups.

    Example: portrait campaign list -w my-shop
    """
    from portrait.audiences import list_campaigns

    with _open(workspace) as ws:
        facts = list_campaigns(ws)
    emit(facts, fmt, _show_campaigns)


def _show_campaigns(out: Console, r: CampaignList) -> None:
    if not r.campaigns:
        out.print("no campaigns yet (暂无活动): portrait campaign create NAME --audience A")
        return
    grid = table("campaign 活动", "audience 人群", "start 开始", "treatment 实验组",
                 "holdout 对照组", numeric=[3, 4])  # fmt: skip
    for c in r.campaigns:
        grid.add_row(escape(c.name), escape(c.audience), str(c.start), count(c.treatment),
                     f"{count(c.holdout)} ({c.holdout_share:.0%})")  # fmt: skip
    show(out, grid)


@campaign_app.command("report")
def campaign_report(
    name: Annotated[str, typer.Argument(help="The campaign's name.")],
    end: Annotated[
        str | None, typer.Option(help="Last day counted, YYYY-MM-DD (default: the data's last).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level of the tests.")] = 0.05,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Treatment against holdout: conversion and revenue uplift, interval, p-value, verdict.

    Says when the groups are too small to tell.

    Example: portrait campaign report winback --end 2024-12-31 -w my-shop
    """
    from portrait.audiences import campaign_report as report

    with _open(workspace) as ws:
        facts = report(ws, name, end=end, alpha=alpha)
    emit(facts, fmt, _show_uplift)


def _points(share: float, sign: str = "+") -> str:
    """A difference of two shares in percentage points: +7.99 pp."""
    return f"{share:{sign}.2%}".replace("%", " pp")


def _show_uplift(out: Console, r: UpliftReport) -> None:
    out.print(f"[bold]Campaign {escape(r.campaign)} (活动效果)[/]: {r.start} to {r.end} "
              f"({r.days} days), audience {escape(r.audience)}")  # fmt: skip
    grid = table("group 组别", "members 人数", "buyers 购买人数", "conversion 转化率",
                 f"revenue/member 人均收入 ({r.currency})", numeric=[1, 2, 3, 4])  # fmt: skip
    for g in r.groups:
        grid.add_row(g.group, count(g.members), count(g.converters), pct(g.conversion_rate, 2),
                     num(g.revenue_per_member, 2))  # fmt: skip
    show(out, grid)
    level = f"{r.confidence:.0%}"
    grid = table("uplift 提升", "difference 差异", f"{level} CI 置信区间", "p", "lift 相对提升",
                 numeric=[1, 2, 3, 4])  # fmt: skip
    c, v = r.conversion, r.revenue
    grid.add_row("conversion 转化率", _points(c.difference),
                 f"{_points(c.ci_low)[:-3]}..{_points(c.ci_high)}", f"{c.p_value:.3g}",
                 "" if c.relative_lift is None else f"{c.relative_lift:+.1%}")  # fmt: skip
    grid.add_row(f"revenue/member 人均收入 ({r.currency})", f"{v.difference:+,.2f}",
                 f"{v.ci_low:+,.2f}..{v.ci_high:+,.2f}", f"{v.p_value:.3g}",
                 "" if v.relative_lift is None else f"{v.relative_lift:+.1%}")  # fmt: skip
    show(out, grid)
    out.print(f"verdict (结论): {escape(both(r.verdict_label))}")
    if r.revenue.verdict != r.verdict:
        out.print(f"  revenue per member (人均收入): {escape(both(r.revenue.verdict_label))}")
    if r.verdict == "no_effect_detected":
        out.print(f"  the groups could find a conversion difference of "
                  f"{_points(r.detectable_difference, sign='')} or more ({r.power:.0%} power; "
                  "可检测的最小差异)")  # fmt: skip
    out.print("[dim]conversion: pooled two-proportion z-test, Newcombe interval; revenue per "
              "member (non-buyers count 0): Welch's t-test[/]")  # fmt: skip


audience_app = typer.Typer(
    no_args_is_help=True,
    help="Audiences (人群圈选): select customers by a definition, save it, see who they are "
    "(insight, TGI) and export them.\n\nExample: portrait audience preview "
    "\"rfm_segment in ('At Risk', 'Hibernating') and days_since_last_order between 30 and "
    "120\" -w my-shop",
)  # fmt: skip
app.add_typer(audience_app, name="audience")

DefinitionArg = Annotated[
    str,
    typer.Argument(help="Rule text such as \"high_value and recency_days > 60\", or JSON such "
                   "as '{\"field\": \"frequency\", \"op\": \">=\", \"value\": 3}'."),
]  # fmt: skip
AudienceArg = Annotated[str, typer.Argument(help="A saved audience's name.")]


@audience_app.command("preview")
def audience_preview(
    definition: DefinitionArg,
    sql: Annotated[bool, typer.Option("--sql", help="Also print the members query.")] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Check a definition and count the customers it selects as of the last build.

    Example: portrait audience preview "high_value and recency_days > 60" -w my-shop
    """
    from portrait.audiences import preview

    with _open(workspace) as ws:
        facts = preview(ws, definition)
    emit(facts, fmt, lambda out, p: _show_audience_preview(out, p, sql=sql))


def _show_audience_preview(out: Console, p: AudiencePreview, *, sql: bool = False) -> None:
    out.print(f"[bold]Audience (人群)[/]: {escape(p.definition)}")
    out.print(f"  {p.customers:,} of {p.base:,} customers ({pct(p.share)}) as of {p.as_of} "
              f"(人数/占比); names used (使用字段): {escape(', '.join(p.names))}")  # fmt: skip
    if sql:
        out.print(escape(p.sql), soft_wrap=True)


@audience_app.command("from-text")
def audience_from_text_command(
    text: Annotated[str, typer.Argument(help="What you want, in Chinese or English.")],
    save: Annotated[
        str | None, typer.Option(help="Save the definition under this name when it parses.")
    ] = None,
    sql: Annotated[bool, typer.Option("--sql", help="Also print the members query.")] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Turn words into a definition (从文字圈人): shows it, its size and the query first.

    The model of [llm] reads the words when one is configured, else a rule-based reader;
    what it cannot read is refused, naming the part.

    Example: portrait audience from-text "近30天加购未下单的高价值女性用户" -w my-shop
    """
    from portrait.audiences import audience_from_text, save_audience

    with _open(workspace) as ws:
        draft = audience_from_text(ws, text)
        if save is not None:
            save_audience(ws, save, draft.definition, description=text)
    emit(draft, fmt, lambda out, d: _show_draft(out, d, sql=sql, saved=save))


def _show_draft(out: Console, d: AudienceDraft, *, sql: bool, saved: str | None) -> None:
    for u in d.understood:
        out.print(f"  {escape(u.span)} -> {escape(u.condition)}")
    _show_audience_preview(out, d, sql=sql)
    out.print(f"  read by (解析): {both(label('llm_source', d.source))}")
    if saved:
        out.print(f"saved as (已保存) {escape(saved)}")


@audience_app.command("save")
def audience_save(
    name: AudienceArg,
    definition: DefinitionArg,
    owner: Annotated[str, typer.Option(help="Who owns it.")] = "",
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace a saved one.")] = False,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Check and save an audience; its size is recorded now and at every build.

    Example: portrait audience save lapsing "recency_days between 60 and 180" --owner crm
    """
    from portrait.audiences import save_audience

    with _open(workspace) as ws:
        facts = save_audience(ws, name, definition, owner=owner, description=description,
                              replace=replace)  # fmt: skip
    emit(facts, fmt, _show_audience)


@audience_app.command("list")
def audience_list(fmt: FormatOpt = Format.TABLE, workspace: WorkspaceOpt = Path(".")) -> None:
    """Saved audiences with their size now.

    Example: portrait audience list -w my-shop
    """
    from portrait.audiences import list_audiences

    with _open(workspace) as ws:
        facts = list_audiences(ws)
    emit(facts, fmt, _show_audience_list)


def _show_audience_list(out: Console, r: AudienceList) -> None:
    if not r.audiences:
        out.print("No saved audiences (暂无人群): portrait audience save NAME DEFINITION")
        return
    grid = table("audience 人群", "owner 负责人", "customers 人数", "share 占比",
                 "updated 更新", "definition 定义", numeric=[2, 3])  # fmt: skip
    for a in r.audiences:
        grid.add_row(escape(a.name), escape(a.owner), count(a.customers), pct(a.share),
                     str(a.updated_at)[:16], escape(a.definition))  # fmt: skip
    show(out, grid)


@audience_app.command("show")
def audience_show(
    name: AudienceArg, fmt: FormatOpt = Format.TABLE, workspace: WorkspaceOpt = Path(".")
) -> None:
    """A saved audience: its definition, its size now and at every build.

    Example: portrait audience show lapsing -w my-shop
    """
    from portrait.audiences import get_audience

    with _open(workspace) as ws:
        facts = get_audience(ws, name)
    emit(facts, fmt, _show_audience)


def _show_audience(out: Console, a: Audience) -> None:
    out.print(f"[bold]{escape(a.name)}[/] (人群)" + (f": {escape(a.description)}"
                                                    if a.description else ""))  # fmt: skip
    _rows(out, "", [
        ("definition 定义", a.definition),
        ("owner 负责人", a.owner),
        ("created 创建", str(a.created_at)[:19]),
        ("updated 更新", str(a.updated_at)[:19]),
        ("now 当前", f"{a.customers:,} of {a.base:,} customers ({pct(a.share)}) as of {a.as_of}"),
    ])  # fmt: skip
    grid = table("as of 截至", "customers 人数", "recorded 统计时间", numeric=[1],
                 title="Size history (规模历史)")  # fmt: skip
    for p in a.sizes:
        grid.add_row(str(p.as_of), count(p.customers), str(p.recorded_at)[:19])
    show(out, grid)


@audience_app.command("delete")
def audience_delete(name: AudienceArg, workspace: WorkspaceOpt = Path(".")) -> None:
    """Delete a saved audience and its size history.

    Example: portrait audience delete lapsing -w my-shop
    """
    from portrait.audiences import delete_audience

    with _open(workspace) as ws:
        delete_audience(ws, name)
    console().print(f"deleted audience {escape(name)} (已删除人群)")


@audience_app.command("insight")
def audience_insight_command(
    name: Annotated[str, typer.Argument(help="A saved audience, or a definition.")],
    against: Annotated[
        str | None, typer.Option(help="Compare with this audience (default: the whole shop).")
    ] = None,
    min_group: Annotated[
        int | None,
        typer.Option(min=1, help="Hide counts below this (default: [audiences] min_group_size)."),
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option(help="Add Laplace noise of scale 1/epsilon to every count.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    min_support: Annotated[
        int, typer.Option(min=0, help="Members a value needs to be ranked by TGI.")
    ] = 30,
    top: Annotated[int, typer.Option(min=1, help="Ranked values to show in the table.")] = 20,
    fmt: FormatOpt = Format.TABLE,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Who is in an audience (人群洞察): its size, revenue and value, and tag values by TGI.

    TGI = share in the audience / share in the base x 100, against the whole shop or
    another audience; counts below the minimum group size are hidden.

    Example: portrait audience insight lapsing --against repeat_buyer -w my-shop
    """
    from portrait.audiences import audience_insight

    with _open(workspace) as ws:
        facts = audience_insight(ws, name, against=against, min_group=min_group,
                                 epsilon=epsilon, min_support=min_support, seed=seed)  # fmt: skip
    emit(facts, fmt, lambda out, r: _show_insight(out, r, top=top))


def _show_insight(out: Console, r: AudienceInsight, *, top: int = 20) -> None:
    base = f"audience {r.against}" if r.against else "the whole shop (全店)"
    out.print(f"[bold]Insight (人群洞察)[/]: {escape(r.name or r.definition)} against "
              f"{escape(base)}, as of {r.as_of}")  # fmt: skip
    if r.suppressed:
        out.print(f"  fewer than {r.min_group:,} customers: nothing is shown, so no one can be "
                  f"singled out (人数少于{r.min_group:,}，不予展示)")  # fmt: skip
        return
    if r.against:
        out.print(f"  {count(r.customers)} customers against {count(r.base_customers)}; "
                  f"revenue {num(r.revenue_share, 2)}x (消费比), expected value "
                  f"{num(r.value_share, 2) or 'unknown'}x (预测价值比)")  # fmt: skip
    else:
        out.print(f"  {count(r.customers)} of {count(r.base_customers)} customers "
                  f"({pct(r.share)}); revenue share {pct(r.revenue_share)} (消费占比), "
                  f"expected value share {pct(r.value_share) or 'unknown'} "
                  "(预测价值占比)")  # fmt: skip
    if r.epsilon is not None:
        out.print(f"  counts carry Laplace noise, epsilon {r.epsilon:g} per count, "
                  f"{r.epsilon_total:g} in all, seed {r.seed} (差分隐私噪声)")  # fmt: skip
    grid = table("#", "tag 标签", "value 取值", "audience 人群占比", "base 基准占比", "TGI",
                 "customers 人数", numeric=[0, 3, 4, 5, 6])  # fmt: skip
    for v in r.ranked[:top]:
        shown = both(v.value_label) if v.value_label else v.value
        grid.add_row(str(v.rank), escape(both(v.tag_label)), escape(shown), pct(v.share),
                     pct(v.base_share), num(v.tgi, 0), count(v.customers))  # fmt: skip
    show(out, grid)
    if r.hidden:
        out.print(f"  {r.hidden} tag values hidden: fewer than {r.min_group:,} customers, or "
                  f"enough to work one out (隐藏{r.hidden}个取值)")  # fmt: skip
    if r.below_support:
        out.print(f"  {r.below_support} values with fewer than {r.min_support} members are not "
                  "ranked (--format json lists every value)")  # fmt: skip


@audience_app.command("export")
def audience_export(
    name: AudienceArg,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    file_format: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="csv or parquet.")
    ] = "csv",
    columns: Annotated[
        str, typer.Option(help="Comma-separated columns after user_id (never PII).")
    ] = "",
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Write an audience's members to CSV or Parquet: user_id and the columns asked for.

    Example: portrait audience export lapsing --out lapsing.csv --columns clv,rfm_segment
    """
    from portrait.audiences import export_members

    chosen = [c.strip() for c in columns.split(",") if c.strip()]
    with _open(workspace) as ws:
        r = export_members(ws, name, out_file, format=file_format, columns=chosen)
    console().print(f"exported {r.rows:,} members of {escape(r.name)} as of {r.as_of} to "
                    f"{escape(r.path)} ({', '.join(r.columns)}) (已导出)")  # fmt: skip


def run(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: the process's arguments); the exit code.

    An error Portrait raises on purpose is one line on stderr and its kind's exit code
    (:attr:`PortraitError.exit_code`); a usage mistake is click's message and code 2; any
    other exception is a bug, said in one line (``PORTRAIT_DEBUG=1`` shows the traceback).
    """
    err = console(stderr=True)
    try:
        app(args=argv, prog_name="portrait", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"error: {exc.format_message()}", markup=False)
        return exc.exit_code
    except typer.Abort:
        err.print("aborted (已中止)")
        return 1
    except PortraitError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if os.environ.get("PORTRAIT_DEBUG"):
            raise
        err.print(
            f"error: unexpected {type(exc).__name__}: {exc} "
            "(a bug: set PORTRAIT_DEBUG=1 to see the traceback and please report it)", markup=False,
        )  # fmt: skip
        return 1
    return 0


def main() -> None:
    """Entry point of the ``portrait`` command."""
    logging.basicConfig(level=os.environ.get("PORTRAIT_LOG", "WARNING"))
    sys.exit(run())


if __name__ == "__main__":
    main()
