"""Reading a source file into a staging table of text columns, whatever its format.

Every reader yields the same thing: an Ibis table whose columns are the source's columns as
text (nothing converted yet, so nothing is lost before validation can say why) and the
row's position among the data rows, from 1: a ``_row`` column, or for CSV the order of the
scan, which :func:`number_rows` turns into ``_row`` once the rows are in a table. For text
files ``_row`` is the physical line of the file where the row starts (the header is line 1),
the same numbering as the rows the parser itself cannot split (a stray or unterminated
quote, too many fields, bytes that are not text in the encoding): those are returned as
parse rejects with their line and raw text, never dropped.

CSV is read line-true. A fast byte scan counts the physical lines, blank lines and newlines
inside quoted fields; when every line is one row, DuckDB's own reader reads the file
(parallel, gzip) and its rows plus its rejects must add up to the lines counted. Otherwise
(quoted fields spanning lines, an unterminated quote, NUL bytes, blank lines, a sniffer that
fails, or counts that do not add up) a line-true splitter reads the file: a line that cannot
be split is a reject of its own and reading resumes at the next line, so one broken quote
never swallows the rest of the file. DuckDB knows UTF-8 and latin-1; other encodings
(GBK/GB18030, UTF-16) are transcoded to UTF-8 first, streaming. JSON lines are parsed line by
line so that one broken line is a reject, not a failed file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from portrait.errors import SourceError

log = logging.getLogger(__name__)

Format = Literal["auto", "csv", "jsonl", "parquet", "excel", "lines"]

_SAMPLE_BYTES = 1 << 20
#: the first bytes of an OLE2 compound file: an old binary Excel workbook (.xls)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
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
    #: read every line in Python rather than with DuckDB's parallel reader (slower, and what
    #: happens anyway when the fast path's counts do not add up)
    line_true: bool = False


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
    #: CSV read by DuckDB directly: lines before the first data row, and the data rows
    #: (rows plus parser rejects) the byte scan counted, to reconcile with what DuckDB read
    header_lines: int = 0
    expected_rows: int | None = None
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
        magic = fh.read(8)
    if magic[:4] == b"PAR1":
        return "parquet"
    if magic[:4] == b"PK\x03\x04" or magic == _OLE2_MAGIC:
        return "excel"  # whatever its name says: an .xlsx (zip) or an old .xls (OLE2)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] == ".xls":
        return "excel"
    return _EXTENSIONS.get(suffixes[-1] if suffixes else "", "csv")


_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


def _looks_binary(sample: bytes) -> int | None:
    """Offset of the first byte no text file would hold, if such bytes are more than 2% of
    the sample (a few NUL bytes in an export are broken lines, not a binary file); else
    None."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    head = sample[:65536]
    bad = len(head) - len(head.translate(None, _CONTROL))
    if bad == 0 or bad * 50 <= len(head):
        return None
    return next(i for i, b in enumerate(head) if b in _CONTROL)


def _valid_utf8(sample: bytes, complete: bool) -> bool:
    """Whether ``sample`` is UTF-8, or nearly: a few lines that are not (GBK lines pasted into
    a UTF-8 export, a broken byte) are rejects of their own, not a reason to read every other
    line in the wrong encoding."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        pass
    else:
        return True
    lines = sample.split(b"\n")
    if not complete:
        lines = lines[:-1]  # may be cut in the middle of a character
    non_ascii = bad = 0
    for line in lines:
        if line.isascii():
            continue
        non_ascii += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    return non_ascii >= 5 and bad * 5 <= non_ascii


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
    encoding, sample = _text_encoding(path, options)
    cleanup: list[Path] = []
    target, text_encoding = path, encoding
    if encoding not in ("utf-8", "latin-1"):  # DuckDB and the byte scan need single-byte "\n"
        target, text_encoding = _transcode(path, encoding), "utf-8"
        cleanup.append(target)
        sample = _head(target)
    quote = options.quote
    head_lines = _sample_lines(sample, text_encoding)
    delimiter = options.delimiter or sniff_delimiter(head_lines, quote=quote)
    scan = scan_lines(target, quote=quote)
    header_lines = 1 if options.header else 0
    raw: RawSource | None = None
    if delimiter != WHITESPACE and not options.line_true and scan.line_simple:
        raw = _read_csv_duckdb(con, path, target, text_encoding, delimiter, options)
        if raw is not None:
            raw.header_lines = header_lines
            raw.expected_rows = scan.lines - scan.blank - header_lines
    if raw is None:
        log.info("%s: reading line by line (%s)", path.name, scan)
        raw = _read_csv_lines(con, path, target, text_encoding, delimiter, options)
    raw.encoding = encoding
    raw._cleanup.extend(cleanup)
    return raw


#: ``--delimiter whitespace``: columns separated by runs of spaces or tabs
WHITESPACE = "whitespace"
_DELIMITERS = (",", "\t", ";", "|")
_WIDE_GAP = re.compile(r" {2,}|\t")
_ANY_GAP = re.compile(r"\s+")
#: a quoted field may span at most this many lines; an open quote that does not close
#: within them (into a row of the right width) is a broken line, not a multi-line field
_MAX_SPAN = 200


@dataclass(frozen=True)
class LineScan:
    """What a byte scan of a text file counted, independently of any CSV parser."""

    #: physical lines, a last line without a newline included
    lines: int
    #: newlines inside quoted fields (by the parity of the quotes before them)
    embedded: int
    #: blank lines outside quoted fields, and how many of them end the file
    blank: int
    trailing_blank: int
    #: a quote still open at the end of the file, NUL bytes anywhere
    open_at_end: bool
    nul: bool

    @property
    def line_simple(self) -> bool:
        """Every line is one row: DuckDB's rows and rejects can be mapped to lines."""
        return (
            self.embedded == 0
            and self.blank == self.trailing_blank
            and not self.open_at_end
            and not self.nul
        )


def scan_lines(path: Path, *, quote: str = '"') -> LineScan:
    """Count the physical lines of ``path`` (decompressed) with vectorised byte scans."""
    q = quote.encode("latin-1")[0] if quote else None
    lines = embedded = blank = trailing = 0
    inside = nul = False
    rest = b""
    with _open_bytes(path) as fh:
        while True:
            chunk = fh.read(1 << 23)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            piece, rest = data[:cut], data[cut:]
            if piece:
                if not piece.endswith(b"\n"):
                    piece += b"\n"  # the last line, without its newline
                nul = nul or b"\x00" in piece
                was_inside = inside
                arr = np.frombuffer(piece, np.uint8)
                ends = np.flatnonzero(arr == 10)
                starts = np.concatenate(([0], ends[:-1] + 1))
                length = ends - starts
                empty = (length == 0) | ((length == 1) & (arr[starts] == 13))
                if q is not None and q in piece:
                    quotes = np.flatnonzero(arr == q)
                    odd = (np.searchsorted(quotes, ends) + int(inside)) % 2 == 1
                    inside = bool((len(quotes) + int(inside)) % 2)
                elif inside:
                    odd = np.ones(len(ends), bool)
                else:
                    odd = np.zeros(len(ends), bool)
                embedded += int(odd.sum())
                # a blank line is one that starts outside quotes: after a newline that is
                # not embedded (the first line of the piece follows the previous piece's)
                outside = np.concatenate(([not was_inside], ~odd[:-1]))
                is_blank = empty & outside
                blank += int(is_blank.sum())
                nonblank = np.flatnonzero(~is_blank)
                trailing = (
                    len(ends) - 1 - int(nonblank[-1]) if len(nonblank) else trailing + len(ends)
                )
                lines += len(ends)
            if not chunk:
                break
    return LineScan(lines, embedded, blank, trailing, inside, nul)


def _sample_lines(sample: bytes, encoding: str, limit: int = 200) -> list[str]:
    """The first non-blank lines of the sample, decoded leniently (for sniffing only)."""
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if len(sample) >= _SAMPLE_BYTES:
        lines = lines[:-1]
    return [ln for ln in lines if ln.strip()][:limit]


def _split_line(line: str, delimiter: str, quote: str) -> list[str] | None:
    """The fields of one line, or None when it holds an open quote or a malformed one."""
    if delimiter == WHITESPACE:
        return _split_whitespace(line)
    if delimiter == " ":  # runs of any whitespace
        return line.split()
    if not quote or quote not in line:
        return line.split(delimiter)
    try:
        return next(csv.reader([line], delimiter=delimiter, quotechar=quote, strict=True), [])
    except csv.Error:
        return None


def _split_whitespace(line: str, gap: re.Pattern[str] = _WIDE_GAP) -> list[str]:
    return gap.split(line.strip())


def sniff_delimiter(lines: list[str], *, quote: str = '"') -> str:
    """The delimiter that splits most sample lines into as many fields as the first line.

    Each line is split on its own, so a stray or unterminated quote spoils one line, not the
    guess. Space-aligned columns are :data:`WHITESPACE`; a file of one column is ``,``.
    """
    if not lines:
        return ","
    best, best_score = ",", (0.0, 0)
    for cand in _DELIMITERS:
        counts = [len(f) if (f := _split_line(ln, cand, quote)) else 0 for ln in lines]
        width = counts[0]
        if width < 2:
            continue
        score = (sum(c == width for c in counts) / len(counts), width)
        if score > best_score:
            best, best_score = cand, score
    if best_score[0] >= 0.5:
        return best
    for gap in (_WIDE_GAP, _ANY_GAP):
        counts = [len(_split_whitespace(ln, gap)) for ln in lines]
        if counts[0] >= 2 and sum(c == counts[0] for c in counts) >= 0.9 * len(counts):
            return WHITESPACE
    return best


def _read_csv_duckdb(
    con: ibis.BaseBackend,
    path: Path,
    target: Path,
    encoding: str,
    delimiter: str,
    options: ReadOptions,
) -> RawSource | None:
    """DuckDB's parallel reader on a file whose every line is one row; None if it fails."""
    name = ibis.util.gen_name("src")
    kwargs: dict[str, Any] = {
        "all_varchar": True,
        "header": options.header,
        "delim": delimiter,
        "quote": options.quote,
        "escape": options.quote,
        "ignore_errors": True,
        "store_rejects": True,
        "rejects_table": f"{name}_errors",
        "rejects_scan": f"{name}_scans",
        "encoding": encoding,
        "max_line_size": 16 << 20,
    }
    if options.names:
        kwargs["names"] = list(options.names)
    try:
        view = con.read_csv(str(target), table_name=name, **kwargs)
    except Exception as exc:  # DuckDB's sniffer: the line-true reader takes over
        log.info("%s: DuckDB could not read it (%s)", path.name, str(exc).splitlines()[0])
        return None
    # no _row here: a window over the scan would serialise it. DuckDB keeps insertion order,
    # so the row number is the rowid of the first table made from this view (see number_rows)
    return RawSource(
        path=path,
        table=view,
        columns=list(view.columns),
        format="csv",
        delimiter=delimiter,
        rejects_table=f"{name}_errors",
    )


def _read_csv_lines(
    con: ibis.BaseBackend,
    path: Path,
    target: Path,
    encoding: str,
    delimiter: str,
    options: ReadOptions,
) -> RawSource:
    """Line-true reading: every physical line is part of exactly one row or one reject.

    The rows are written to a temporary CSV with their first line as ``_row`` and read back
    by DuckDB, so that the rest of the ingest sees the same staged table either way.
    """
    quote = options.quote
    with _open_bytes(target) as src:
        data = src.read()
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    rejects: list[dict[str, Any]] = []

    def reject(number: int, text: str, why: str) -> None:
        rejects.append(
            {
                "row_number": number,
                "raw": json.dumps({"line": text[:2000]}, ensure_ascii=False),
                "reason": f"line {number} of the file {why}",
            }
        )

    def decode(number: int) -> str | None:
        b = raw_lines[number - 1]
        if b.endswith(b"\r"):
            b = b[:-1]
        try:
            text = b.decode(encoding)
        except UnicodeDecodeError:
            reject(
                number, b.decode(encoding, errors="replace"), _REJECT_REASONS["INVALID ENCODING"]
            )
            return None
        if "\x00" in text:
            reject(number, text.replace("\x00", "\\0"), "holds a NUL byte")
            return None
        return text.lstrip("\ufeff")  # a BOM at a line's start: files joined end to end

    names = list(options.names) if options.names else None
    first = 1
    if options.header:
        header_text = ""
        while first <= len(raw_lines) and not header_text.strip():
            b = raw_lines[first - 1].rstrip(b"\r")
            header_text = b.decode(encoding, errors="replace").lstrip("\ufeff")
            first += 1
        header = _split_line(header_text, delimiter, quote)
        if header is None:
            header = next(csv.reader([header_text], delimiter=delimiter, quotechar=quote), [])
        if delimiter == WHITESPACE and len(header) < 2:  # single spaces between columns
            delimiter = " "
            header = header_text.split()
        if names is None:
            names = [h.strip() or f"column{i}" for i, h in enumerate(header)]
    if names is None:  # no header, no names: as wide as most of the first lines
        sample = [raw_lines[k].rstrip(b"\r").decode(encoding, errors="replace")
                  for k in range(min(len(raw_lines), 200))]  # fmt: skip
        widths = Counter(len(f) for ln in sample if (f := _split_line(ln, delimiter, quote)))
        names = [f"column{k}" for k in range(widths.most_common(1)[0][0] if widths else 1)]
    width = len(names)
    out = Path(tempfile.mkstemp(prefix="portrait-", suffix=".csv")[1])
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["_row", *names])
        i = first
        n = len(raw_lines)
        while i <= n:
            text = decode(i)
            if text is None:
                i += 1
                continue
            if not text.strip():
                i += 1  # a blank line is not a row
                continue
            fields = _split_line(text, delimiter, quote)
            span = 1
            if fields is None and text.count(quote) % 2:
                fields, span = _multi_line(text, raw_lines, i, encoding, delimiter, quote, width)
            if fields is None:
                why = (
                    "has an unterminated quote"
                    if text.count(quote) % 2
                    else "has a quote in the middle of a quoted field"
                )
                reject(i, text, why)
            elif len(fields) != width:
                more = len(fields) > width
                reject(i, text, _REJECT_REASONS["TOO MANY COLUMNS" if more else "MISSING COLUMNS"])
            else:
                writer.writerow([i, *fields])
            i += span
    name = ibis.util.gen_name("src")
    view = con.read_csv(
        str(out), table_name=name, all_varchar=True, header=True, delim=",", quote='"',
        escape='"', auto_detect=True, max_line_size=16 << 20,
    )  # fmt: skip
    cols = [c for c in view.columns if c != "_row"]
    staged = view.select(_row=view["_row"].cast("int64"), **{c: view[c] for c in cols})
    return RawSource(
        path=path,
        table=staged,
        columns=cols,
        format="csv",
        delimiter=WHITESPACE if delimiter == " " else delimiter,
        extra_rejects=rejects,
        _cleanup=[out],
    )


def _multi_line(
    text: str,
    raw_lines: list[bytes],
    i: int,
    encoding: str,
    delimiter: str,
    quote: str,
    width: int,
) -> tuple[list[str] | None, int]:
    """A quoted field that continues on the next lines: the row and how many lines it spans,
    or (None, 1) when the quote does not close within :data:`_MAX_SPAN` lines into a row of
    the right width (then line ``i`` alone is a reject)."""
    parts = [text]
    open_quotes = text.count(quote) % 2 == 1
    for j in range(i + 1, min(i + _MAX_SPAN, len(raw_lines) + 1)):
        try:
            more = raw_lines[j - 1].rstrip(b"\r").decode(encoding)
        except UnicodeDecodeError:
            return None, 1
        parts.append(more)
        if more.count(quote) % 2:
            open_quotes = not open_quotes
        if open_quotes:
            if quote not in more and len(_split_line(more, delimiter, quote) or ()) == width:
                return None, 1  # a whole row of its own: the quote on line i is broken
            continue
        try:
            rows = list(
                csv.reader(
                    io.StringIO("\n".join(parts)), delimiter=delimiter, quotechar=quote, strict=True
                )  # fmt: skip
            )
        except csv.Error:
            return None, 1
        if len(rows) == 1 and len(rows[0]) == width:
            return rows[0], j - i + 1
        return None, 1
    return None, 1


def number_rows(con: ibis.BaseBackend, expr: ir.Table, raw: RawSource | None = None) -> ir.Table:
    """Materialise ``expr`` as a temporary table and add ``_row`` from its row ids.

    DuckDB preserves insertion order (``preserve_insertion_order``, on by default), so the
    row ids of a table made from a scan follow the file, at no cost to the parallel scan.
    """
    if "_row" in expr.columns:
        return expr
    name = ibis.util.gen_name("rows")
    con.create_table(name, expr, temp=True)
    return with_row_ids(con, name, raw)


class LinesUnaccounted(Exception):  # noqa: N818 - a signal to re-read, not an error
    """DuckDB's rows and rejects do not add up to the lines the byte scan counted: the
    caller reads the file again line-true (``ReadOptions(line_true=True)``)."""


#: more parser rejects than this in a file DuckDB read: number its rows line-true instead
_MAX_MAPPED_REJECTS = 1000


def with_row_ids(con: ibis.BaseBackend, table: str, raw: RawSource | None = None) -> ir.Table:
    """Table ``table`` with ``_row`` = the file line where each row starts.

    Without ``raw`` (or for a source without line counts) that is its row id + 1 (its
    insertion order). For a CSV read by DuckDB, whose every line is one row, the header and
    the lines the parser refused are skipped; and the rows plus those rejects must add up to
    the lines the byte scan counted, else :class:`LinesUnaccounted` is raised.
    """
    if raw is None or raw.expected_rows is None or raw.rejects_table is None:
        return con.sql(f'SELECT rowid + 1 AS _row, * FROM "{table}"')
    lines = _reject_lines(con, raw)
    n = con.con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    rows = int(n[0]) if n else 0
    if rows + len(lines) != raw.expected_rows or len(lines) > _MAX_MAPPED_REJECTS:
        raise LinesUnaccounted(
            f"{raw.path.name}: {rows} rows + {len(lines)} rejects, {raw.expected_rows} lines"
        )
    first = raw.header_lines + 1
    if not lines:
        return con.sql(f'SELECT rowid + {first} AS _row, * FROM "{table}"')
    # row r (from 0) is on line r + first + the number of rejected lines before it; reject j
    # (from 0) on line l has l - first - j rows before it
    gaps = ", ".join(str(line - first - j) for j, line in enumerate(lines))
    return con.sql(
        f"SELECT rowid + {first} + len(list_filter([{gaps}], g -> g <= rowid)) AS _row, * "
        f'FROM "{table}"'
    )


def _reject_lines(con: ibis.BaseBackend, raw: RawSource) -> list[int]:
    rows = con.con.execute(
        f'SELECT DISTINCT line FROM "{raw.rejects_table}" ORDER BY line'
    ).fetchall()
    return [int(r[0]) for r in rows]


def parse_rejects(con: ibis.BaseBackend, raw: RawSource) -> list[dict[str, Any]]:
    """Rows the CSV parser refused, one per line; read them after the staged table has been
    scanned."""
    if raw.rejects_table is None:
        return raw.extra_rejects
    rows = con.con.execute(
        f'SELECT line, min(error_type), min(csv_line) FROM "{raw.rejects_table}" '
        "GROUP BY line ORDER BY line"
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


def _register(con: ibis.BaseBackend, table: pa.Table, numbers: list[int] | None = None) -> ir.Table:
    """``table`` as a view, with ``_row``: ``numbers`` (file lines), or 1, 2, ..."""
    rows = pa.array(numbers or range(1, table.num_rows + 1), pa.int64())
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
    numbers: list[int] = []
    with _open_text(path, encoding) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            number = lineno  # rows are numbered by their line in the file, as in CSV
            numbers.append(number)
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
    staged = _register(con, table, numbers)
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


def _read_xls(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    """An old binary workbook (.xls), read with calamine."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:  # pragma: no cover - a dependency; refuse with the fix
        raise SourceError(
            f"{path} is an old binary Excel (.xls) file; convert it with "
            f"`libreoffice --headless --convert-to xlsx {path}` and ingest the .xlsx."
        ) from None
    try:
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        if options.sheet is not None and options.sheet not in names:
            raise SourceError(
                f"{path} has no sheet {options.sheet!r}; its sheets are {', '.join(names)}."
            )
        rows = book.get_sheet_by_name(options.sheet or names[0]).to_python()
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(
            f"{path} is not a readable Excel workbook ({exc}); open it in Excel and save it "
            "as .xlsx or CSV."
        ) from None
    return _sheet_rows(con, path, rows, options)


def _sheet_rows(con: ibis.BaseBackend, path: Path, rows: Any, options: ReadOptions) -> RawSource:
    """A sheet's rows as a source; ``_row`` is the sheet's row number (the header is 1)."""
    header: list[str] | None = list(options.names) if options.names else None
    body: list[list[str | None]] = []
    numbers: list[int] = []
    for number, values in enumerate(rows, start=1):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if header is None:
            header = [_as_text(v) or f"column{i + 1}" for i, v in enumerate(values)]
            continue
        body.append([_as_text(v) for v in values])
        numbers.append(number)
    if header is None:
        raise SourceError(f"{path} has no rows; there is nothing to ingest.")
    table = _string_table(body, header)
    return RawSource(path, _register(con, table, numbers), header, "excel")


def _read_excel(con: ibis.BaseBackend, path: Path, options: ReadOptions) -> RawSource:
    with path.open("rb") as fh:
        if fh.read(8) == _OLE2_MAGIC:
            return _read_xls(con, path, options)
    from openpyxl import load_workbook

    try:  # a file object: openpyxl judges a path by its extension, Portrait by content
        book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
    except Exception as exc:
        raise SourceError(f"{path} is not a readable Excel workbook ({exc}).") from None
    if options.sheet is not None and options.sheet not in book.sheetnames:
        raise SourceError(
            f"{path} has no sheet {options.sheet!r}; its sheets are {', '.join(book.sheetnames)}."
        )
    sheet = book[options.sheet] if options.sheet else book.worksheets[0]
    try:
        return _sheet_rows(con, path, sheet.iter_rows(values_only=True), options)
    finally:
        book.close()
