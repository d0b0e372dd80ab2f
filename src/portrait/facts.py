"""Facts: what a capability hands to the outside, as typed values rather than sentences.

A fact is a pydantic model of raw values (numbers, dates, ids, codes) with labels looked up
in :mod:`portrait.labels`. The CLI renders facts as tables, the API returns them as JSON
(their own serialisation), and the LLM layer checks every number it writes against them, so
no interface computes anything of its own. :meth:`Fact.rows` flattens a fact into the rows
of a CSV file.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from portrait.labels import Label, label


class Fact(BaseModel):
    """Base of every fact: immutable, and strict about its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def csv_rows(self) -> list[dict[str, Any]]:
        """The fact as flat rows (one CSV row each); by default, its scalar fields."""
        return [{k: v for k, v in self.model_dump(mode="json").items() if _scalar(v)}]


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class Note(Fact):
    """Something a stage or an evaluation wants the operator to know, by code.

    ``values`` fill the label's placeholders (a correlation, a parameter, a count), so the
    number is a fact too and the sentence is the catalogue's.
    """

    code: str
    values: dict[str, Any] = {}

    @property
    def label(self) -> Label:
        found = label("note", self.code)
        assert found is not None
        return found.format(**self.values)

    @classmethod
    def of(cls, code: str, **values: Any) -> Note:
        return cls(code=code, values=values)


def note_texts(notes: list[Note]) -> list[str]:
    """The English sentences of ``notes`` (for logs, and for run records)."""
    return [n.label.en for n in notes]
