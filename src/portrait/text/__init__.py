"""Review intelligence: language, tokens and sentiment of review texts, zh and en.

The ``text`` build stage writes ``review_sentiment`` and ``review_aspects`` (aspects per
clause, :mod:`portrait.text.aspects`); :func:`review_summary` reads them back as facts
(``portrait reviews``); :func:`topics_of` finds what groups of reviews talk about.
"""

from __future__ import annotations

from portrait.text.aspects import ASPECTS, AspectMention, aspect_arrow, aspect_table, aspects_of
from portrait.text.sentiment import SentimentModel, default_model, shop_model
from portrait.text.stage import (
    STAGE,
    AspectShare,
    ItemSentiment,
    LanguageSentiment,
    ReviewSummary,
    build_text,
    review_summary,
)
from portrait.text.tokenize import clauses, language, tokens
from portrait.text.topics import Topic, topics_of

__all__ = [
    "ASPECTS",
    "STAGE",
    "AspectMention",
    "AspectShare",
    "Topic",
    "aspect_arrow",
    "aspect_table",
    "aspects_of",
    "topics_of",
    "ItemSentiment",
    "LanguageSentiment",
    "ReviewSummary",
    "SentimentModel",
    "build_text",
    "clauses",
    "default_model",
    "language",
    "review_summary",
    "shop_model",
    "tokens",
]
