"""The ``portrait`` command line: parse arguments, call one library function, print.

Errors Portrait raises on purpose print as one line (what is wrong and what to do) with
exit code 2; nothing here holds business logic.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portrait.errors import PortraitError

app = typer.Typer(
    help="Portrait: user portraits (用户画像) for e-commerce operations teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# wide enough for tables when the output is a file or a pipe (rich would assume 80)
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder (工作区目录).")
]


def _open(path: Path):
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
    ws = init_workspace(path, config)
    ws.close()
    out.print(f"Created workspace {path} (已创建工作区). Next: portrait ingest FILE -w {path}")


@app.command()
def ingest(
    source: Annotated[Path, typer.Argument(help="CSV/TSV(.gz), JSON lines, Parquet or Excel.")],
    table: Annotated[
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
    delimiter: Annotated[str | None, typer.Option(help="Field delimiter, e.g. ';' or tab.")] = None,
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
            ws, source, table=table, preset=preset, mapping=mapping, dry_run=dry_run,
            delimiter=delimiter, encoding=encoding, ts_format=ts_format, timezone=timezone,
        )  # fmt: skip
    _print_ingest(report)


def _print_ingest(report) -> None:
    mode = "DRY RUN - nothing written (试运行，未写入)" if report.dry_run else "ingested (已导入)"
    out.print(
        f"[bold]{escape(report.source)}[/] -> {report.table}  ({escape(report.spec)}; {mode})"
    )
    detail = f"format {report.format}"
    if report.encoding:
        detail += f", encoding {report.encoding}"
    if report.delimiter:
        detail += f", delimiter {report.delimiter!r}"
    out.print(detail)
    grid = Table("column 字段", "from 来源", box=None, pad_edge=False)
    for canonical, src in report.mapping.items():
        fmt = report.ts_formats.get(canonical.replace(".", "__"))
        grid.add_row(canonical, escape(src) + (f"  [dim](format {escape(fmt)})[/]" if fmt else ""))
    out.print(grid)
    if report.ignored:
        out.print(f"not used (未使用的列): {', '.join(report.ignored)}", markup=False)
    out.print(
        f"{'would be: ' if report.dry_run else ''}read {report.read:,} = accepted "
        f"{report.accepted:,} + duplicates {report.duplicates:,} + rejected {report.rejected:,}"
        "  (读取 = 接受 + 重复 + 拒绝)"
    )
    for table, n in report.derived.items():
        out.print(f"  + {n:,} new rows in {table}")
    if report.dry_run and report.sample:
        out.print("first rows as they would be stored (将写入的前几行):")
        grid = Table(*report.sample[0], box=None, pad_edge=False)
        for row in report.sample:
            grid.add_row(*(escape("" if v is None else str(v)) for v in row.values()))
        out.print(grid)
    if report.seen_before:
        out.print(
            f"this file was ingested before ({report.seen_before} UTC); its rows are duplicates "
            "now (此文件已导入过)"
        )
    if report.reasons:
        out.print("rejected because (拒绝原因), rows of each kind with an example:")
        for reason, n in report.reasons:
            out.print(f"  {n:>8,}  {reason}", markup=False)
        if not report.dry_run:
            out.print("  every rejected row is in the rejects table: portrait rejects")
    for note in report.notes:
        out.print(f"note: {note}")


@app.command()
def status(workspace: WorkspaceOpt = Path(".")) -> None:
    """Each table's rows, date range and sources, and the last runs.

    Example: portrait status -w my-shop
    """
    from portrait.overview import last_runs, table_status

    with _open(workspace) as ws:
        tables, runs = table_status(ws), last_runs(ws)
        cfg = ws.config.shop
    out.print(f"[bold]{cfg.name}[/]  time zone {cfg.timezone}, currency {cfg.currency}")
    grid = Table("table 表", "rows 行数", "from 起", "to 止", "sources 来源")
    for t in tables:
        grid.add_row(
            t.name, f"{t.rows:,}", str(t.first or "")[:10], str(t.last or "")[:10],
            escape("; ".join(t.sources)),
        )  # fmt: skip
    out.print(grid)
    if runs:
        grid = Table("started (UTC) 开始", "stage 阶段", "status 状态", "rows 行数", "seconds 秒")
        for r in runs:
            grid.add_row(
                str(r["started_at"])[:19], r["stage"], r["status"],
                "" if r["rows"] is None else f"{r['rows']:,}", f"{r['seconds']:.1f}",
            )  # fmt: skip
        out.print(grid)


@app.command()
def rejects(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Rejected rows with their source, row number, raw values and reason.

    Example: portrait rejects --limit 50
    """
    with _open(workspace) as ws:
        t = ws.table("rejects")
        total = ws.count("rejects")
        rows = t.order_by(["rejected_at", "row_number"]).limit(limit).to_pyarrow().to_pylist()
    for r in rows:
        out.print(f"{Path(r['source']).name}:{r['row_number']}  {r['reason']}")
        out.print(f"    raw (原始值): {r['raw']}", markup=False)
    out.print(f"{total:,} rejected rows in all (共 {total:,} 行被拒绝)")


@app.command()
def presets() -> None:
    """List the ingest presets for the shared public datasets.

    Example: portrait presets
    """
    from portrait.ingest import PRESETS

    grid = Table("preset", "fills 目标表", "what 说明")
    for spec in PRESETS.values():
        grid.add_row(spec.name, spec.table, spec.description)
    out.print(grid)


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="Where to build the demo workspace.")] = Path(
        "demo-shop"
    ),
) -> None:
    """Build a workspace from the bundled Online Retail sample and summarise the shop.

    Example: portrait demo --path demo-shop
    """
    from portrait.datasets.demo import ATTRIBUTION, run_demo

    result = run_demo(path)
    _print_ingest(result.ingest)
    ov = result.overview
    cur = ov.currency
    out.print()
    out.print(f"[bold]The shop at a glance (店铺概览)[/]  {ATTRIBUTION}")
    out.print(
        f"  {ov.first_order:%Y-%m-%d} .. {ov.last_order:%Y-%m-%d}: {ov.orders:,} orders "
        f"({ov.cancelled_orders:,} cancelled, {ov.guest_orders:,} by guests)"
    )
    out.print(
        f"  {ov.customers:,} customers bought (购买客户数); {ov.repeat_customers:,} "
        f"({ov.repeat_share:.0%}) came back for a second order (复购率)"
    )
    out.print(
        f"  revenue {ov.revenue:,.0f} {cur} (销售额), average order {ov.average_order_value:,.2f} "
        f"{cur} (客单价), merchandise only"
    )
    out.print("  best sellers (畅销商品):")
    for item in ov.top_items:
        out.print(
            f"    {item['title'] or item['item_id']}: {item['revenue']:,.0f} {cur}, "
            f"{item['buyers']:,} buyers"
        )
    countries = ", ".join(f"{c['country']} {c['customers']:,}" for c in ov.top_countries)
    out.print(f"  customers by country (客户国家): {countries}")
    if ov.monthly:
        peak = max(ov.monthly, key=lambda m: m["revenue"])
        out.print(
            f"  busiest month (销售高峰): {peak['month']:%Y-%m} with {peak['revenue']:,.0f} {cur} "
            f"from {peak['customers']:,} customers"
        )
    from portrait.segments import SEGMENT_ZH, STAGES

    out.print(f"[bold]Who the customers are (客户分层)[/], as of {result.build.as_of}:")
    for row in result.segments["rfm_segment"][:6]:
        name = row["segment"]
        out.print(
            f"  {name} {SEGMENT_ZH.get(name, '')}: {row['customers']:,} customers "
            f"({row['share']:.0%}) bring {_pct(row['value_share'])} of the revenue"
        )
    stages = ", ".join(
        f"{r['segment']} {STAGES.get(r['segment'], '')} {r['customers']:,}"
        for r in result.segments["lifecycle_stage"]
    )
    out.print(f"  lifecycle (生命周期): {stages}")
    from portrait.value import TIER_ZH

    val = result.value
    months = result.workspace.config.value.clv_months
    if val["clv"]:
        out.print(
            f"[bold]What they are worth (客户价值)[/]: {val['clv']:,.0f} {cur} expected from "
            f"today's customers over the next {months} months (预测{months}个月价值, BG/NBD + "
            f"Gamma-Gamma), {val['expected_purchases_90d']:,.0f} purchases in the next 90 days"
        )
        for t in val["tiers"]:
            out.print(
                f"  {t['tier']} value {TIER_ZH.get(t['tier'], '')}: {t['customers']:,} "
                f"customers, {_pct(t['clv_share'])} of the expected value"
            )
        risk = val["at_risk"]
        out.print(
            f"  at high risk of churning (高流失风险): {risk['customers']:,} customers holding "
            f"{_pct(risk['clv_share'])} of the expected value"
        )
    if result.example:
        uid, rows = result.example
        out.print(
            f"[bold]What to offer (推荐)[/]: every customer has a list; the most valuable one, "
            f"{uid}, gets:"
        )
        for r in rows:
            out.print(f"  {escape(r['title'] or r['item_id'])}: {escape(r['reason'])} "
                      f"({escape(r['reason_zh'])})")  # fmt: skip
    for note in result.build.notes:
        out.print(f"  note (提示): {escape(note)}")
    who = result.example[0] if result.example else "USER_ID"
    out.print(
        f"Workspace: {path}  (next: portrait value / portrait recommend {who} / "
        f"portrait profile {who} -w {path})"
    )
    result.workspace.close()


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
) -> None:
    """Write a synthetic shop (all canonical tables) for benchmarks and experiments.

    Example: portrait generate --users 100000 --format csv --out /tmp/shop
    """
    from portrait.datasets.generator import generate_shop
    from portrait.errors import ConfigError

    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"--format {fmt!r} is not supported; use parquet or csv.")
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
        events_per_user=events_per_user, bgnbd=planted,
        tables=[t.strip() for t in tables.split(",")] if tables else None,
    )  # fmt: skip
    for table, n in written.items():
        out.print(f"{table}: {n:,} rows")
    out.print(f"written to {out_dir}")


@app.command()
def build(
    as_of: Annotated[
        str | None, typer.Option(help="Compute as of this local date, YYYY-MM-DD.")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (default: config).")] = None,
    force: Annotated[bool, typer.Option(help="Rerun every stage, stale or not.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Build features, segments, value models and tags (the stale stages), in order.

    Example: portrait build --as-of 2011-12-10 -w my-shop
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from portrait.pipeline import STAGES
    from portrait.pipeline import build as run_build

    with _open(workspace) as ws, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=out, disable=quiet or not out.is_terminal, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("build", total=len(STAGES))

        def progress(stage: str, event: str) -> None:
            if event == "start":
                bar.update(task, description=f"{stage} ...")
            else:
                bar.advance(task)

        result = run_build(ws, as_of, engine=engine, force=force, progress=progress)
    out.print(f"built as of {result.as_of} (截至日期)")
    for stage in result.ran:
        out.print(f"  {stage}: {result.rows[stage]:,} rows")
    if result.skipped:
        out.print(f"  up to date, not rerun (无需重算): {', '.join(result.skipped)}")
    if result.missing:
        out.print(
            f"  {len(result.missing)} features are empty for this shop's data; see portrait tags"
        )
    for note in result.notes:
        out.print(f"  note (提示): {escape(note)}")


@app.command()
def tags(
    features: Annotated[
        bool, typer.Option("--features", help="List the features rules can use.")
    ] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Tags with their coverage and values (or, with --features, the features).

    Example: portrait tags -w my-shop
    """
    from portrait.pipeline import last_run

    with _open(workspace) as ws:
        run = last_run(ws, "features")
        missing = run["params"].get("missing", {}) if run else {}
        if features:
            from portrait.features import FEATURES

            grid = Table("feature 特征", "type", "window", "meaning", "含义", "empty because")
            for f in FEATURES.values():
                grid.add_row(
                    f.name, f.dtype, f"{f.window}d" if f.window else "all", f.en, f.zh,
                    missing.get(f.name, ""),
                )  # fmt: skip
            out.print(grid)
            return
        _require_built(ws, "tags")
        from portrait.tags import summarise_tags

        summary = summarise_tags(ws, missing)
    grid = Table("tag 标签", "kind", "name 名称", "coverage 覆盖率", "values 取值分布")
    for s in summary:
        total = sum(n for _, n in s.values) or 1
        values = ", ".join(f"{v} {n / total:.0%}" for v, n in s.values[:5])
        if len(s.values) > 5:
            values += f", ... ({len(s.values)} values)"
        grid.add_row(
            s.tag.name, s.tag.kind, f"{s.tag.en} / {s.tag.zh}", f"{s.coverage:.0%}",
            escape(values or f"(empty: {s.why_empty})"),
        )  # fmt: skip
    out.print(grid)


def _require_built(ws, table: str) -> None:
    if table not in ws.con.list_tables():
        from portrait.errors import WorkspaceError

        raise WorkspaceError(
            f"The workspace has no {table} yet; run `portrait build -w {ws.path}` first."
        )


@app.command()
def segments(workspace: WorkspaceOpt = Path(".")) -> None:
    """RFM segments, lifecycle stages and clusters: size, value share, averages.

    Example: portrait segments -w my-shop
    """
    from portrait.segments import SEGMENT_ZH, STAGES, segment_table

    with _open(workspace) as ws:
        _require_built(ws, "segments")
        tables = segment_table(ws)
        profiles = ws.table("cluster_profiles").order_by("cluster").to_pyarrow().to_pylist()
    titles = {
        "rfm_segment": "RFM segments (RFM分层)",
        "lifecycle_stage": "Lifecycle stages (生命周期)",
        "cluster_name": "Behavioural clusters (行为聚类)",
    }
    zh = {**SEGMENT_ZH, **STAGES, **{p["name"]: p["name_zh"] for p in profiles}}
    for key, rows in tables.items():
        grid = Table(
            "segment 分层", "customers 客户数", "share 占比", "value share 价值占比",
            "avg orders 平均订单", "avg days since 平均未购天数", "avg spend 平均消费",
            title=titles[key], title_justify="left",
        )  # fmt: skip
        for r in rows:
            grid.add_row(
                f"{r['segment']} {zh.get(r['segment'], '')}", f"{r['customers']:,}",
                f"{r['share']:.1%}", _pct(r["value_share"]), f"{r['avg_frequency']:.1f}",
                _num(r["avg_recency_days"]), _num(r["avg_monetary"]),
            )  # fmt: skip
        out.print(grid)
    if profiles:
        p0 = profiles[0]
        out.print(
            f"{p0['k']} clusters chosen by silhouette (轮廓系数) {p0['silhouette']:.3f}; "
            f"tried: {p0['silhouettes']}"
        )
        for p in profiles:
            import json

            traits = "; ".join(
                f"{name} {mean:,.2f} vs shop {shop:,.2f} ({z:+.1f} sd)"
                for name, z, mean, shop in json.loads(p["traits"])
            )
            out.print(f"  cluster {p['cluster']} ({p['name']}): {traits}")


def _pct(value) -> str:
    return "" if value is None else f"{value:.1%}"


def _num(value) -> str:
    return "" if value is None else f"{value:,.1f}"


@app.command()
def profile(
    user_id: Annotated[str, typer.Argument(help="The customer's id.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """One customer's portrait: key numbers, tags and segments.

    Example: portrait profile 12347 -w my-shop
    """
    from portrait.profile import customer_portrait

    with _open(workspace) as ws:
        card = customer_portrait(ws, user_id)
    out.print(f"[bold]Customer {escape(card.user_id)} (客户画像)[/]  as of {card.as_of}")
    for title, rows in card.sections.items():
        if not rows:
            continue
        out.print(f"[bold]{title}[/]")
        for label, value in rows:
            out.print(f"  {label}: {escape(value)}")


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
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Customer value and churn: the saved models and how well they predict.

    Fits the purchase model up to --calibration-end and compares its predictions of the
    holdout with what customers did and with two baselines; trains the churn model on an
    earlier date and tests it on a later one against three baselines.

    Example: portrait value --calibration-end 2011-06-30 -w my-shop
    """
    from portrait.value import evaluate_churn, evaluate_holdout, load_models
    from portrait.value.report import churn_tables, default_calibration_end, holdout_tables

    with _open(workspace) as ws:
        cfg = ws.config.value
        try:
            saved = load_models(ws)
        except PortraitError:
            saved = None
        cal_end = calibration_end or str(default_calibration_end(ws))
        holdout = evaluate_holdout(
            ws, cal_end, holdout_end, model=cfg.model, unit=cfg.time_unit, penalizer=cfg.penalizer
        )
        churn = evaluate_churn(
            ws, churn_date, horizon_days=cfg.churn_horizon_days, purchase_model=cfg.model,
            unit=cfg.time_unit, seed=ws.config.segments.seed,
        )  # fmt: skip
        currency = ws.config.shop.currency
    if saved is not None:
        p = saved.meta["purchase"]
        params = ", ".join(f"{k}={v:.4g}" for k, v in p["params"].items())
        out.print(
            f"[bold]Saved models (已保存模型)[/] as of {p['as_of']}, fitted on {p['customers']:,} "
            f"customers' purchases {p['data_from']}..{p['data_to']} (Portrait "
            f"{p['portrait_version']}): {p['kind']} {params}"
        )
        if saved.spend is not None:
            params = ", ".join(f"{k}={v:.4g}" for k, v in saved.spend.params_.items())
            out.print(f"  gamma_gamma {params}; mean spend per purchase "
                      f"{saved.spend.population_mean():,.2f} {currency}")  # fmt: skip
    else:
        out.print("No saved models yet (尚未保存模型): run portrait build to fit and save them.")
    for report in [*holdout_tables(holdout), *churn_tables(churn)]:
        grid = Table(*report.header, title=report.title, title_justify="left")
        for row in report.rows:
            grid.add_row(*row)
        out.print(grid)
        for note in report.notes:
            out.print(f"  {escape(note)}")


class _RecommendGroup(typer.core.TyperGroup):
    """``portrait recommend USER_ID`` shows a list; ``portrait recommend evaluate`` compares."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


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
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """One customer's recommendations with a reason for each.

    Example: portrait recommend 12347 -n 10 -w my-shop
    """
    from portrait.recommend.serve import recommendations_for

    with _open(workspace) as ws:
        rows = recommendations_for(ws, user_id, n=n, category=category)
    out.print(f"[bold]Recommended for {escape(user_id)} (推荐商品)[/]")
    grid = Table("#", "item 商品", "category 类目", "why 推荐理由")
    for r in rows:
        item = f"{r['title'] or r['item_id']} ({r['item_id']})"
        why = f"{r['reason']} / {r['reason_zh']}"
        grid.add_row(str(r["rank"]), escape(item), escape(r["category"] or ""), escape(why))
    out.print(grid)
    if len(rows) < n:
        out.print(f"  only {len(rows)} items pass the filters (仅有{len(rows)}个商品符合条件)")


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
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Compare the recommenders on this shop's data: Recall, NDCG, MRR, coverage, novelty.

    Example: portrait recommend evaluate --split time --at 2011-10-01 -w my-shop
    """
    from portrait.recommend import MODELS, evaluate_workspace

    chosen = [m.strip() for m in models.split(",")] if models else list(MODELS)
    with _open(workspace) as ws:
        e = evaluate_workspace(ws, split=split, at=at, test_share=test_share, seed=seed,
                               models=chosen, ratings=ratings)  # fmt: skip
    out.print(
        f"[bold]Recommenders compared (推荐模型评估)[/]: {e.detail}; {e.test_users:,} test "
        f"customers, {e.items:,} items, full ranking; hyper-parameters chosen on a validation "
        "split of the training data"
    )
    if e.dropped_unknown:
        out.print(f"  {e.dropped_unknown:,} test interactions with items unseen in training "
                  "cannot be recommended and are left out")  # fmt: skip
    metrics = ["recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@20", "coverage@20",
               "novelty@20"]  # fmt: skip
    grid = Table("model 模型", *metrics, "fit s", "parameters 参数")
    best = e.best().model
    for r in e.results:
        grid.add_row(
            f"{r.model}{' *' if r.model == best else ''}",
            *[f"{r.metrics[m]:.4f}" if "novelty" not in m else f"{r.metrics[m]:.2f}"
              for m in metrics],
            f"{r.fit_seconds:.2f}", ", ".join(f"{k}={v}" for k, v in r.params.items()),
        )  # fmt: skip
    out.print(grid)
    pop = next((r for r in e.results if r.model == "popularity"), None)
    if pop is not None:
        gain = e.best().metrics["ndcg@20"] / max(pop.metrics["ndcg@20"], 1e-12) - 1
        out.print(f"  best: {best}, NDCG@20 {gain:+.0%} against popularity (相对热门基线)")
    if e.ratings:
        grid = Table("rating model 评分模型", "RMSE", "MAE", "fit s per fold")
        for r in e.ratings:
            grid.add_row(r.model, f"{r.rmse:.4f}", f"{r.mae:.4f}", f"{r.fit_seconds:.2f}")
        out.print(grid)


def main() -> None:
    """Entry point: a PortraitError is one line on stderr and exit code 2, never a traceback."""
    logging.basicConfig(level=os.environ.get("PORTRAIT_LOG", "WARNING"))
    try:
        app()
    except PortraitError as exc:
        err.print(f"error: {exc}", soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if os.environ.get("PORTRAIT_DEBUG"):
            raise
        err.print(
            f"error: unexpected {type(exc).__name__}: {exc} "
            "(a bug: set PORTRAIT_DEBUG=1 to see the traceback and please report it)",
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
