"""Grounding: generated text may only use the numbers, dates and names of its facts.

Every number (``1,234``, ``1234``, ``12.3%``, ``0.123``, ``1.2万``, ``3.1k``), date and known
segment or tag name in an answer is looked up in the facts it was given. A number matches a
fact when the fact, rounded to the precision written, equals it (``12.3%`` matches a share of
0.1234; ``3,087`` matches 3087.16). Text that invents or changes one is rejected and
regenerated with the offending spans named (bounded), then replaced by the offline text;
each rejection is logged with its span. :func:`generate_all` also keeps the cache and asks
before a large paid run.

A job may hold its answer to more than its facts: ``check`` adds the problems of a task's own
limits (a channel's length, a required phrase), which are rejected and regenerated the same
way, and ``quotable`` narrows what the text may quote to a part of the facts (the rest is
context for the model, not for the reader).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Literal

from pydantic import BaseModel, ValidationError

from portrait.errors import ConfirmationNeeded
from portrait.llm.cache import ResponseCache
from portrait.llm.client import LLMClient, Prompt, T

log = logging.getLogger(__name__)

Source = Literal["model", "cache", "offline", "offline_fallback"]
#: number, date, name: not in the facts; limit: breaks a limit of the task (``Job.check``)
Reason = Literal["number", "date", "name", "limit"]

_DATE = re.compile(r"(?<!\d)(?P<y>\d{4})(?:-|/|年)(?P<m>\d{1,2})(?:-|/|月)(?P<d>\d{1,2})日?(?!\d)")
_NUMBER = re.compile(
    r"(?<![0-9_.])(?P<sign>[-+−])?(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?"
    r"(?P<unit>\s?(?:%|％)|万|[kK](?![A-Za-z]))?"
)


@dataclass(frozen=True)
class Problem:
    """A span of generated text that the facts do not support, or a limit it breaks."""

    span: str
    reason: Reason
    #: what is wrong, in words, when the span alone does not say (a limit)
    detail: str = ""

    def __str__(self) -> str:
        if self.detail:
            return f"{self.reason}: {self.detail}"
        return f"{self.reason} {self.span!r}"


def _walk(value: Any) -> Iterable[Any]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def texts(value: Any) -> list[str]:
    """Every string inside ``value`` (a pydantic object, or JSON-like data)."""
    return [v for v in _walk(value) if isinstance(v, str)]


@dataclass(frozen=True)
class Grounds:
    """What a text may mention: the facts' numbers, dates and strings, and the known names
    it may not mention unless the facts do."""

    numbers: tuple[float, ...]
    dates: frozenset[date]
    strings: tuple[str, ...]
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, facts: Any, names: Iterable[str] = ()) -> Grounds:
        numbers: list[float] = []
        dates: set[date] = set()
        strings: list[str] = []
        for v in _walk(facts):
            if isinstance(v, bool) or v is None:
                continue
            if isinstance(v, int | float):
                if math.isfinite(v):
                    numbers.append(float(v))
            elif isinstance(v, str):
                strings.append(v)
                dates.update(d for d, _ in _dates(v))
                numbers.extend(n for n, *_ in _numbers(_DATE.sub(" ", v)))
        # longest first, so that "有潜力的新客户" is read before "新客户"
        known = tuple(sorted(set(names), key=len, reverse=True))
        return cls(tuple(numbers), frozenset(dates), tuple(strings), known)

    def _number_ok(self, written: float, tol: float, percent: bool) -> bool:
        for v in self.numbers:
            for candidate in (v * 100, v) if percent else (v,):
                if abs(abs(candidate) - abs(written)) <= tol:
                    return True
        return False

    def check(self, text: str) -> list[Problem]:
        """The spans of ``text`` that the facts do not support (empty: grounded)."""
        problems: list[Problem] = []
        for when, span in _dates(text):
            if when not in self.dates:
                problems.append(Problem(span, "date"))
        rest = _DATE.sub(" ", text)
        for name in self.names:
            pattern = _name_pattern(name)
            if pattern.search(rest) and not any(name in s for s in self.strings):
                problems.append(Problem(name, "name"))
            rest = pattern.sub(" ", rest)
        for written, tol, percent, span in _numbers(rest):
            if not self._number_ok(written, tol, percent):
                problems.append(Problem(span, "number"))
        return problems


def _name_pattern(name: str) -> re.Pattern[str]:
    if name.isascii():
        return re.compile(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])")
    return re.compile(re.escape(name))


def _dates(text: str) -> list[tuple[date, str]]:
    found = []
    for m in _DATE.finditer(text):
        try:
            found.append((date(int(m["y"]), int(m["m"]), int(m["d"])), m[0]))
        except ValueError:
            continue
    return found


def _numbers(text: str) -> list[tuple[float, float, bool, str]]:
    """(value, tolerance, is a percentage, span) of every number written in ``text``."""
    out = []
    for m in _NUMBER.finditer(text):
        frac = m["frac"] or ""
        value = float(m["num"].replace(",", "") + ("." + frac if frac else ""))
        unit = (m["unit"] or "").strip()
        scale = {"万": 10_000.0, "k": 1_000.0, "K": 1_000.0}.get(unit, 1.0)
        tol = 0.5 * 10 ** -len(frac) * scale * (1 + 1e-9) + 1e-12
        out.append((value * scale, tol, unit in ("%", "％"), m[0]))
    return out


# -- generating, grounded --------------------------------------------------------------------
@dataclass(frozen=True)
class Job(Generic[T]):
    """One piece of text to generate: its prompt, answer schema, facts and offline answer."""

    prompt: Prompt
    schema: type[T]
    facts: Any
    offline: T
    #: known names (segments, tags) the answer may mention only if the facts do
    names: tuple[str, ...] = ()
    #: the task's own checks of an answer (its limits), beside grounding
    check: Callable[[T], list[Problem]] | None = field(default=None, compare=False)
    #: the part of the facts the text may quote; ``None``: all of them
    quotable: Any = None
    grounds: Grounds = field(init=False, compare=False)

    def __post_init__(self) -> None:
        source = self.facts if self.quotable is None else self.quotable
        object.__setattr__(self, "grounds", Grounds.of(source, self.names))

    def problems(self, answer: T) -> list[Problem]:
        found = [p for t in texts(answer) for p in self.grounds.check(t)]
        if self.check is not None:
            found += self.check(answer)
        return found


@dataclass(frozen=True)
class Generated(Generic[T]):
    """An answer, where it came from, and what was wrong with rejected answers."""

    value: T
    source: Source
    rejected: tuple[str, ...] = ()


def generate_all(
    client: LLMClient,
    jobs: Sequence[Job[T]],
    *,
    cache: ResponseCache | None = None,
    max_paid_calls: int = 20,
    yes: bool = False,
    regenerations: int = 1,
) -> list[Generated[T]]:
    """Generate every job's answer, grounded, cached, and at most ``concurrency`` at a time.

    Raises
    ------
    ConfirmationNeeded
        The uncached jobs would make more than ``max_paid_calls`` paid calls and ``yes`` is
        false; the message gives the count and the estimated tokens.
    LLMError
        The endpoint failed after its retries.
    """
    results: list[Generated[T] | None] = [None] * len(jobs)
    pending: list[int] = []
    for i, job in enumerate(jobs):
        hit = _cached(client, job, cache) if client.paid else None
        if hit is not None:
            results[i] = hit
        else:
            pending.append(i)
    if client.paid and len(pending) > max_paid_calls and not yes:
        tokens = sum(jobs[i].prompt.estimated_tokens() for i in pending)
        out_tokens = len(pending) * client.max_output_tokens
        price = ""
        if client.price_input_per_1k is not None or client.price_output_per_1k is not None:
            cost = (
                tokens * (client.price_input_per_1k or 0.0)
                + out_tokens * (client.price_output_per_1k or 0.0)
            ) / 1000
            price = f", at most {cost:.4f} in the configured prices"
        raise ConfirmationNeeded(
            f"This would make {len(pending)} paid calls to {client.model} (about {tokens:,} "
            f"input and up to {out_tokens:,} output tokens{price}), more than "
            f"[llm].max_paid_calls = {max_paid_calls}; pass --yes (yes=True) to go ahead."
        )

    def one(i: int) -> Generated[T]:
        return _generate(client, jobs[i], cache, regenerations)

    with ThreadPoolExecutor(max_workers=max(1, min(client.concurrency, len(pending) or 1))) as ex:
        for i, done in zip(pending, ex.map(one, pending), strict=True):
            results[i] = done
    return [r for r in results if r is not None]


def _feedback(problems: list[Problem]) -> str:
    """What to tell the model about its rejected answer."""
    parts = []
    ungrounded = [p for p in problems if p.reason != "limit"]
    if ungrounded:
        spans = ", ".join(map(str, ungrounded))
        parts.append(
            f"Your answer used {spans}, which the FACTS do not contain. Answer again using "
            "only numbers, dates and names copied from the FACTS."
        )
    broken = [p.detail or p.span for p in problems if p.reason == "limit"]
    if broken:
        parts.append(
            f"Your answer breaks its limits: {'; '.join(broken)}. Answer again within them."
        )
    return " ".join(parts)


def _cached(client: LLMClient, job: Job[T], cache: ResponseCache | None) -> Generated[T] | None:
    if cache is None:
        return None
    stored = cache.get(job.prompt, job.facts, client.model)
    if stored is None:
        return None
    try:
        value = job.schema.model_validate(stored["value"])
    except (KeyError, ValidationError):
        return None
    if stored.get("source") == "model" and job.problems(value):
        return None  # grounding rules changed since; ask again
    return Generated(value, "cache", tuple(stored.get("rejected", ())))


def _generate(
    client: LLMClient, job: Job[T], cache: ResponseCache | None, regenerations: int
) -> Generated[T]:
    if not client.paid:
        problems = job.problems(job.offline)
        if problems:  # a template bug, not the model's: say so, do not hide it
            log.error("offline %s text is not grounded: %s", job.prompt.task, problems)
        return Generated(job.offline, "offline")
    feedback: str | None = None
    rejected: list[str] = []
    for attempt in range(regenerations + 1):
        answer = client.complete(job.prompt, job.schema, offline=job.offline, feedback=feedback)
        problems = job.problems(answer)
        if not problems:
            result: Generated[T] = Generated(answer, "model", tuple(rejected))
            break
        spans = ", ".join(map(str, problems))
        rejected.extend(str(p) for p in problems)
        log.warning(
            "%s answer %d of %s is rejected (%s); %s",
            client.model, attempt, job.prompt.task, spans,
            "regenerating" if attempt < regenerations else "using the offline text",
        )  # fmt: skip
        feedback = _feedback(problems)
    else:
        result = Generated(job.offline, "offline_fallback", tuple(rejected))
    if cache is not None:
        cache.put(
            job.prompt,
            job.facts,
            client.model,
            {
                "value": result.value.model_dump(mode="json"),
                "source": result.source,
                "rejected": list(result.rejected),
            },
        )
    return result
