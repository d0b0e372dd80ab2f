"""Ingest: source files into the canonical tables, with every row accounted for."""

from __future__ import annotations

from portrait.ingest.load import IngestReport, ingest, resolve_spec
from portrait.ingest.mapping import Spec, load_mapping, suggest_columns
from portrait.ingest.presets import PRESETS, get_preset
from portrait.ingest.readers import ReadOptions
from portrait.ingest.rejects import RejectedRow, Rejects, rejected_rows

__all__ = [
    "PRESETS",
    "IngestReport",
    "ReadOptions",
    "RejectedRow",
    "Rejects",
    "Spec",
    "get_preset",
    "ingest",
    "load_mapping",
    "rejected_rows",
    "resolve_spec",
    "suggest_columns",
]
