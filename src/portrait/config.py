"""The workspace configuration, ``portrait.toml``: typed, and checked when it is loaded.

A mistake in the file fails at load with the key, what is wrong and how to fix it, never
later in the middle of a run.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from portrait.errors import ConfigError

CONFIG_FILE = "portrait.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShopConfig(_Strict):
    """Who the shop is: its name, local time zone and currency."""

    name: str = "shop"
    #: IANA time zone of the shop; day-level features use local days, storage is UTC
    timezone: str = "UTC"
    #: ISO 4217 code of the currency amounts are kept in
    currency: str = "CNY"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone; use an IANA name such as "
                "'Asia/Shanghai' or 'Europe/London'"
            ) from None
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError(
                f"{value!r} is not an ISO 4217 code; use three capital letters such as "
                "'CNY', 'GBP' or 'USD'"
            )
        return value


class EngineConfig(_Strict):
    """Where table work runs: the embedded DuckDB file, or Spark at scale."""

    backend: Literal["duckdb", "spark"] = "duckdb"
    #: Spark master URL, used when backend is "spark"
    spark_master: str = "local[*]"
    #: DuckDB memory cap (e.g. "4GB"); empty means DuckDB's default (80% of RAM)
    memory_limit: str = ""
    #: memory of the Spark driver (local mode runs everything in it), e.g. "4g"
    spark_memory: str = "2g"
    threads: int | None = Field(default=None, ge=1)

    @field_validator("memory_limit")
    @classmethod
    def _size(cls, value: str) -> str:
        if value and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value):
            raise ValueError(f"{value!r} is not a size; write it like '4GB' or '512MB'")
        return value


class Config(_Strict):
    """The whole of ``portrait.toml``."""

    shop: ShopConfig = ShopConfig()
    engine: EngineConfig = EngineConfig()


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{where}'; remove it or check its spelling"
    if err["type"] == "literal_error":
        return f"{where}: {err['msg'].lower()}"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}"


def parse_config(text: str, *, source: str = CONFIG_FILE) -> Config:
    """Parse and validate configuration text; raise :class:`ConfigError` naming the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the syntax there.") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: {problems}.") from None


def shop_config(*, name: str, timezone: str, currency: str) -> Config:
    """A configuration for a new shop, checked like a loaded one."""
    try:
        return Config(shop=ShopConfig(name=name, timezone=timezone, currency=currency))
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(e) for e in exc.errors()) + ".") from None


def load_config(path: str | Path) -> Config:
    """Load ``portrait.toml`` from a file."""
    path = Path(path)
    return parse_config(path.read_text(encoding="utf-8"), source=str(path))


def render_config(config: Config) -> str:
    """The text ``portrait init`` writes: every setting, with a comment on what it does."""
    shop, engine = config.shop, config.engine
    threads = "" if engine.threads is None else f"threads = {engine.threads}\n"
    return f"""\
# Portrait workspace configuration. Checked when loaded; see docs/configuration.md.

[shop]
name = "{shop.name}"
# IANA time zone: timestamps without a zone in the sources are read as local time here,
# stored in UTC, and day-level features use local days.
timezone = "{shop.timezone}"
# ISO 4217 currency of every amount in this shop.
currency = "{shop.currency}"

[engine]
# "duckdb" (embedded, the default) or "spark".
backend = "{engine.backend}"
spark_master = "{engine.spark_master}"
spark_memory = "{engine.spark_memory}"
# DuckDB memory cap such as "4GB"; empty = DuckDB's default.
memory_limit = "{engine.memory_limit}"
{threads}"""
