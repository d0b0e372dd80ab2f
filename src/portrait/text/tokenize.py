"""Tokens, clauses and language of review texts, Chinese and English.

Chinese is segmented with jieba (Sun 2012, https://github.com/fxsjy/jieba), imported
lazily with its warnings and log output contained, since the test suite turns warnings
into errors. English is split on letters, digits and apostrophes, lower-cased.
"""

from __future__ import annotations

import logging
import re
import warnings
from functools import cache
from types import ModuleType
from typing import Literal

__all__ = ["Lang", "clauses", "language", "tokens"]

Lang = Literal["zh", "en"]

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_CLAUSE = re.compile(r"[，。！？；,.!?;\n\r]+")
_WORD_EN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SPACE = re.compile(r"\s+")


@cache
def _jieba() -> ModuleType:
    """jieba, imported once with its warnings (pkg_resources ...) and its log quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jieba  # type: ignore[import-untyped]

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    module: ModuleType = jieba
    return module


def language(text: str) -> Lang:
    """``"zh"`` when the text has any Han character and at least as many Han characters as
    Latin letters divided by 4 (a Chinese review quoting a model name stays Chinese),
    else ``"en"``."""
    han = len(_HAN.findall(text))
    if han == 0:
        return "en"
    return "zh" if han * 4 >= len(_LATIN.findall(text)) else "en"


def tokens(text: str, lang: Lang) -> list[str]:
    """The words of ``text``: jieba's segmentation for Chinese (whitespace and punctuation
    dropped), lower-cased words for English."""
    if lang == "zh":
        return [t for t in _jieba().lcut(text) if t.strip() and not _CLAUSE.fullmatch(t.strip())]
    return _WORD_EN.findall(text.lower())


def clauses(text: str) -> list[str]:
    """``text`` split on ，。！？；,.!?; and newlines, stripped, empty parts dropped."""
    return [c for part in _CLAUSE.split(text) if (c := _SPACE.sub(" ", part).strip())]
