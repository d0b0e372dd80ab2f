"""Prompt files, and the facts put into them with anything like PII masked.

Prompts are versioned files in ``portrait/llm/prompts/``: ``<task>.v<N>.<language>.txt``,
with a ``## system`` and a ``## user`` part; ``{facts}`` in the user part is replaced by the
facts as JSON. The highest version of a task is used, and its number is part of the cache key.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from portrait.errors import ConfigError
from portrait.llm.client import Language, Prompt

_FILE = re.compile(r"(?P<task>[a-z_]+)\.v(?P<version>\d+)\.(?P<lang>zh|en)\.txt")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# a phone number: 7+ digits, maybe with a leading + and separators (not a plain amount)
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[ -]?\d){6,}(?![\w.])")


def mask_pii(value: Any) -> Any:
    """``value`` with e-mail addresses and phone numbers in its strings masked.

    Facts carry no raw PII (profiles hold pseudonyms), but anything that looks like it is
    masked anyway before a request leaves the machine. Numbers are left alone.
    """
    if isinstance(value, str):
        return _PHONE.sub("[phone]", _EMAIL.sub("[email]", value))
    if isinstance(value, dict):
        return {k: mask_pii(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii(v) for v in value]
    return value


@cache
def _versions() -> dict[tuple[str, str], tuple[int, str]]:
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for entry in resources.files("portrait.llm").joinpath("prompts").iterdir():
        m = _FILE.fullmatch(entry.name)
        if m is None:
            continue
        key, version = (m["task"], m["lang"]), int(m["version"])
        if key not in found or found[key][0] < version:
            found[key] = (version, entry.read_text(encoding="utf-8"))
    return found


def render_prompt(task: str, language: Language, facts: Any) -> Prompt:
    """The newest prompt file of ``task`` in ``language``, filled with ``facts`` (masked)."""
    try:
        version, text = _versions()[(task, language)]
    except KeyError:
        raise ConfigError(f"There is no {language} prompt for {task!r}; use zh or en.") from None
    system, _, user = text.partition("## user")
    system = system.replace("## system", "", 1).strip()
    payload = json.dumps(mask_pii(facts), ensure_ascii=False, indent=1, sort_keys=True)
    return Prompt(
        task=task,
        version=f"v{version}",
        language=language,
        system=system,
        user=user.strip().replace("{facts}", payload),
    )
