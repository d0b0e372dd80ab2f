"""Tags: fact, rule and model tags over the features, with coverage."""

from __future__ import annotations

from portrait.tags.build import (
    STAGE,
    FeatureCatalogue,
    FeatureInfo,
    TagReport,
    TagSummary,
    TagValue,
    build_tags,
    feature_catalogue,
    tag_report,
)
from portrait.tags.catalogue import BUILT_IN, Tag, catalogue, get_tag
from portrait.tags.rules import Rule, RuleError, parse_rule

__all__ = [
    "BUILT_IN",
    "STAGE",
    "FeatureCatalogue",
    "FeatureInfo",
    "Rule",
    "RuleError",
    "Tag",
    "TagReport",
    "TagSummary",
    "TagValue",
    "build_tags",
    "catalogue",
    "feature_catalogue",
    "get_tag",
    "parse_rule",
    "tag_report",
]
