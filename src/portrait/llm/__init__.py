"""The LLM layer: one client interface, an offline and an OpenAI-compatible backend,
grounding of generated text in its facts, a response cache, and the tasks built on them.

``offline`` is the default: templates over the same facts, so every feature works with no
model and no network. See docs/llm.md.
"""

from __future__ import annotations

from portrait.llm.cache import ResponseCache
from portrait.llm.client import (
    Language,
    LLMClient,
    Prompt,
    Usage,
    make_client,
)
from portrait.llm.grounding import Generated, Grounds, Job, Problem, generate_all
from portrait.llm.offline import OfflineBackend
from portrait.llm.persona import (
    CustomerPersona,
    Persona,
    Personas,
    PersonaText,
    customer_persona,
    segment_personas,
)
from portrait.llm.prompting import mask_pii, render_prompt

__all__ = [
    "CustomerPersona",
    "Generated",
    "Grounds",
    "Job",
    "LLMClient",
    "Language",
    "OfflineBackend",
    "Persona",
    "PersonaText",
    "Personas",
    "Problem",
    "Prompt",
    "ResponseCache",
    "Usage",
    "customer_persona",
    "generate_all",
    "make_client",
    "mask_pii",
    "render_prompt",
    "segment_personas",
]
