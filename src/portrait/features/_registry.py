"""The feature registry: every feature's name, window, type and meaning in one place.

A feature is a pure Ibis expression with metadata beside it. Three shapes cover them all:

- ``agg``: an aggregate over one source's rows of a customer (``orders_90d`` counts the
  purchases of the last 90 days);
- ``derive``: a row-wise expression over other features (``avg_order_value`` is
  ``monetary / frequency``);
- a *block*: a function returning a table keyed by ``user_id`` with several features that
  need more than one level of aggregation (top category and its share).

Nothing here executes a query; :mod:`portrait.features.compute` assembles and runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import ibis.expr.datatypes as dt

from portrait.history import Need
from portrait.labels import Label

DType = Literal["int", "float", "string"]
Source = Literal["purchases", "lines", "events", "carts", "activity", "reviews", "first_seen"]

IBIS_TYPES: dict[str, dt.DataType] = {"int": dt.int64, "float": dt.float64, "string": dt.string}


@dataclass(frozen=True)
class Feature:
    """One feature of a customer, computed as of a date from data before it."""

    name: str
    dtype: DType
    en: str
    zh: str
    #: the source whose rows it aggregates, or "derived"/"block"
    source: Source | Literal["derived"]
    #: days the window looks back; None for all history before the as-of date
    window: int | None = None
    needs: tuple[Need, ...] = ()
    agg: Callable[..., Any] | None = None
    derive: Callable[..., Any] | None = None
    block: str | None = None
    #: what the values count or measure ("orders", "money", "share" ...)
    unit: str = ""
    #: the value of a customer with no rows in the source (0 for counts and sums)
    default: float | None = None

    @property
    def label(self) -> Label:
        """What it means, in English and Chinese."""
        return Label(en=self.en.rstrip("."), zh=self.zh)

    @property
    def ibis_type(self) -> dt.DataType:
        return IBIS_TYPES[self.dtype]

    @property
    def numeric(self) -> bool:
        return self.dtype != "string"


#: name -> feature, in definition order
FEATURES: dict[str, Feature] = {}
#: block name -> (source, function(source_table, ctx) -> table keyed by user_id)
BLOCKS: dict[str, tuple[Source, Callable[..., Any]]] = {}


def register(feature: Feature) -> Feature:
    if feature.name in FEATURES:
        raise ValueError(f"feature {feature.name!r} is defined twice")
    FEATURES[feature.name] = feature
    return feature


def block(name: str, source: Source, features: list[Feature]) -> Callable[..., Any]:
    """Register a table-valued block computing ``features`` from ``source``."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        BLOCKS[name] = (source, fn)
        for f in features:
            register(Feature(**{**f.__dict__, "block": name}))
        return fn

    return decorator


def render_markdown() -> str:
    """``docs/features.md``: every feature, generated from the registry (a test checks it)."""
    from portrait.features import definitions  # noqa: F401 - registers the features

    lines = [
        "# Features (特征)",
        "",
        "Every feature of a customer, computed as of a local date from data before it.",
        "Generated from `src/portrait/features/definitions.py`.",
        "",
        "| feature | type | window | needs | meaning | 含义 |",
        "|---|---|---|---|---|---|",
    ]
    for f in FEATURES.values():
        window = f"{f.window} days" if f.window else "all history"
        lines.append(
            f"| `{f.name}` | {f.dtype} | {window} | {', '.join(f.needs)} | {f.en} | {f.zh} |"
        )
    return "\n".join(lines) + "\n"
