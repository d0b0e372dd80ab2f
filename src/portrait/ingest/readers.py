"""Reading a source file into a staging table of text columns, whatever its format.

Every reader yields the same thing: an Ibis table whose columns are the source's columns as
text (nothing converted yet, so nothing is lost before validation can say why) and the
row's position among the data rows, from 1: a ``_row`` column, or for CSV the order of the
scan, which :func:`number_rows` turns into ``_row`` once the rows are in a table. Rows the
CSV parser itself cannot split (a stray quote, too many fields, bytes that are not text in
the encoding) are returned
as parse rejects with their line and raw text, never dropped.

CSV goes through DuckDB's own reader (parallel, quoted multi-line fields, gzip); DuckDB knows
UTF-8, UTF-16 and latin-1, so GBK/GB18030 exports are transcoded to UTF-8 first, streaming.
JSON lines are parsed line by line so that one broken line is a reject, not a failed file.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from portrait.errors import SourceError

log = logging.getLogger(__name__)

Format = Literal["auto", "csv", "jsonl", "parquet", "excel", "lines"]

_SAMPLE_BYTES = 1 << 20
_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".data": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
}
#: encodings DuckDB's CSV reader decodes itself; others are transcoded to UTF-8 first
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
_ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "cp1252": "cp1252",
    "utf16": "utf-16",
}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source; every ``None`` means "detect it"."""

    format: Format = "auto"
    delimiter: str | None = None
    encoding: str | None = None
    header: bool = True
    #: column names for a file without a header row
    names: tuple[str, ...] | None = None
    quote: str = '"'
    sheet: str | None = None


@dataclass
class RawSource:
    """A source staged for validation: text columns plus ``_row``."""

    path: Path
    table: ir.Table
    columns: list[str]
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    #: DuckDB's table of rows its CSV parser refused, filled while the source is scanned
    rejects_table: str | None = None
    #: rows other readers refused: dicts of row_number, raw, reason
    extra_rejects: list[dict[str, Any]] = field(default_factory=list)
    _cleanup: list[Path] = field(default_factory=list)

    def close(self) -> None:
        for path in self._cleanup:
            path.unlink(missing_ok=True)


def _open_bytes(path: Path) -> gzip.GzipFile | io.BufferedReader:
    """The file's bytes, decompressed when it is gzip (by its magic bytes, not its name)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(_open_bytes(path), encoding=encoding, errors="strict", newline="")


def _head(path: Path, size: int = _SAMPLE_BYTES) -> bytes:
    try:
        with _open_bytes(path) as fh:
            return fh.read(size)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path} is not a readable gzip file ({exc}); check the file.") from None


def detect_format(path: Path) -> str:
    """The format from the content's magic bytes, then from the file extension."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return "parquet"
    if magic[:4] == b"PK\x03\x04":
        return "excel"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] == ".xls":
        raise SourceError(
            f"{path} is an old binary Excel (.xls) file; save it as .xlsx or CSV and try again."
        )
    return _EXTENSIONS.get(suffixes[-1] if suffixes else "", "csv")


def _looks_binary(sample: bytes) -> int | None:
    """Offset of the first byte that no text file would hold, or None."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    for i, b in enumerate(sample[:65536]):
        if b == 0 or (b < 32 and b not in (9, 10, 12, 13, 27)):
            return i
    return None


def _valid_utf8(sample: bytes, complete: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(sample: bytes, *, complete: bool = False) -> str:
    """UTF-8 (BOM or not), UTF-16 by BOM, else GB18030 if it reads as Chinese, else latin-1.

    ``complete`` says the sample is the whole file (so a cut multi-byte character at its
    end is an error, not an artefact of sampling).
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _valid_utf8(sample, complete):
        return "utf-8"
    try:
        text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return "latin-1"
    non_ascii = [c for c in text if ord(c) > 127]
    cjk = sum(1 for c in non_ascii if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f")
    return "gb18030" if non_ascii and cjk / len(non_ascii) > 0.6 else "latin-1"


def _normalise_encoding(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key in _ENCODING_ALIASES:
        return _ENCODING_ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise SourceError(
            f"{name!r} is not an encoding Portrait knows; use utf-8, gbk, gb18030 or latin-1."
        ) from None


def _transcode(path: Path, encoding: str) -> Path:
    """Stream ``path`` from ``encoding`` into a temporary UTF-8 file DuckDB can read."""
    out = Path(tempfile.mkstemp(prefix="portrait-", suffix=".csv")[1])
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        with _open_bytes(path) as src, out.open("w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk))
                offset += len(chunk)
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        out.unlink(missing_ok=True)
        raise SourceError(
            f"{path} is not valid {encoding} at byte {offset + exc.start}; "
            "pass the right --encoding or fix the file."
        ) from None
    return out


def read_source(con: ibis.BaseBackend, path: str | Path, options: ReadOptions) -> RawSource:
    """Stage ``path`` as text columns plus ``_row``; raise :class:`SourceError` if unreadable."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist; check the path.")
    if path.is_dir():
        raise SourceError(f"{path} is a folder; pass one file at a time.")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} is empty; there is nothing to ingest.")
    fmt = detect_format(path) if options.format == "auto" else options.format
    reader = {
        "csv": _read_csv,
        "lines": _read_lines,
        "jsonl": _read_jsonl,
        "parquet": _read_parquet,
        "excel": _read_excel,
    }[fmt]
    raw = reader(con, path, options)
    if not raw.columns:
        raise SourceError(f"{path} has no columns; check that it is a table with a header.")
    return raw


def _text_encoding(path: Path, options: ReadOptions) -> tuple[str, bytes]:
    sample = _head(path)
    where = _looks_binary(sample)
    if where is not None:
        raise SourceError(
            f"{path} is not a text file (binary byte at offset {where}); Portrait reads CSV, "
            "TSV, JSON lines, Parquet and Excel (.xlsx)."
        )
    complete = len(sample) < _SAMPLE_BYTES
    detected = detect_encoding(sample, complete=complete)
    if options.encoding is None:
        return detected, sample
    chosen = _normalise_encoding(options.encoding)
    if chosen == "utf-8" and not _valid_utf8(sample, complete):
        hint = f"it looks like {detected}" if detected != "latin-1" else "check its encoding"
        raise SourceError(
            f"{path} is not valid UTF-8 ({hint}); pass --encoding "
            f"{'gbk' if detected == 'gb18030' else detected} or leave --encoding out to detect it."
        )
    return chosen, sample


_REJECT_REASONS = {
    "MISSING COLUMNS": "has fewer fields than the header",
    "TOO MANY COLUMNS": "has more fields than the header",
    "UNQUOTED VALUE": "has a quote in the middle of an unquoted field",
    "LINE SIZE OVER MAXIMUM": "is longer than the maximum line size",
    "INVALID ENCODING": "is not valid text in the file's encoding",
    "INVALID UNICODE": "is not valid text in the file's encoding",
}


def _read_csv(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    encoding, _ = _text_encoding(path, options)
    cleanup: list[Path] = []
    target = path
    if encoding not in _DUCKDB_ENCODINGS:
        target = _transcode(path, encoding)
        cleanup.append(target)
    name = ibis.util.gen_name("src")
    kwargs: dict[str, Any] = {
        "all_varchar": True,
        "header": options.header,
        "quote": options.quote,
        "ignore_errors": True,
        "store_rejects": True,
        "rejects_table": f"{name}_errors",
        "rejects_scan": f"{name}_scans",
        "encoding": _DUCKDB_ENCODINGS.get(encoding, "utf-8"),
        "max_line_size": 16 << 20,
    }
    if options.delimiter is not None:
        kwargs["delim"] = options.delimiter
    if options.names:
        kwargs["names"] = list(options.names)
    try:
        view = con.read_csv(str(target), table_name=name, **kwargs)
        delimiter = options.delimiter or _sniffed_delimiter(con, target, kwargs)
    except Exception as exc:  # DuckDB's sniffer: not a table it can read
        raise SourceError(
            f"{path} could not be read as CSV ({str(exc).splitlines()[0]}); "
            "check --delimiter and --encoding."
        ) from None
    # no _row here: a window over the scan would serialise it. DuckDB keeps insertion order,
    # so the row number is the rowid of the first table made from this view (see number_rows)
    return RawSource(
        path=path,
        table=view,
        columns=list(view.columns),
        format="csv",
        encoding=encoding,
        delimiter=delimiter,
        rejects_table=f"{name}_errors",
        _cleanup=cleanup,
    )


def _sniffed_delimiter(con: ibis.BaseBackend, target: Path, kwargs: dict[str, Any]) -> str | None:
    opts: dict[str, Any] = {k: kwargs[k] for k in ("encoding", "quote", "header") if k in kwargs}
    res = con.con.execute(
        "SELECT Delimiter FROM sniff_csv($path, encoding := $encoding, quote := $quote, "
        "header := $header, sample_size := 4096)",
        {"path": str(target), **opts},
    ).fetchone()
    return res[0] if res else None


def number_rows(con: ibis.BaseBackend, expr: ir.Table) -> ir.Table:
    """Materialise ``expr`` as a temporary table and add ``_row`` from its row ids.

    DuckDB preserves insertion order (``preserve_insertion_order``, on by default), so the
    row ids of a table made from a scan follow the file, at no cost to the parallel scan.
    """
    if "_row" in expr.columns:
        return expr
    name = ibis.util.gen_name("rows")
    con.create_table(name, expr, temp=True)
    return with_row_ids(con, name)


def with_row_ids(con: ibis.BaseBackend, table: str) -> ir.Table:
    """Table ``table`` with ``_row`` = its row id + 1 (its insertion order)."""
    return con.sql(f'SELECT rowid + 1 AS _row, * FROM "{table}"')


def parse_rejects(con: ibis.BaseBackend, raw: RawSource) -> list[dict[str, Any]]:
    """Rows the CSV parser refused; read them after the staged table has been scanned."""
    if raw.rejects_table is None:
        return raw.extra_rejects
    rows = con.con.execute(
        f'SELECT DISTINCT line, error_type, csv_line FROM "{raw.rejects_table}" ORDER BY line'
    ).fetchall()
    out = list(raw.extra_rejects)
    for line, error_type, csv_line in rows:
        why = _REJECT_REASONS.get(str(error_type).upper(), str(error_type).lower())
        out.append(
            {
                "row_number": int(line),
                "raw": json.dumps({"line": csv_line}, ensure_ascii=False),
                "reason": f"line {line} of the file {why}",
            }
        )
    return out


def _string_table(rows: list[dict[str, Any]] | list[list[Any]], columns: list[str]) -> pa.Table:
    arrays: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        values = row.values() if isinstance(row, dict) else row
        for c, v in zip(columns, values, strict=False):
            arrays[c].append(v)
    return pa.table({c: pa.array(v, pa.string()) for c, v in arrays.items()})


def _as_text(value: Any) -> str | None:
    """A cell as text, the way it would read in a CSV export."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):
        return cast(str, value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _register(con: ibis.BaseBackend, table: pa.Table) -> ir.Table:
    rows = pa.array(range(1, table.num_rows + 1), pa.int64())
    table = table.add_column(0, "_row", rows)
    name = ibis.util.gen_name("src")
    con.con.register(name, table)  # a view over the Arrow table, no copy
    return con.table(name)


def _read_lines(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    """One record per line (plain-text review dumps); blank lines are skipped, not rows."""
    encoding, _ = _text_encoding(path, options)
    name = (options.names or ("text",))[0]
    with _open_text(path, encoding) as fh:
        try:
            lines = [line.rstrip("\r\n").lstrip("\ufeff") for line in fh]
        except UnicodeDecodeError:
            raise SourceError(
                f"{path} is not valid {encoding}; pass the right --encoding."
            ) from None
    table = pa.table({name: pa.array([ln if ln.strip() else None for ln in lines], pa.string())})
    return RawSource(path, _register(con, table), [name], "lines", encoding=encoding)


def _read_jsonl(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    encoding, _ = _text_encoding(path, options)
    records: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    with _open_text(path, encoding) as fh:
        number = 0
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            number += 1
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError:
                bad.append(
                    {
                        "row_number": number,
                        "raw": json.dumps({"line": line.rstrip()[:2000]}, ensure_ascii=False),
                        "reason": f"line {lineno} of the file is not a JSON object",
                    }
                )
                records.append({})
                continue
            columns.update(dict.fromkeys(obj))
            records.append({k: _as_text(v) for k, v in obj.items()})
    cols = list(columns)
    table = pa.table({c: pa.array([r.get(c) for r in records], pa.string()) for c in cols})
    staged = _register(con, table)
    if bad:  # the broken lines are rejects already; keep _row numbering of the file
        broken = [b["row_number"] for b in bad]
        staged = staged.filter(~staged._row.isin(broken))
    return RawSource(path, staged, cols, "jsonl", encoding=encoding, extra_rejects=bad)


def _read_parquet(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    try:
        source = con.read_parquet(str(path), file_row_number=True)
    except Exception as exc:
        raise SourceError(f"{path} is not a readable Parquet file ({exc}).") from None
    cols = [c for c in source.columns if c != "file_row_number"]
    staged = source.select(
        _row=source.file_row_number + 1, **{c: source[c].cast("string") for c in cols}
    )
    return RawSource(path, staged, cols, "parquet")


def _read_excel(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError(f"{path} is not a readable Excel workbook ({exc}).") from None
    if options.sheet is not None and options.sheet not in book.sheetnames:
        raise SourceError(
            f"{path} has no sheet {options.sheet!r}; its sheets are {', '.join(book.sheetnames)}."
        )
    sheet = book[options.sheet] if options.sheet else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header: list[str] | None = list(options.names) if options.names else None
    body: list[list[str | None]] = []
    for values in rows:
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if header is None:
            header = [_as_text(v) or f"column{i + 1}" for i, v in enumerate(values)]
            continue
        body.append([_as_text(v) for v in values])
    book.close()
    if header is None:
        raise SourceError(f"{path} has no rows; there is nothing to ingest.")
    table = _string_table(body, header)
    return RawSource(path, _register(con, table), header, "excel")
