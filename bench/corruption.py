"""Corruption benchmark: real files broken the ways exports break, and nothing lost.

A few hundred lines of real data (the bundled Online Retail sample, a Taobao slice, the
Chinese reviews) are corrupted at seeded places: stray and unterminated quotes, extra and
missing fields, embedded newlines, invalid bytes, a BOM in the middle, NUL bytes, a truncated
last line, mixed CRLF/LF, mixed date formats, GBK lines in a UTF-8 file. Each corrupted place
is one case. For each file the data rows are counted from the generator's own bookkeeping
(independently of Portrait's reader), and the check is ``read = data rows = accepted +
duplicates + rejected``, with every untouched row read with the same values as from the clean
file and ending where it ended in the clean file's ingest (accepted, or rejected for the same
reason). ``tests/ingest/test_corruption.py`` runs a thousand cases in CI; this runs more and
records the result in bench/results/.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: the shared datasets (PORTRAIT_DATA overrides, as for the tests)
DATA = Path(os.environ.get("PORTRAIT_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Source:
    """A real file's first lines, and how Portrait ingests it."""

    name: str
    path: Path
    preset: str
    header: bool
    #: the field that holds free text (embedded newlines go there), and a date field
    text_field: int | None
    date_field: int | None
    zone: str


SOURCES = (
    Source("retail", ROOT / "src/portrait/datasets/data/online_retail_sample.csv.gz",
           "online-retail", True, 2, 4, "Europe/London"),
    Source("taobao", DATA / "taobao_userbehavior/UserBehavior_time_slice_110k.csv.gz",
           "taobao", False, None, 4, "Asia/Shanghai"),
    Source("reviews", DATA / "online_shopping_10_cats/train.csv.gz",
           "online-shopping-10-cats", True, 2, None, "Asia/Shanghai"),
)  # fmt: skip

KINDS = (
    "stray_quote", "unterminated_quote", "extra_field", "missing_field", "embedded_newline",
    "invalid_bytes", "bom_middle", "nul", "truncated_last", "crlf", "mixed_date", "gbk_line",
)  # fmt: skip


def base_records(source: Source, n: int) -> tuple[str | None, list[list[str]]]:
    """The header and the first ``n`` records of ``source``, as fields."""
    with gzip.open(source.path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = ",".join(next(reader)) if source.header else None
        return header, [row for _, row in zip(range(n), reader, strict=False)]


def _line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()[:-1]


@dataclass
class CaseFile:
    """One file with several corrupted records; the rest are untouched."""

    data: bytes
    #: data rows in the file (each record is one, however broken)
    rows: int
    #: untouched record index -> the file line where it starts
    intact: dict[int, int]
    cases: list[tuple[str, int]] = field(default_factory=list)


def _other_date(value: str, rng: random.Random) -> str:
    """The same instant in another unambiguous known format."""
    if value.isdigit():  # Unix seconds -> ISO with offset
        import datetime as dt

        t = dt.datetime.fromtimestamp(int(value), dt.UTC)
        return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    date, _, clock = value.partition(" ")
    y, m, d = date.split("-")
    return rng.choice([f"{y}/{m}/{d} {clock}", f"{y}{m}{d}{clock.replace(':', '')}"])


def corrupt(
    source: Source, header: str | None, records: list[list[str]], rng: random.Random, k: int
) -> CaseFile:
    """``records`` with ``k`` of them corrupted, each by a kind drawn from :data:`KINDS`."""
    chosen = set(rng.sample(range(len(records) - 1), k))
    lines: list[bytes] = [] if header is None else [header.encode() + b"\n"]
    intact: dict[int, int] = {}
    cases: list[tuple[str, int]] = []
    line_no = len(lines) + 1
    last_kind = None
    if rng.random() < 0.5:  # the last line cut short, in about half the files
        chosen.add(len(records) - 1)
        last_kind = "truncated_last"
    for i, rec in enumerate(records):
        ending = b"\n"
        kind = None
        if i in chosen:
            kind = last_kind if i == len(records) - 1 else rng.choice(KINDS[:8] + KINDS[9:])
        if kind == "crlf":  # a CRLF line in an LF file: the row is untouched
            cases.append((kind, line_no))
            ending = b"\r\n"
        if kind is None or kind == "crlf":
            intact[i] = line_no
            text = _line(rec).encode()
        else:
            if kind == "embedded_newline" and source.text_field is None:
                kind = "extra_field"
            if kind == "mixed_date" and source.date_field is None:
                kind = "missing_field"
            cases.append((kind, line_no))
            f = list(rec)
            j = rng.randrange(len(f))
            if kind == "stray_quote":
                v = f[j] or "x"
                cut = rng.randrange(1, len(v) + 1)
                text = _line(f[:j] + ["@@"] + f[j + 1 :]).replace("@@", v[:cut] + '"' + v[cut:])
                text = text.encode()
            elif kind == "unterminated_quote":
                text = _line(f[:j] + ["@@"] + f[j + 1 :]).replace("@@", '"' + f[j]).encode()
            elif kind == "extra_field":
                text = _line([*f, "EXTRA"]).encode()
            elif kind == "missing_field":
                text = _line(f[:-1]).encode()
            elif kind == "embedded_newline":
                t = source.text_field or 0
                v = f[t]
                cut = rng.randrange(len(v) + 1)
                f[t] = v[:cut] + rng.choice(["\n", "\r\n"]) + v[cut:]
                text = _line(f).encode()
                line_no += f[t].count("\n")
            elif kind == "invalid_bytes":
                text = _line(f[:j] + ["@@"] + f[j + 1 :]).encode().replace(b"@@", b"\xff\xfe")
            elif kind == "bom_middle":
                text = "\ufeff".encode() + _line(f).encode()
            elif kind == "nul":
                text = _line(f).encode()
                cut = rng.randrange(len(text) + 1)
                text = text[:cut] + b"\x00" + text[cut:]
            elif kind == "gbk_line":
                t = source.text_field if source.text_field is not None else j
                f[t] = f[t] + "，质量很好"
                text = _line(f).encode("gb18030")
            elif kind == "mixed_date":
                assert source.date_field is not None
                f[source.date_field] = _other_date(f[source.date_field], rng)
                text = _line(f).encode()
            else:  # truncated_last
                full = _line(f).encode()
                text = full[: rng.randrange(1, len(full))]
                ending = b""
        if rng.random() < 0.3:  # mixed CRLF and LF on untouched lines too: values unchanged
            ending = b"\r\n" if ending else ending
        lines.append(text + ending)
        line_no += 1
    return CaseFile(b"".join(lines), len(records), intact, cases)


def _text_rows(ws: Any, path: Path, spec: Any) -> dict[int, tuple[Any, ...]]:
    """What Portrait's reader makes of each row: file line -> the row's text values."""
    from portrait.ingest.readers import LinesUnaccounted, number_rows, read_source

    options = spec.read
    for _ in range(2):
        raw = read_source(ws.con, path, options)
        try:
            rows = number_rows(ws.con, raw.table, raw).to_pyarrow().to_pylist()
        except LinesUnaccounted:
            from dataclasses import replace

            options = replace(options, line_true=True)
            continue
        finally:
            raw.close()
        return {r.pop("_row"): tuple(r.values()) for r in rows}
    raise AssertionError("unreachable")


def _rejected_lines(ws: Any, source: Path) -> dict[int, str]:
    t = ws.table("rejects")
    rows = t.filter(t.source == str(source)).select("row_number", "reason").to_pyarrow()
    return {r["row_number"]: r["reason"] for r in rows.to_pylist()}


def run_source(
    source: Source, folder: Path, *, files: int, cases_per_file: int, lines: int, seed: int
) -> dict[str, Any]:
    """Corrupt ``files`` copies of ``source`` and check each; the failures are listed."""
    from portrait import init_workspace
    from portrait.config import Config, ShopConfig
    from portrait.ingest import ingest, resolve_spec

    header, records = base_records(source, lines)
    folder.mkdir(parents=True, exist_ok=True)
    ws = init_workspace(
        folder / "ws", Config(shop=ShopConfig(name=source.name, timezone=source.zone))
    )
    spec = resolve_spec(preset=source.preset)
    clean = folder / "clean.csv"
    clean.write_bytes(corrupt(source, header, records, random.Random(0), 0).data)
    first = 2 if header else 1
    clean_rows = _text_rows(ws, clean, spec)
    report = ingest(ws, clean, preset=source.preset)
    assert report.read == len(records), (report.read, len(records))
    clean_rejected = {line - first: why for line, why in _rejected_lines(ws, clean).items()}
    rng = random.Random(seed)
    failures: list[str] = []
    n_cases = 0
    kinds: dict[str, int] = {}
    for number in range(files):
        case = corrupt(source, header, records, rng, cases_per_file)
        path = folder / f"case{number:04d}.csv"
        path.write_bytes(case.data)
        n_cases += len(case.cases)
        for kind, _ in case.cases:
            kinds[kind] = kinds.get(kind, 0) + 1
        what = f"{source.name} file {number} (seed {seed})"
        try:
            got = ingest(ws, path, preset=source.preset)
        except Exception as exc:  # a failed file is a failure of every case in it
            failures.append(f"{what}: {type(exc).__name__}: {exc}")
            continue
        if not (got.read == case.rows == got.accepted + got.duplicates + got.rejected):
            failures.append(
                f"{what}: read {got.read}, rows {case.rows}, accepted {got.accepted} + "
                f"duplicates {got.duplicates} + rejected {got.rejected}"
            )
        rejected = _rejected_lines(ws, path)
        rows = _text_rows(ws, path, spec)
        for index, line in case.intact.items():
            if rows.get(line) != clean_rows.get(index + first):
                failures.append(f"{what}: row {index} on line {line} read {rows.get(line)}")
            if (line in rejected) != (index in clean_rejected):
                failures.append(f"{what}: row {index} on line {line}: {rejected.get(line)}")
        path.unlink()
    ws.close()
    return {"source": source.name, "files": files, "cases": n_cases, "kinds": kinds,
            "failures": failures}  # fmt: skip


def main(argv: list[str]) -> int:
    import argparse
    import tempfile

    from bench.machine import save

    parser = argparse.ArgumentParser(prog="python -m bench corruption", description=__doc__)
    parser.add_argument("--files", type=int, default=100, help="corrupted files per source")
    parser.add_argument("--cases", type=int, default=30, help="corrupted records per file")
    parser.add_argument("--lines", type=int, default=400, help="records per file")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(SOURCES):
            results.append(
                run_source(source, Path(tmp) / source.name, files=args.files,
                           cases_per_file=args.cases, lines=args.lines, seed=args.seed + i)
            )  # fmt: skip
    cases = sum(r["cases"] for r in results)
    failures = [f for r in results for f in r["failures"]]
    result = {
        "params": vars(args),
        "cases": cases,
        "failures": len(failures),
        "examples": failures[:20],
        "by_source": [{k: v for k, v in r.items() if k != "failures"} for r in results],
        "seconds": round(time.perf_counter() - t0, 1),
        "passed": not failures,
    }
    path = save("corruption", result)
    print(f"{cases:,} corruption cases, {len(failures)} failures, {result['seconds']}s "
          f"{'PASS' if result['passed'] else 'FAIL'} -> {path}")  # fmt: skip
    return 0 if result["passed"] else 1
