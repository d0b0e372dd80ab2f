"""Audiences (人群): definitions over everything known of a customer, saved with their size
at every build, and what sets them apart (insight), exported and measured in campaigns."""

from __future__ import annotations

from portrait.audiences.definition import (
    FUNCTIONS,
    SYNONYMS,
    Compiled,
    audience_base,
    compile_definition,
    from_json,
)
from portrait.audiences.store import (
    STAGE,
    Audience,
    AudienceList,
    AudiencePreview,
    SizePoint,
    delete_audience,
    get_audience,
    list_audiences,
    members,
    preview,
    save_audience,
)

__all__ = [
    "FUNCTIONS",
    "STAGE",
    "SYNONYMS",
    "Audience",
    "AudienceList",
    "AudiencePreview",
    "Compiled",
    "SizePoint",
    "audience_base",
    "compile_definition",
    "delete_audience",
    "from_json",
    "get_audience",
    "list_audiences",
    "members",
    "preview",
    "save_audience",
]
