"""The ``offline`` backend, the default: the task's template text, with no model at all."""

from __future__ import annotations

from portrait.llm.client import LLMClient, Prompt, T


class OfflineBackend(LLMClient):
    """Deterministic text from templates over the facts: no network, no cost."""

    model = "offline"
    paid = False

    def complete(
        self, prompt: Prompt, schema: type[T], *, offline: T, feedback: str | None = None
    ) -> T:
        return offline
