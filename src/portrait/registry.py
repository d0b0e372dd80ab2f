"""The model registries: which models a workspace may name, and the settings each takes.

The configuration checks ``recommend.model``, ``recommend.params`` and ``value.model``
against these tables, so it never imports a capability to learn a name; the capabilities
map the same names to their classes (``portrait.recommend.models``,
``portrait.value.models``) and a test checks that both sides agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """A model a workspace can choose: its name, settings and validation grid."""

    name: str
    #: keyword arguments a workspace may set in its configuration
    params: frozenset[str] = frozenset()
    #: hyper-parameters searched on validation by the evaluation harness
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


def _specs(*specs: ModelSpec) -> dict[str, ModelSpec]:
    return {s.name: s for s in specs}


#: recommenders of implicit feedback, in the order evaluations list them
RECOMMENDERS: dict[str, ModelSpec] = _specs(
    ModelSpec("popularity", frozenset({"groups"})),
    ModelSpec(
        "itemknn",
        frozenset({"k", "shrink", "weighting", "popularity_weight"}),
        {"k": (100, 200, 400), "shrink": (0.0, 20.0), "weighting": ("none", "bm25")},
    ),
    ModelSpec(
        "userknn",
        frozenset({"k", "shrink", "centre", "popularity_weight"}),
        {"k": (20, 50, 100), "shrink": (0.0, 10.0)},
    ),
    ModelSpec(
        "als",
        frozenset(
            {"factors", "regularization", "alpha", "iterations", "popularity_weight", "seed"}
        ),  # fmt: skip
        {"factors": (64, 128), "regularization": (15.0, 20.0, 25.0, 30.0), "alpha": (2.0, 3.0)},
    ),
    ModelSpec(
        "ease",
        frozenset({"l2", "min_support", "max_items", "popularity_weight"}),
        {"l2": (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)},
    ),
)

#: repeat-purchase models of customer value (BG/NBD and its modified form)
PURCHASE_MODELS: dict[str, ModelSpec] = _specs(
    ModelSpec("bgnbd", frozenset({"penalizer"})),
    ModelSpec("mbgnbd", frozenset({"penalizer"})),
)


def check_name(kind: str, name: str, registry: Mapping[str, ModelSpec]) -> ModelSpec:
    """The spec of ``name``; a ValueError listing the choices if there is none."""
    if name not in registry:
        raise ValueError(f"{kind} {name!r} is unknown; use one of {', '.join(registry)}")
    return registry[name]
