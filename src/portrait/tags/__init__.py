"""Tags: fact, rule and model tags over the features, with coverage."""

from __future__ import annotations

from portrait.tags.build import TagSummary, build_tags, summarise_tags
from portrait.tags.catalogue import BUILT_IN, Tag, catalogue, get_tag
from portrait.tags.rules import Rule, RuleError, parse_rule

__all__ = [
    "BUILT_IN",
    "Rule",
    "RuleError",
    "Tag",
    "TagSummary",
    "build_tags",
    "catalogue",
    "get_tag",
    "parse_rule",
    "summarise_tags",
]
