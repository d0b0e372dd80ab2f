"""How the command line shows facts: as a table for people, or as JSON or CSV for programs.

Every listing command hands its facts object to :func:`emit`. JSON is the object's own
serialisation (what the REST API will return); CSV is its :meth:`~portrait.facts.Fact.csv_rows`;
a table is drawn by the renderer for that kind of fact, below. Renderers only format: every
number they show is a field of the fact. Tables are laid out for an 80-column terminal:
long names wrap inside their column instead of being cut short.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from portrait.facts import Fact, Note
from portrait.labels import Label


class Format(StrEnum):
    """How a listing command prints its facts."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


#: the width of output to a file or a pipe: lines are not wrapped, so grep finds a phrase
PIPE_WIDTH = 1000


def console(*, stderr: bool = False) -> Console:
    """A console for this command: ``COLUMNS`` when set, else the terminal's width; in a
    pipe, wide enough that no line is wrapped."""
    width: int | None = None
    if os.environ.get("COLUMNS", "").isdigit():
        width = int(os.environ["COLUMNS"])
    elif not (sys.stderr if stderr else sys.stdout).isatty():
        width = PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def emit(fact: Fact, fmt: Format, render: Callable[[Console, Any], None]) -> None:
    """Print ``fact`` as JSON, CSV or (with ``render``) tables."""
    if fmt is Format.JSON:
        sys.stdout.write(fact.model_dump_json(indent=2) + "\n")
    elif fmt is Format.CSV:
        rows = fact.csv_rows()
        names = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(sys.stdout, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        render(console(), fact)


# -- formatting ---------------------------------------------------------------------------
def pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def both(label: Label | None) -> str:
    """A label as "English 中文" (once, where both are the same)."""
    if label is None:
        return ""
    return label.en if label.en == label.zh else f"{label.en} {label.zh}"


def feature_value(value: Any, unit: str) -> str:
    """A feature's value as people read it: shares as percentages, counts with commas."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if unit in ("share", "rate", "probability"):
            return f"{value:.0%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}" + (" days" if unit == "days" else "")
    return str(value)


def table(*columns: str, title: str | None = None, numeric: Iterable[int] = ()) -> Table:
    """A table that wraps long cells instead of cutting them (80 columns is enough)."""
    grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title, title_justify="left",
                 title_style="bold", collapse_padding=True)  # fmt: skip
    right = set(numeric)
    for i, name in enumerate(columns):
        grid.add_column(name, overflow="fold", justify="right" if i in right else "left")
    return grid


def fit(grid: Table, width: int) -> Table:
    """Lay the columns out in ``width`` cells: each gets at least its longest word (so a word
    is never cut in two) and the rest of the room goes to the columns that need more.

    (Rich's own narrowing squeezes the widest column first, down to a few letters.)
    """
    lows, highs = [], []
    for column in grid.columns:
        texts = [str(column.header), *(str(c) for c in column.cells)]
        lines = [line for t in texts for line in t.splitlines()] or [""]
        words = [w for line in lines for w in line.split()] or [""]
        lows.append(min(max(cell_len(w) for w in words), 30))
        highs.append(max(cell_len(line) for line in lines))
    room = width - 2 * len(grid.columns) - 1  # padding either side of every column
    if sum(highs) <= room:
        return grid
    extra = max(room - sum(lows), 0)
    want = [h - lo for lo, h in zip(lows, highs, strict=True)]
    total = sum(want) or 1
    for column, lo, w in zip(grid.columns, lows, want, strict=True):
        column.width = lo + extra * w // total
    return grid


def show(out: Console, grid: Table) -> None:
    """Print a table laid out for the console's width."""
    out.print(fit(grid, out.width))


def notes(out: Console, items: Iterable[Note], prefix: str = "note (提示): ") -> None:
    for note in items:
        out.print(prefix + escape(note.label.en))
