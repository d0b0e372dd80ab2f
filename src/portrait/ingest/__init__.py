"""Ingest: source files into the canonical tables, with every row accounted for."""

from __future__ import annotations

from portrait.ingest.load import IngestReport, ingest, resolve_spec
from portrait.ingest.mapping import Spec, load_mapping, suggest_columns
from portrait.ingest.presets import PRESETS, get_preset
from portrait.ingest.readers import ReadOptions

__all__ = [
    "PRESETS",
    "IngestReport",
    "ReadOptions",
    "Spec",
    "get_preset",
    "ingest",
    "load_mapping",
    "resolve_spec",
    "suggest_columns",
]
