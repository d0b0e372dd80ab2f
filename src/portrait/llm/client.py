"""The client interface every backend implements, and what a request costs.

A :class:`Prompt` is rendered from facts (never from tables) by :mod:`portrait.llm.prompts`;
a backend turns it into a validated pydantic object. The ``offline`` backend returns the
task's template text; the ``openai`` backend asks a model. Grounding and the cache sit above
the backends (:func:`portrait.llm.grounding.generate`), so both behave the same way.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from portrait.facts import Fact

if TYPE_CHECKING:
    from portrait.config import LLMConfig

Language = Literal["zh", "en"]
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Prompt:
    """A rendered request: the task, its prompt file's version, and the messages."""

    task: str
    version: str
    language: Language
    system: str
    user: str

    def estimated_tokens(self) -> int:
        """A rough count of input tokens (about 4 bytes of UTF-8 per token)."""
        return (len((self.system + self.user).encode()) + 3) // 4


@dataclass
class Usage:
    """Requests made and tokens used by one client (thread-safe counters)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    def cost(
        self, price_input_per_1k: float | None, price_output_per_1k: float | None
    ) -> float | None:
        """The cost at the given prices per 1,000 tokens; ``None`` without prices."""
        if price_input_per_1k is None and price_output_per_1k is None:
            return None
        return (
            self.prompt_tokens * (price_input_per_1k or 0.0)
            + self.completion_tokens * (price_output_per_1k or 0.0)
        ) / 1000


class LLMClient(ABC):
    """One interface, two backends: ``offline`` (templates) and ``openai`` (a model)."""

    #: the model's name, part of the cache key ("offline" for the templates)
    model: str = "offline"
    #: whether a call costs money (and so counts against ``max_paid_calls``)
    paid: bool = False
    #: requests in flight at once
    concurrency: int = 1
    #: the most output tokens asked for, for the cost estimate
    max_output_tokens: int = 800
    price_input_per_1k: float | None = None
    price_output_per_1k: float | None = None

    def __init__(self) -> None:
        self.usage = Usage()

    @abstractmethod
    def complete(
        self, prompt: Prompt, schema: type[T], *, offline: T, feedback: str | None = None
    ) -> T:
        """The answer to ``prompt`` as a ``schema`` object.

        ``offline`` is the template answer over the same facts; ``feedback`` says what was
        wrong with the previous answer (a number not in the facts), for a regeneration.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (the offline backend has none)."""


class Spend(Fact):
    """What making a result cost: requests made and tokens used, and the cost at the
    configured prices (``None`` without prices); a task's facts class extends it."""

    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None


def make_client(config: LLMConfig) -> LLMClient:
    """The backend that ``[llm]`` in ``portrait.toml`` names."""
    if config.backend == "offline":
        from portrait.llm.offline import OfflineBackend

        return OfflineBackend()
    from portrait.llm.openai_backend import OpenAIBackend

    return OpenAIBackend(
        base_url=config.base_url,
        model=config.model,
        api_key_env=config.api_key_env,
        timeout=config.timeout,
        max_retries=config.max_retries,
        concurrency=config.concurrency,
        price_input_per_1k=config.price_input_per_1k,
        price_output_per_1k=config.price_output_per_1k,
    )


def usage_summary(client: LLMClient) -> dict[str, Any]:
    """The client's usage as plain values (for facts and logs)."""
    u = client.usage
    return {
        "model": client.model,
        "requests": u.requests,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "cost": u.cost(client.price_input_per_1k, client.price_output_per_1k),
    }
