"""The tag catalogue: what operators select customers by, in three kinds.

- **fact** tags put one feature's value into named buckets (by fixed edges or by the shop's
  own percentiles), or show it as it is (the top category);
- **rule** tags are conditions over features (:mod:`portrait.tags.rules`), built in or
  written in ``portrait.toml``;
- **model** tags come from models: RFM segment, lifecycle stage, behavioural cluster, value
  tier, churn risk, the expected next-purchase window, and what a customer's reviews dwell
  on (:mod:`portrait.text.portraits`).

Each tag has English and Chinese display names and a description.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from portrait.errors import NotFoundError
from portrait.features import FEATURES
from portrait.labels import LABELS, Label
from portrait.tags.rules import Rule, parse_rule

if TYPE_CHECKING:
    from portrait.config import Config, FactTagConfig, RuleTagConfig, TagsConfig

Kind = Literal["fact", "rule", "model"]


@dataclass(frozen=True)
class Tag:
    """One tag: its name, kind, display names, and how its value is made."""

    name: str
    kind: Kind
    en: str
    zh: str
    description: str
    #: fact tags: the feature, and edges (absolute or percentiles) with one label per bucket
    feature: str | None = None
    edges: tuple[float, ...] = ()
    percentiles: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()
    #: rule tags
    rule: Rule | None = None
    #: model tags: the column of the segments or value table
    column: str | None = None
    #: feature names it reads
    reads: tuple[str, ...] = field(default=())

    @property
    def label(self) -> Label:
        return Label(en=self.en, zh=self.zh)

    @property
    def vocabulary(self) -> str | None:
        """The :mod:`portrait.labels` vocabulary of a model tag's values, if it has one."""
        return self.column if self.column in LABELS else None


def feature_types() -> dict[str, str]:
    return {n: ("string" if f.dtype == "string" else "number") for n, f in FEATURES.items()}


def _fact(
    name: str, feature: str, en: str, zh: str, description: str, *,
    edges: Iterable[float] = (), percentiles: Iterable[float] = (), labels: Iterable[str] = (),
) -> Tag:  # fmt: skip
    return Tag(name, "fact", en, zh, description, feature=feature, edges=tuple(edges),
               percentiles=tuple(percentiles), labels=tuple(labels), reads=(feature,))  # fmt: skip


def _rule(name: str, text: str, en: str, zh: str, description: str) -> Tag:
    rule = parse_rule(name, text, feature_types())
    return Tag(name, "rule", en, zh, description or text, rule=rule,
               reads=tuple(sorted(rule.features)))  # fmt: skip


#: the tags made from reviews (:mod:`portrait.text.portraits`): column -> the aspect watched
TEXT_CONCERNS: dict[str, str] = {
    "logistics_sensitive": "logistics",
    "price_sensitive": "price",
    "quality_focused": "quality",
}

# fmt: off
BUILT_IN: tuple[Tag, ...] = (
    _fact("recency_band", "recency_days", "Last purchase", "最近购买",
          "Days since the last purchase, in bands.", edges=(31, 91, 181, 366),
          labels=("0-30 days", "31-90 days", "91-180 days", "181-365 days", "over a year")),
    _fact("frequency_band", "frequency", "Purchase count", "购买频次",
          "Completed purchases, in bands.", edges=(1, 2, 4, 10),
          labels=("none", "one", "2-3", "4-9", "10+")),
    _fact("value_level", "monetary_365d", "Spend level (12 months)", "消费水平（近12个月）",
          "Spend in the last 365 days: top 20% high, next 30% medium, the rest low.",
          percentiles=(50, 80), labels=("low", "medium", "high")),
    _fact("order_value_level", "avg_order_value", "Order value level", "客单价水平",
          "Average order value against the shop's terciles.", percentiles=(100 / 3, 200 / 3),
          labels=("low", "medium", "high")),
    _fact("price_preference", "price_level", "Price preference", "价格偏好",
          "Prices paid against the category median: under 0.8x budget, over 1.25x premium.",
          edges=(0.8, 1.25), labels=("budget", "mainstream", "premium")),
    _fact("time_of_day", "peak_hour", "Most active time", "活跃时段",
          "Local hour with the most activity.", edges=(6, 12, 18),
          labels=("night", "morning", "afternoon", "evening")),
    _fact("preferred_category", "top_category", "Preferred category", "偏好类目",
          "The category bought most."),
    _fact("preferred_brand", "top_brand", "Preferred brand", "偏好品牌",
          "The brand bought most."),
    _rule("high_value", "monetary_365d >= p80(monetary_365d) and orders_90d >= 2",
          "High value", "高价值客户", "Top 20% by 12-month spend and 2+ orders in 90 days."),
    _rule("repeat_buyer", "frequency >= 2", "Repeat buyer", "复购客户",
          "Two or more completed purchases."),
    _rule("at_risk_valuable", "monetary >= p80(monetary) and recency_days > 90",
          "Valuable, slipping away", "高价值流失风险",
          "Top 20% by lifetime spend, no purchase for over 90 days."),
    _rule("bulk_buyer", "basket_size >= p90(basket_size)", "Bulk buyer", "大批量购买",
          "Units per order in the shop's top 10%."),
    _rule("cart_abandoner", "carts >= 3 and cart_abandonment_rate >= 0.5", "Cart abandoner",
          "加购未购客户", "3+ carts, at least half of the carted products never bought."),
    _rule("weekend_shopper", "weekend_share >= 0.5 and active_days >= 3", "Weekend shopper",
          "周末购物者", "At least half of the activity on weekends, on three or more days."),
    _rule("frequent_canceller", "cancel_rate >= 0.3 and frequency >= 2", "Frequent canceller",
          "高取消/退货客户", "30% or more of the orders cancelled or returned."),
    _rule("discount_seeker", "discount_share >= 0.1", "Discount seeker", "优惠敏感客户",
          "Discounts are 10% or more of the list value bought."),
    Tag("rfm_segment", "model", "RFM segment", "RFM客户分层",
        "Standard RFM segment from recency, frequency and monetary scores.", column="rfm_segment",
        reads=("recency_days", "frequency", "monetary")),
    Tag("lifecycle_stage", "model", "Lifecycle stage", "生命周期阶段",
        "prospect, new, active, silent, churned or won back.", column="lifecycle_stage",
        reads=("recency_days", "days_since_first_purchase")),
    Tag("cluster", "model", "Behavioural cluster", "行为聚类",
        "Cluster of customers with similar behaviour; portrait segments describes each.",
        column="cluster_name"),
    Tag("value_tier", "model", "Value tier", "价值等级",
        "Predicted 12-month value (CLV; expected purchases without prices): top 20% high, "
        "next 30% medium.", column="value_tier"),
    Tag("churn_risk", "model", "Churn risk", "流失风险",
        "Probability of no purchase in the churn window: high from 70%, medium from 40%.",
        column="churn_risk"),
    Tag("next_purchase_window", "model", "Expected next purchase", "预计下次购买",
        "The first window in which a purchase is more likely than not (BG/NBD).",
        column="next_purchase_window"),
    Tag("logistics_sensitive", "model", "Logistics-sensitive", "物流敏感",
        "From reviews: delivery or courier named in at least a third of them.",
        column="logistics_sensitive"),
    Tag("price_sensitive", "model", "Price-sensitive", "价格敏感",
        "From reviews: the price named in at least a third of them.", column="price_sensitive"),
    Tag("quality_focused", "model", "Quality-focused", "品质关注",
        "From reviews: quality named in at least a third of them.", column="quality_focused"),
)
# fmt: on


def check_config(tags: TagsConfig) -> None:
    """Compile every configured tag; raise ValueError naming the tag and the problem."""
    _configured(tags)


def _configured(tags: TagsConfig) -> list[Tag]:
    taken = {t.name for t in BUILT_IN} | set(FEATURES)
    out: list[Tag] = []
    cfg: RuleTagConfig | FactTagConfig
    for name, cfg in tags.rules.items():
        if name in taken:
            raise ValueError(f"tag {name!r} is already a built-in tag or a feature; rename it")
        out.append(_rule(name, cfg.rule, cfg.en or name, cfg.zh or cfg.en or name,
                         cfg.description))  # fmt: skip
    for name, cfg in tags.facts.items():
        if name in taken or name in tags.rules:
            raise ValueError(f"tag {name!r} is already a tag or a feature; rename it")
        if cfg.feature not in FEATURES:
            raise ValueError(f"fact tag {name!r} reads unknown feature {cfg.feature!r}")
        if not FEATURES[cfg.feature].numeric:
            raise ValueError(f"fact tag {name!r}: {cfg.feature!r} is text and has no buckets")
        out.append(_fact(name, cfg.feature, cfg.en or name, cfg.zh or cfg.en or name,
                         cfg.description or f"{cfg.feature} in buckets", edges=cfg.edges,
                         percentiles=cfg.percentiles, labels=cfg.labels))  # fmt: skip
    return out


def catalogue(config: Config) -> list[Tag]:
    """Built-in tags, then the workspace's own."""
    return [*BUILT_IN, *_configured(config.tags)]


def get_tag(config: Config, name: str) -> Tag:
    for tag in catalogue(config):
        if tag.name == name:
            return tag
    raise NotFoundError(f"There is no tag {name!r}; `portrait tags` lists them.")
