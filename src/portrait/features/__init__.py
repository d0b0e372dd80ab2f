"""Customer features as of a date: recency, frequency, value, funnel, affinity, habits.

Every feature is registered with its name, window, type and English and Chinese
descriptions (:data:`FEATURES`); :func:`compute_features` evaluates them all on DuckDB or
Spark, from data strictly before the as-of date.
"""

from __future__ import annotations

from portrait.features._registry import FEATURES, Feature, render_markdown
from portrait.features.compute import (
    STAGE,
    FeatureSet,
    build_features,
    compute_features,
    feature_gaps,
)
from portrait.features.training import training_set

__all__ = [
    "FEATURES",
    "Feature",
    "STAGE",
    "FeatureSet",
    "build_features",
    "compute_features",
    "feature_gaps",
    "render_markdown",
    "training_set",
]
