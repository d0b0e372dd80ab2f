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
from portrait.llm.copy import (
    ChannelLimits,
    CopyItem,
    CopyVariant,
    MarketingCopy,
    channel_limits,
    marketing_copy,
)
from portrait.llm.describe import (
    DescribedItem,
    DescriptionText,
    ProductDescription,
    product_description,
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
    "ChannelLimits",
    "CopyItem",
    "CopyVariant",
    "CustomerPersona",
    "DescribedItem",
    "DescriptionText",
    "Generated",
    "Grounds",
    "Job",
    "LLMClient",
    "Language",
    "MarketingCopy",
    "OfflineBackend",
    "Persona",
    "PersonaText",
    "Personas",
    "Problem",
    "ProductDescription",
    "Prompt",
    "ResponseCache",
    "Usage",
    "channel_limits",
    "customer_persona",
    "generate_all",
    "make_client",
    "marketing_copy",
    "mask_pii",
    "product_description",
    "render_prompt",
    "segment_personas",
]
