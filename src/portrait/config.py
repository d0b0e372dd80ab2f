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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from portrait.engine import Engine
from portrait.errors import ConfigError
from portrait.registry import PURCHASE_MODELS, RECOMMENDERS, check_name

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

    backend: Engine = Engine.DUCKDB
    #: Spark master URL, used when backend is "spark"
    spark_master: str = "local[*]"
    #: DuckDB memory cap (e.g. "4GB"); empty means half of the machine's memory
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


class RuleTagConfig(_Strict):
    """A rule tag: a condition over features (see docs/tags.md), with its display names."""

    rule: str
    en: str = ""
    zh: str = ""
    description: str = ""


class FactTagConfig(_Strict):
    """A fact tag: a feature's value put in named buckets, by interval or by percentile."""

    feature: str
    #: interval edges: bucket i holds values in [edges[i-1], edges[i])
    edges: list[float] = Field(default_factory=list)
    #: or percentile edges (0-100) computed over customers with a value
    percentiles: list[float] = Field(default_factory=list)
    #: one label per bucket: len(edges) + 1
    labels: list[str] = Field(default_factory=list)
    en: str = ""
    zh: str = ""
    description: str = ""

    @model_validator(mode="after")
    def _buckets(self) -> FactTagConfig:
        edges = self.edges or self.percentiles
        if bool(self.edges) == bool(self.percentiles):
            raise ValueError("give either edges or percentiles")
        if edges != sorted(edges):
            raise ValueError("edges must increase")
        if len(self.labels) != len(edges) + 1:
            raise ValueError(
                f"{len(edges)} edges make {len(edges) + 1} buckets; give as many labels"
            )
        return self


class TagsConfig(_Strict):
    """Operator-defined tags, added to the built-in catalogue."""

    rules: dict[str, RuleTagConfig] = Field(default_factory=dict)
    facts: dict[str, FactTagConfig] = Field(default_factory=dict)

    @field_validator("rules", mode="before")
    @classmethod
    def _short_form(cls, value: object) -> object:
        """``name = "condition"`` is short for ``[tags.rules.name] rule = "condition"``."""
        if isinstance(value, dict):
            return {k: {"rule": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _compile(self) -> TagsConfig:
        """Rules are compiled at load: a bad rule fails here, naming the tag and position."""
        if self.rules or self.facts:
            from portrait.tags.catalogue import check_config

            check_config(self)
        return self


class SegmentsConfig(_Strict):
    """RFM scoring, lifecycle thresholds and clustering."""

    #: scores per RFM dimension (5 = quintiles)
    rfm_bins: int = Field(default=5, ge=2, le=10)
    #: a first purchase this recent makes a customer "new"
    new_days: int = Field(default=30, ge=1)
    #: a purchase this recent makes a customer "active"; older is "silent"
    active_days: int = Field(default=90, ge=1)
    #: no purchase for this long makes a customer "churned"
    churn_days: int = Field(default=180, ge=1)
    #: clusters tried: 2 .. max_clusters, the best silhouette wins
    max_clusters: int = Field(default=8, ge=2, le=20)
    seed: int = 0

    @model_validator(mode="after")
    def _order(self) -> SegmentsConfig:
        if not self.new_days <= self.active_days < self.churn_days:
            raise ValueError("need new_days <= active_days < churn_days")
        return self


class ValueConfig(_Strict):
    """Customer value (CLV) and churn models."""

    #: repeat-purchase model: "bgnbd" (Fader, Hardie & Lee 2005) or "mbgnbd" (modified)
    model: str = "bgnbd"
    #: time unit of the purchase model; purchases in one period count once
    time_unit: Literal["days", "weeks"] = "days"
    #: CLV horizon in months, and the annual discount rate (0.1 = 10%)
    clv_months: int = Field(default=12, ge=1, le=120)
    discount_rate: float = Field(default=0.10, ge=0, le=1)
    #: churn means no completed purchase in this many days
    churn_horizon_days: int = Field(default=90, ge=7, le=730)
    #: L2 penalty on the purchase and spend models' parameters (0 = maximum likelihood)
    penalizer: float = Field(default=0.0, ge=0)

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        check_name("model", value, PURCHASE_MODELS)
        return value


class RecommendConfig(_Strict):
    """Recommendations: the model, the interactions it learns from, the list length."""

    #: popularity, itemknn, userknn, als or ease (``portrait recommend evaluate`` compares them)
    model: str = "als"
    #: hyper-parameters of the model (default: the model's own)
    params: dict[str, float | int] = Field(default_factory=dict)
    #: items stored per customer
    n: int = Field(default=20, ge=1, le=500)
    #: weight of each kind of interaction
    weights: dict[Literal["buy", "cart", "fav", "view", "review"], float] = Field(
        default_factory=lambda: {"buy": 4.0, "cart": 3.0, "fav": 2.0, "view": 1.0, "review": 1.0}  # type: ignore[arg-type]
    )
    #: an interaction this many days old counts half (0 = no decay)
    half_life_days: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _known_params(self) -> RecommendConfig:
        accepted = check_name("model", self.model, RECOMMENDERS).params
        unknown = set(self.params) - accepted
        if unknown:
            raise ValueError(
                f"{self.model} has no parameter {sorted(unknown)[0]!r}; it takes "
                f"{', '.join(sorted(accepted)) or 'none'}"
            )
        return self


class LLMConfig(_Strict):
    """The language-model layer: the offline templates (default) or an OpenAI-compatible API."""

    #: "offline" (templates over the facts, no network) or "openai" (any compatible endpoint)
    backend: Literal["offline", "openai"] = "offline"
    #: the endpoint, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1" (Ollama)
    base_url: str = ""
    model: str = ""
    #: the NAME of the environment variable that holds the API key (never the key itself)
    api_key_env: str = "OPENAI_API_KEY"
    #: seconds per request
    timeout: float = Field(default=60.0, gt=0)
    #: retries of a request that timed out or met 429/5xx
    max_retries: int = Field(default=3, ge=0, le=10)
    #: requests in flight at once
    concurrency: int = Field(default=4, ge=1, le=64)
    #: a run that would make more paid calls than this asks first (--yes to skip)
    max_paid_calls: int = Field(default=20, ge=0)
    #: language of generated text
    language: Literal["zh", "en"] = "zh"
    #: optional prices per 1,000 tokens, for the cost estimate
    price_input_per_1k: float | None = Field(default=None, ge=0)
    price_output_per_1k: float | None = Field(default=None, ge=0)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "must be the name of an environment variable (e.g. 'OPENAI_API_KEY'), "
                "not the key itself"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"https?://", value):
            raise ValueError(f"{value!r} is not an http(s) URL; write it like 'http://host/v1'")
        return value

    @model_validator(mode="after")
    def _endpoint(self) -> LLMConfig:
        if self.backend == "openai" and not (self.base_url and self.model):
            raise ValueError('backend "openai" needs base_url and model')
        return self


class AudiencesConfig(_Strict):
    """Audiences (人群): what their insight may publish about the people in them."""

    #: a count below this many customers is not shown (an audience, a tag value), so that
    #: insight cannot single out a person
    min_group_size: int = Field(default=50, ge=1, le=1_000_000)


class Config(_Strict):
    """The whole of ``portrait.toml``."""

    shop: ShopConfig = ShopConfig()
    engine: EngineConfig = EngineConfig()
    tags: TagsConfig = Field(default_factory=TagsConfig)
    segments: SegmentsConfig = SegmentsConfig()
    value: ValueConfig = ValueConfig()
    recommend: RecommendConfig = Field(default_factory=RecommendConfig)
    llm: LLMConfig = LLMConfig()
    audiences: AudiencesConfig = AudiencesConfig()


def _describe(err: ErrorDetails) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown key '{where}'; remove it or check its spelling"
    if err["type"] in ("literal_error", "enum"):
        return f"{where}: {err['msg'].lower()}"
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("tag "):  # a rule error already says where
        return msg.rstrip(".")
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
    shop, engine, seg, value = config.shop, config.engine, config.segments, config.value
    llm = config.llm
    prices = "".join(
        f"{k} = {getattr(llm, k)}\n"
        for k in ("price_input_per_1k", "price_output_per_1k")
        if getattr(llm, k) is not None
    )
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
# DuckDB memory cap such as "4GB"; empty = half of the machine's memory.
memory_limit = "{engine.memory_limit}"
{threads}
[segments]
# RFM scores per dimension (5 = quintiles); lifecycle thresholds in days.
rfm_bins = {seg.rfm_bins}
new_days = {seg.new_days}
active_days = {seg.active_days}
churn_days = {seg.churn_days}
# Behavioural clusters: 2 .. max_clusters are tried and the best silhouette wins.
max_clusters = {seg.max_clusters}

[value]
# Repeat-purchase model: "bgnbd" or "mbgnbd"; its time unit: "days" or "weeks".
model = "{value.model}"
time_unit = "{value.time_unit}"
# Customer lifetime value over this many months, discounted at this annual rate.
clv_months = {value.clv_months}
discount_rate = {value.discount_rate}
# Churn = no completed purchase in this many days.
churn_horizon_days = {value.churn_horizon_days}

[recommend]
# popularity, itemknn, userknn, als or ease; `portrait recommend evaluate` compares them.
model = "{config.recommend.model}"
# Items kept per customer; weights of the interactions; half-life in days (0 = none).
n = {config.recommend.n}
half_life_days = {config.recommend.half_life_days}
# [recommend.weights]
# buy = 4.0
# cart = 3.0
# fav = 2.0
# view = 1.0
# review = 1.0

[llm]
# "offline" (templates over the facts, no model, no network) or "openai" (any
# OpenAI-compatible endpoint: hosted, Ollama, vLLM, llama.cpp server). See docs/llm.md.
backend = "{llm.backend}"
base_url = "{llm.base_url}"
model = "{llm.model}"
# The NAME of the environment variable holding the API key; never put the key here.
api_key_env = "{llm.api_key_env}"
timeout = {llm.timeout}
max_retries = {llm.max_retries}
concurrency = {llm.concurrency}
# A run that would make more paid calls than this asks first (--yes to skip).
max_paid_calls = {llm.max_paid_calls}
# Language of generated text: "zh" or "en".
language = "{llm.language}"
# Optional prices per 1,000 tokens for the cost estimate, e.g. price_input_per_1k = 0.002
{prices}
[audiences]
# Audience insight shows no count below this many customers (a tag value, or the whole
# audience), so that it cannot single out a person.
min_group_size = {config.audiences.min_group_size}

# Rule tags: conditions over features (portrait tags --features lists them), e.g.
# [tags.rules]
# big_spender = "monetary_365d >= p90(monetary_365d)"
#
# [tags.rules.loyal_beauty]
# rule = "top_category == 'Beauty' and orders_365d >= 3"
# en = "Loyal beauty buyer"
# zh = "美妆忠实买家"
#
# Fact tags: a feature in named buckets, by edges or by percentiles.
# [tags.facts.basket_band]
# feature = "basket_size"
# edges = [2, 5]
# labels = ["small", "medium", "large"]
"""
