"""The recommenders a workspace can name (``recommend.model``), by their registry name.

Names, settings and validation grids are declared once in :mod:`portrait.registry` (the
configuration checks against it); this maps each name to its class and builds models.
"""

from __future__ import annotations

import inspect
from typing import Any

from portrait.errors import ConfigError
from portrait.recommend._base import Recommender
from portrait.recommend.als import ALS
from portrait.recommend.ease import EASE
from portrait.recommend.itemknn import ItemKNN
from portrait.recommend.popularity import Popularity
from portrait.recommend.userknn import UserKNN
from portrait.registry import RECOMMENDERS

CLASSES: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "itemknn": ItemKNN,
    "userknn": UserKNN,
    "als": ALS,
    "ease": EASE,
}
assert list(CLASSES) == list(RECOMMENDERS), "portrait.registry and recommend.models disagree"


def accepted(cls: type[Recommender]) -> set[str]:
    """The keyword arguments a recommender class takes."""
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def make_model(name: str, params: dict[str, Any] | None = None, *, seed: int = 0) -> Recommender:
    """A recommender by registry name, with ``params`` and (where it takes one) ``seed``."""
    if name not in CLASSES:
        raise ConfigError(f"Unknown model {name!r}; choose from {', '.join(CLASSES)}.")
    cls = CLASSES[name]
    params = dict(params or {})
    if "seed" in accepted(cls):
        params = {"seed": seed, **params}
    return cls(**params)
