"""The canonical tables every source is mapped onto (DESIGN section 3).

One declaration per table: its columns, their types, which are required, the checks a row
must pass, and what each column means in English and Chinese. Ingest validates against it,
the warehouse creates its tables from it and ``docs/data-model.md`` describes it; keeping
all three in one place is what keeps them from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

Kind = Literal[
    "id", "string", "timestamp", "date", "decimal", "integer", "float", "boolean", "vector"
]

#: DuckDB type of each kind. Money is a decimal so that totals add up to the cent.
SQL_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "decimal": "DECIMAL(18,4)",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "vector": "FLOAT[]",
}

ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "decimal": pa.decimal128(18, 4),
    "integer": pa.int64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "vector": pa.list_(pa.float32()),
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: Kind
    en: str
    zh: str
    required: bool = False
    pii: bool = False
    vocabulary: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: values at the minimum are out of range (``quantity > 0`` rather than ``>= 0``)
    exclusive_minimum: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """A canonical table: its natural key and its columns, in storage order."""

    name: str
    key: tuple[str, ...]
    en: str
    zh: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    #: a stage's output with one more column per feature or tag (``features``, ``tags``)
    wide: bool = False

    def arrow_schema(self) -> pa.Schema:
        """The table's columns as an Arrow schema (an empty output is written with it)."""
        return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in self.columns])

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


EVENT_TYPES = (
    "view", "search", "fav", "cart", "order", "pay", "refund", "return", "review", "share",
)  # fmt: skip
ORDER_STATUSES = ("completed", "pending", "cancelled", "returned", "adjustment")
GENDERS = ("female", "male", "other")

USERS = Table(
    "users",
    key=("user_id",),
    en="Customers, one row each.",
    zh="客户表，每个客户一行。",
    columns=(
        Column("user_id", "id", "Customer id, as the shop knows it.", "客户ID", required=True),
        Column("signup_ts", "timestamp", "When the customer registered (UTC).", "注册时间（UTC）"),
        Column("gender", "string", "female, male or other.", "性别", vocabulary=GENDERS),
        Column("birth_year", "integer", "Year of birth.", "出生年份", minimum=1900, maximum=2030),
        Column("city", "string", "City.", "城市"),
        Column("province", "string", "Province or region.", "省份/地区"),
        Column("country", "string", "Country.", "国家"),
        Column("channel", "string", "Acquisition channel.", "获客渠道"),
        Column("member_level", "string", "Membership level.", "会员等级"),
        Column(
            "phone", "string", "Phone, pseudonymised (keyed hash).", "手机号（已脱敏）", pii=True
        ),
        Column(
            "email", "string", "E-mail, pseudonymised (keyed hash).", "邮箱（已脱敏）", pii=True
        ),
        Column("name", "string", "Name, pseudonymised (keyed hash).", "姓名（已脱敏）", pii=True),
        Column(
            "address", "string", "Address, pseudonymised (keyed hash).", "地址（已脱敏）", pii=True
        ),
    ),
)

ITEMS = Table(
    "items",
    key=("item_id",),
    en="Products (SKUs), one row each.",
    zh="商品表，每个商品一行。",
    columns=(
        Column("item_id", "id", "Product id (SKU or stock code).", "商品ID", required=True),
        Column("title", "string", "Product title.", "商品名称"),
        Column("category", "string", "Category path, levels joined by '/'.", "类目路径（以/分隔）"),
        Column("brand", "string", "Brand.", "品牌"),
        Column(
            "price", "decimal", "List price in the shop's currency.", "标价（店铺币种）", minimum=0
        ),
        Column(
            "is_merchandise",
            "boolean",
            "False for postage, fees and other lines that are not products.",
            "是否为商品（邮费、手续费等为否）",
        ),
        Column(
            "in_stock",
            "boolean",
            "False for products that cannot be bought now; never recommended while so.",
            "是否有货（无货商品不推荐）",
        ),
        Column("attributes", "string", "Other attributes as a JSON object.", "其他属性（JSON）"),
    ),
)

EVENTS = Table(
    "events",
    key=("event_id",),
    en="Behaviour log: views, favourites, carts, orders and more.",
    zh="行为日志：浏览、收藏、加购、下单等。",
    columns=(
        Column(
            "event_id",
            "id",
            "Event id; derived from the row's content when the source has none.",
            "事件ID（源数据没有时由行内容生成）",
            required=True,
        ),
        Column("user_id", "id", "Who acted.", "用户ID", required=True),
        Column("item_id", "id", "Which product, if any.", "商品ID"),
        Column(
            "event_type",
            "string",
            "What happened: " + ", ".join(EVENT_TYPES) + ".",
            "行为类型",
            required=True,
            vocabulary=EVENT_TYPES,
        ),
        Column("ts", "timestamp", "When (UTC).", "发生时间（UTC）", required=True),
        Column("session_id", "id", "Session id.", "会话ID"),
        Column("channel", "string", "App, web, mini-program ...", "渠道"),
        Column("quantity", "integer", "Units, where it applies.", "数量", minimum=0),
        Column("value", "decimal", "Money value, where it applies.", "金额"),
        Column("query", "string", "Search text, for search events.", "搜索词"),
    ),
)

ORDERS = Table(
    "orders",
    key=("order_id",),
    en="Orders, one row each; a guest order has no user_id.",
    zh="订单表，每个订单一行；游客订单没有用户ID。",
    columns=(
        Column("order_id", "id", "Order number.", "订单号", required=True),
        Column("user_id", "id", "Customer; empty for a guest order.", "客户ID（游客订单为空）"),
        Column(
            "ts", "timestamp", "When the order was placed (UTC).", "下单时间（UTC）", required=True
        ),
        Column(
            "status",
            "string",
            "completed, pending, cancelled, returned or adjustment.",
            "订单状态",
            vocabulary=ORDER_STATUSES,
        ),
        Column("amount", "decimal", "Amount paid, in the shop's currency.", "实付金额"),
        Column("discount", "decimal", "Discount granted.", "优惠金额", minimum=0),
        Column("channel", "string", "Sales channel.", "销售渠道"),
    ),
)

ORDER_ITEMS = Table(
    "order_items",
    key=("order_id", "line"),
    en="Order lines. Quantities are positive; a cancelled order keeps its lines.",
    zh="订单明细。数量为正；取消的订单保留其明细。",
    columns=(
        Column("order_id", "id", "Order number.", "订单号", required=True),
        Column(
            "line",
            "integer",
            "Line number within the order, from 1.",
            "行号（从1开始）",
            required=True,
            minimum=1,
        ),
        Column("item_id", "id", "Product.", "商品ID", required=True),
        Column("quantity", "integer", "Units.", "数量", minimum=0, exclusive_minimum=True),
        Column("unit_price", "decimal", "Price per unit.", "单价", minimum=0),
    ),
)

REVIEWS = Table(
    "reviews",
    key=("review_id",),
    en="Reviews and ratings.",
    zh="评价与评分。",
    columns=(
        Column(
            "review_id",
            "id",
            "Review id; derived from the row's content when the source has none.",
            "评价ID（源数据没有时由行内容生成）",
            required=True,
        ),
        Column("user_id", "id", "Reviewer.", "评价人ID"),
        Column("item_id", "id", "Product reviewed.", "商品ID"),
        Column("rating", "integer", "Stars, 1 to 5.", "评分（1-5星）", minimum=1, maximum=5),
        Column("text", "string", "Review text.", "评价内容"),
        Column("ts", "timestamp", "When (UTC).", "评价时间（UTC）"),
        Column("lang", "string", "Language code (zh, en, ...).", "语言"),
        Column(
            "sentiment",
            "integer",
            "Label from the source: 1 positive, 0 negative.",
            "情感标签（1正面，0负面）",
            minimum=0,
            maximum=1,
        ),
        Column("category", "string", "Product category given with the review.", "商品类目"),
    ),
)

IDENTITIES = Table(
    "identities",
    key=("alias",),
    en="Other ids of a person (per-order customer ids, member or device ids), each mapped to "
    "the person's user_id; every table's rows are attributed to the person.",
    zh="同一客户的其他ID（每单客户ID、会员ID、设备ID）到客户ID的映射；各表记录都归到该客户。",
    columns=(
        Column(
            "alias", "id", "An id that names the person in some table.", "别名ID", required=True
        ),
        Column("person", "id", "The person's user_id.", "客户ID", required=True),
        Column("source", "string", "Where the link comes from.", "来源"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (USERS, ITEMS, EVENTS, ORDERS, ORDER_ITEMS, REVIEWS, IDENTITIES)
}


# -- the tables the build's stages write ------------------------------------------------------
def _c(name: str, kind: Kind, en: str, zh: str) -> Column:
    return Column(name, kind, en, zh)


_USER = _c("user_id", "id", "The customer.", "客户")

OUTPUTS: dict[str, Table] = {
    t.name: t
    for t in (
        Table("features", ("user_id",), "Every customer's features as of the build date.",
              "截至构建日期的客户特征", (_USER,), wide=True),
        Table("feature_gaps", ("feature",), "Features the shop's data cannot support.",
              "数据不足以计算的特征", (
                  _c("feature", "string", "The feature.", "特征"),
                  _c("need", "string", "What the data lacks (a code).", "缺少的数据"),
                  _c("reason", "string", "Why it is empty.", "原因"))),
        Table("segments", ("user_id",), "RFM scores, lifecycle stage and cluster.",
              "RFM分层、生命周期与聚类", (
                  _USER,
                  _c("lifecycle_stage", "string", "Lifecycle stage (a code).", "生命周期阶段"),
                  _c("r_score", "integer", "Recency score.", "R分"),
                  _c("f_score", "integer", "Frequency score.", "F分"),
                  _c("m_score", "integer", "Monetary score.", "M分"),
                  _c("rfm_score", "string", "R, F and M scores together.", "RFM代码"),
                  _c("rfm_segment", "string", "RFM segment (a code).", "RFM分层"),
                  _c("cluster", "integer", "Behavioural cluster.", "行为聚类"),
                  _c("cluster_name", "string", "The cluster's name.", "聚类名称"))),
        Table("cluster_profiles", ("cluster",), "What sets each cluster apart.", "聚类画像", (
            _c("cluster", "integer", "Cluster number.", "聚类编号"),
            _c("name", "string", "Name in English.", "英文名称"),
            _c("name_zh", "string", "Name in Chinese.", "中文名称"),
            _c("size", "integer", "Customers.", "客户数"),
            _c("share", "float", "Share of customers.", "客户占比"),
            _c("value_share", "float", "Share of spend.", "消费占比"),
            _c("traits", "string", "JSON: (feature, z, mean, shop mean).", "特征差异"),
            _c("silhouette", "float", "Silhouette of the chosen k.", "轮廓系数"),
            _c("k", "integer", "Clusters chosen.", "聚类数"),
            _c("silhouettes", "string", "JSON: silhouette of every k tried.",
               "各聚类数的轮廓系数"))),
        Table("value", ("user_id",), "Customer value and churn risk.", "客户价值与流失风险", (
            _USER,
            _c("p_alive", "float", "Probability of still being a customer.", "仍活跃概率"),
            _c("expected_purchases_30d", "float", "Expected purchases, 30 days.", "30天预计购买"),
            _c("expected_purchases_90d", "float", "Expected purchases, 90 days.", "90天预计购买"),
            _c("expected_purchases_365d", "float", "Expected purchases, a year.", "一年预计购买"),
            _c("p_purchase_90d", "float", "Probability of a purchase in 90 days.", "90天购买概率"),
            _c("next_purchase_window", "string", "When the next purchase is expected (a code).",
               "预计下次购买"),
            _c("expected_spend", "float", "Expected spend per purchase.", "预计客单价"),
            _c("clv", "float", "Predicted value over the CLV horizon.", "预测客户价值"),
            _c("value_tier", "string", "Value tier (a code).", "价值等级"),
            _c("churn_probability", "float", "Probability of churning.", "流失概率"),
            _c("churn_risk", "string", "Churn risk band (a code).", "流失风险"),
            _c("churn_model", "string", "Which model scored churn.", "流失模型"),
            _c("churn_reason_1", "string", "Strongest reason (a feature).", "首要流失原因"),
            _c("churn_reason_2", "string", "Second reason.", "次要流失原因"),
            _c("churn_reason_3", "string", "Third reason.", "第三流失原因"))),
        Table("tags", ("user_id",), "Every customer's tags.", "客户标签", (_USER,), wide=True),
        Table("recommendations", ("user_id", "rank"), "Items to offer, best first.", "推荐商品", (
            _USER,
            _c("rank", "integer", "Place in the list.", "排名"),
            _c("item_id", "id", "The item.", "商品"),
            _c("score", "float", "The model's score.", "得分"),
            _c("reason", "string", "Why (a code).", "推荐理由"),
            _c("anchor_item_id", "id", "The customer's item that explains it.", "关联商品"),
            _c("source", "string", "Where the item came from (a code).", "来源"))),
        Table("review_sentiment", ("review_id",), "Every review's sentiment.", "评价情感", (
            _c("review_id", "id", "The review.", "评价"),
            _USER,
            _c("item_id", "id", "The item reviewed.", "商品"),
            _c("lang", "string", "Language (zh or en).", "语言"),
            _c("score", "float", "Probability the review is positive.", "正面概率"),
            _c("sentiment", "string", "positive, neutral or negative (a code).", "情感"),
            _c("model", "string", "Which model scored it (a code).", "情感模型"))),
        Table("review_aspects", ("review_id", "clause", "aspect"),
              "Aspects of each review, per clause, with their polarity.", "评价维度", (
            _c("review_id", "id", "The review.", "评价"),
            _c("clause", "integer", "Clause number in the review.", "分句序号"),
            _c("text", "string", "The clause.", "分句"),
            _c("aspect", "string", "The aspect (a code).", "维度"),
            _c("polarity", "string", "positive, neutral or negative (a code).", "倾向"),
            _c("score", "float", "The summed opinion score.", "倾向得分"))),
        Table("user_text", ("user_id",), "What each reviewing customer's reviews dwell on.",
              "客户评价画像", (
            _USER,
            _c("reviews", "integer", "Reviews written.", "评价数"),
            _c("negative_share", "float", "Share of them negative.", "差评占比"),
            _c("logistics_reviews", "integer", "Reviews naming logistics.", "提及物流的评价数"),
            _c("logistics_sensitive", "boolean", "Logistics-sensitive.", "物流敏感"),
            _c("price_reviews", "integer", "Reviews naming the price.", "提及价格的评价数"),
            _c("price_sensitive", "boolean", "Price-sensitive.", "价格敏感"),
            _c("quality_reviews", "integer", "Reviews naming quality.", "提及质量的评价数"),
            _c("quality_focused", "boolean", "Quality-focused.", "品质关注"))),
        Table("item_text", ("item_id",), "What each reviewed item's reviews say.",
              "商品评价画像", (
            _c("item_id", "id", "The item.", "商品"),
            _c("category", "string", "Its category.", "类目"),
            _c("reviews", "integer", "Reviews of it.", "评价数"),
            _c("positive_share", "float", "Share of them positive.", "好评占比"),
            _c("negative_share", "float", "Share of them negative.", "差评占比"),
            _c("mean_score", "float", "Mean probability positive.", "平均正面概率"),
            _c("top_complaint", "string", "Most criticised aspect (a code).", "主要差评点"),
            _c("top_complaint_reviews", "integer", "Reviews criticising it.", "差评点评价数"),
            _c("top_praise", "string", "Most praised aspect (a code).", "主要好评点"),
            _c("top_praise_reviews", "integer", "Reviews praising it.", "好评点评价数"),
            _c("category_negative_share", "float", "Its category's share of negative reviews.",
               "类目差评占比"))),
        Table("review_vectors", ("review_id",), "Every review's text vector.", "评价文本向量", (
            _c("review_id", "id", "The review.", "评价"),
            _c("vector", "vector", "Unit vector (TF-IDF + SVD).", "单位向量"))),
        Table("item_vectors", ("item_id",), "Every item's text vector: title and reviews.",
              "商品文本向量", (
            _c("item_id", "id", "The item.", "商品"),
            _c("reviews", "integer", "Reviews it was made from.", "评价数"),
            _c("vector", "vector", "Unit vector (TF-IDF + SVD).", "单位向量"))),
        Table("audience_sizes", ("name", "recorded_at"),
              "Each saved audience's size at every build (appended).", "人群规模历史", (
            _c("name", "string", "The audience.", "人群"),
            _c("as_of", "date", "The build's as-of date.", "截至日期"),
            _c("customers", "integer", "Its members then.", "人数"),
            _c("recorded_at", "timestamp", "When it was counted.", "统计时间"))),
        Table("personas", ("grouping", "segment"), "A persona of every segment and cluster.",
              "人群画像", (
            _c("position", "integer", "Order of display.", "顺序"),
            _c("grouping", "string", "rfm_segment, lifecycle_stage or cluster.", "分组方式"),
            _c("segment", "string", "The segment's code or the cluster's number.", "分群"),
            _c("language", "string", "zh or en.", "语言"),
            _c("name", "string", "The persona's name.", "画像名称"),
            _c("source", "string", "model, cache, offline or offline_fallback.", "来源"),
            _c("persona", "string", "The whole persona with its facts (JSON).", "画像（JSON）"))),
    )
}  # fmt: skip


def table(name: str) -> Table:
    """Return the canonical table called ``name``, or say which names exist."""
    from portrait.errors import SchemaError

    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(
            f"There is no canonical table {name!r}; use one of: {', '.join(TABLES)}."
        ) from None


def render_markdown() -> str:
    """``docs/data-model.md``: every canonical table and column, in English and Chinese.

    The docs are generated from the declarations above, and a test checks they match.
    """
    out = [
        "# The canonical data model (数据模型)",
        "",
        "Every source is mapped onto these tables. Ids are strings; timestamps are stored in",
        "UTC (the shop's time zone is in `portrait.toml`); money is a decimal in the shop's",
        "currency. Any table may be empty. Generated from `src/portrait/schema.py`.",
        "",
    ]
    for tbl in TABLES.values():
        out += [f"## `{tbl.name}`", "", f"{tbl.en} {tbl.zh}", ""]
        out += [f"Natural key: `{', '.join(tbl.key)}` (duplicates of it are not stored twice).", ""]
        out += [
            "| column | type | required | checks | meaning | 含义 |",
            "|---|---|---|---|---|---|",
        ]
        for c in tbl.columns:
            checks = []
            if c.minimum is not None:
                checks.append(f"{'>' if c.exclusive_minimum else '>='} {c.minimum:g}")
            if c.maximum is not None:
                checks.append(f"<= {c.maximum:g}")
            if c.vocabulary:
                checks.append("one of " + ", ".join(c.vocabulary))
            if c.pii:
                checks.append("PII: stored as a keyed hash")
            out.append(
                f"| `{c.name}` | {c.kind} ({c.sql_type}) | {'yes' if c.required else ''} | "
                f"{'; '.join(checks)} | {c.en} | {c.zh} |"
            )
        out.append("")
    out += [
        "# What the build writes (构建输出)",
        "",
        "Each stage of `portrait build` replaces its tables; they are declared in",
        "`schema.OUTPUTS`, and codes (segments, tiers, reasons) have their English and",
        "Chinese words in `portrait.labels`.",
        "",
    ]
    for tbl in OUTPUTS.values():
        out += [f"## `{tbl.name}`", "", f"{tbl.en} {tbl.zh}", ""]
        out += ["| column | type | meaning | 含义 |", "|---|---|---|---|"]
        out += [f"| `{c.name}` | {c.kind} | {c.en} | {c.zh} |" for c in tbl.columns]
        if tbl.wide:
            out.append("| ... | | one column per feature or tag | 每个特征或标签一列 |")
        out.append("")
    return "\n".join(out)
