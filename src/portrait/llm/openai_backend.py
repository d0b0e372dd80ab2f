"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint.

Hosted APIs, or a local model served by Ollama, vLLM or the llama.cpp server. The key is
read from the environment variable that ``[llm].api_key_env`` names. Requests time out,
retry with exponential backoff on timeouts, 429 and 5xx (a ``Retry-After`` header wins), and
at most ``concurrency`` run at once. Structured output asks for a JSON schema first; a server
that refuses ``response_format`` is asked for JSON mode, then for JSON by the prompt alone,
and an answer that does not validate is sent back for repair (bounded).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import ValidationError

from portrait.errors import ConfigError, LLMError, MissingExtraError
from portrait.llm.client import LLMClient, Prompt, T

log = logging.getLogger(__name__)

Mode = Literal["json_schema", "json_object", "prompt"]
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class OpenAIBackend(LLMClient):
    """A chat-completions client over the official ``openai`` SDK.

    Parameters
    ----------
    base_url, model
        The endpoint (``http://127.0.0.1:11434/v1`` for Ollama) and the model's name.
    api_key_env
        Name of the environment variable holding the key; a local endpoint may go without.
    timeout, max_retries, concurrency
        Seconds per request; retries of a timeout, 429 or 5xx; requests in flight at once.
    repair_retries
        How often an answer that is not valid JSON for the schema is sent back to be fixed.
    backoff
        First wait between retries in seconds; it doubles each time (capped at 30 s).
    """

    paid = True

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 3,
        concurrency: int = 4,
        repair_retries: int = 2,
        backoff: float = 0.5,
        max_output_tokens: int = 800,
        price_input_per_1k: float | None = None,
        price_output_per_1k: float | None = None,
    ) -> None:
        super().__init__()
        try:
            import openai
        except ImportError:  # pragma: no cover - a core dependency
            raise MissingExtraError(
                "The openai backend needs the openai SDK; run `pip install openai`."
            ) from None
        key = os.environ.get(api_key_env)
        if not key:
            if urlparse(base_url).hostname not in _LOCAL_HOSTS:
                raise ConfigError(
                    f"The environment variable {api_key_env} holds no API key for {base_url}; "
                    "set it, or name another one in [llm].api_key_env."
                )
            key = "not-needed"  # local servers (Ollama, llama.cpp) accept any key
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.repair_retries = repair_retries
        self.backoff = backoff
        self.max_output_tokens = max_output_tokens
        self.price_input_per_1k = price_input_per_1k
        self.price_output_per_1k = price_output_per_1k
        self.concurrency = concurrency
        self.mode: Mode = "json_schema"
        #: sampling parameters sent; a server that refuses one gets its alternative or none
        self._sampling: dict[str, Any] = {"max_tokens": max_output_tokens, "temperature": 0.2}
        self._openai = openai
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client = openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=0)

    def close(self) -> None:
        self._client.close()

    # -- one answer -----------------------------------------------------------------
    def complete(
        self, prompt: Prompt, schema: type[T], *, offline: T, feedback: str | None = None
    ) -> T:
        shape = json.dumps(schema.model_json_schema(), ensure_ascii=False)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": f"{prompt.system}\n\nJSON schema:\n{shape}"},
            {"role": "user", "content": prompt.user},
        ]
        if feedback:
            messages.append({"role": "user", "content": feedback})
        for repair in range(self.repair_retries + 1):
            content = self._chat(messages, schema)
            try:
                return schema.model_validate_json(_FENCE.sub("", content.strip()))
            except ValidationError as exc:
                problem = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()
                )
                log.warning("%s answer %d does not fit the schema: %s", self.model, repair, problem)
                messages += [
                    {"role": "assistant", "content": content},
                    {
                        "role": "user",
                        "content": f"That is not valid JSON for the schema ({problem}). "
                        "Reply with the corrected JSON object only.",
                    },
                ]
        raise LLMError(
            f"{self.model} at {self.base_url} gave no valid JSON after "
            f'{self.repair_retries} repairs; try another model or backend = "offline".'
        )

    # -- one request, with retries ----------------------------------------------------
    def _format(self, schema: type[T]) -> dict[str, Any]:
        if self.mode == "json_schema":
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
                }
            }
        if self.mode == "json_object":
            return {"response_format": {"type": "json_object"}}
        return {}

    def _chat(self, messages: list[dict[str, str]], schema: type[T]) -> str:
        oa = self._openai
        attempt = 0
        while True:
            wait: float | None = None
            try:
                with self._slots:
                    self.usage.add(requests=1)
                    resp = self._client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        **self._sampling,
                        **self._format(schema),
                    )
            except oa.BadRequestError as exc:
                if self.mode != "prompt" and "response_format" in str(exc):
                    self.mode = "json_object" if self.mode == "json_schema" else "prompt"
                    log.info("%s refuses that response_format; trying %s", self.model, self.mode)
                    continue
                if "max_tokens" in self._sampling and "max_tokens" in str(exc):
                    # newer OpenAI models take max_completion_tokens instead
                    self._sampling["max_completion_tokens"] = self._sampling.pop("max_tokens")
                    continue
                if "temperature" in self._sampling and "temperature" in str(exc):
                    del self._sampling["temperature"]  # some models take only their default
                    continue
                raise LLMError(f"{self.base_url} refused the request: {exc}.") from None
            except (oa.APITimeoutError, oa.APIConnectionError) as exc:
                problem = (
                    f"no answer within {self.timeout:g} s"
                    if isinstance(exc, oa.APITimeoutError)
                    else f"no connection ({exc})"
                )
            except oa.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise LLMError(
                        f"{self.base_url} answered HTTP {exc.status_code}: {exc.message}; "
                        "check [llm].base_url, model and the API key."
                    ) from None
                problem = f"HTTP {exc.status_code}"
                wait = _retry_after(exc.response.headers.get("retry-after"))
            else:
                if resp.usage is not None:
                    self.usage.add(
                        prompt_tokens=resp.usage.prompt_tokens,
                        completion_tokens=resp.usage.completion_tokens,
                    )
                if not resp.choices or resp.choices[0].message.content is None:
                    raise LLMError(f"{self.model} returned an empty answer; try again later.")
                return resp.choices[0].message.content
            if attempt >= self.max_retries:
                raise LLMError(
                    f"{self.model} at {self.base_url}: {problem} after {attempt + 1} attempts; "
                    'raise [llm].timeout or max_retries, or use backend = "offline".'
                )
            delay = wait if wait is not None else min(self.backoff * 2**attempt, 30.0)
            log.warning("%s: %s; retry %d in %.2f s", self.model, problem, attempt + 1, delay)
            time.sleep(delay)
            attempt += 1


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds; dates are ignored)."""
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), 60.0)
    except ValueError:
        return None
