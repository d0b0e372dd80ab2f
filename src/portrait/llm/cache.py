"""Responses kept in the workspace (``artifacts/llm/``), so a rerun asks the model nothing.

The key is (task, prompt version, language, facts hash, model): a changed prompt file, other
facts or another model make a new request; anything else is read back.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from portrait.hashing import fingerprint
from portrait.llm.client import Prompt

log = logging.getLogger(__name__)


def facts_hash(facts: Any) -> str:
    """The hash of the facts a prompt was rendered from."""
    return fingerprint(facts)


class ResponseCache:
    """JSON files under ``root`` (a workspace's ``artifacts/llm``), one per response."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def key(self, prompt: Prompt, facts: Any, model: str) -> str:
        return fingerprint(prompt.task, prompt.version, prompt.language, facts_hash(facts), model)

    def _file(self, prompt: Prompt, key: str) -> Path:
        return self.root / prompt.task / f"{key}.json"

    def get(self, prompt: Prompt, facts: Any, model: str) -> dict[str, Any] | None:
        path = self._file(prompt, self.key(prompt, facts, model))
        if not path.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            log.warning("ignoring the unreadable cached response %s", path)
            return None
        return data

    def put(self, prompt: Prompt, facts: Any, model: str, value: dict[str, Any]) -> None:
        path = self._file(prompt, self.key(prompt, facts, model))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
