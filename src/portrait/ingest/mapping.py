"""How a source's columns become a canonical table's columns.

A :class:`Spec` says it all: the target table, where each canonical column comes from (a
source column, or an expression over the source for presets), constants, value synonyms,
timestamp format and zone, extra checks, and tables derived from the accepted rows. Specs
come from a preset, from a mapping file (TOML), or from :func:`suggest_columns`, which
recognises the headers of common English and Chinese exports.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import ibis.expr.types as ir

from portrait import schema
from portrait.errors import SchemaError
from portrait.ingest.readers import ReadOptions

ColumnSource = str | Callable[[ir.Table], ir.Value]
Check = tuple[Callable[[ir.Table], ir.BooleanValue], str]
Derive = Callable[[ir.Table], dict[str, ir.Table]]


@dataclass(frozen=True)
class Spec:
    """Everything ingest needs to know about one kind of source."""

    table: str
    columns: Mapping[str, ColumnSource]
    name: str = "suggested"
    read: ReadOptions = ReadOptions()
    constants: Mapping[str, Any] = field(default_factory=dict)
    #: canonical column -> {source value: canonical value}, on top of VALUE_SYNONYMS
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    ts_format: str | None = None
    #: zone of timestamps written without one; None means the shop's
    timezone: str | None = None
    #: (predicate over the staged source that marks a bad row, reason)
    checks: tuple[Check, ...] = ()
    #: further source values carried along for ``derive`` (name -> source)
    extras: Mapping[str, ColumnSource] = field(default_factory=dict)
    #: columns added to the staged source before mapping (line numbers, say)
    prepare: Callable[[ir.Table], ir.Table] | None = None
    #: tables built from the accepted rows (orders from order lines, items from events ...)
    derive: Derive | None = None
    #: the time zone the data's shop is in, to compare with the workspace's
    shop_timezone: str | None = None
    #: recognise the headers of the columns ``columns`` does not name (a mapping file or
    #: ``--table``; presets name every column they read)
    recognise: bool = False
    #: what to do with rows whose key is stored already: ``insert`` keeps the stored row
    #: (and counts the changed ones), ``update`` applies the changes, ``replace`` empties the
    #: table first
    mode: Literal["insert", "update", "replace"] = "insert"
    #: a source column holding another id of the same person as ``user_id`` (a per-order
    #: customer id, a member id): each row links it to the person in ``identities``
    alias: str | None = None
    description: str = ""


# -- header suggestions ----------------------------------------------------------------------

_COMMON = {
    "user_id": [
        "user_id", "userid", "customer_id", "customerid", "uid", "member_id", "memberid",
        "buyer_id", "buyerid", "client_id", "用户id", "会员id", "客户id", "买家id", "用户编号",
        "会员编号", "客户编号", "买家会员名", "用户", "会员", "客户",
    ],
    "item_id": [
        "item_id", "itemid", "product_id", "productid", "sku", "sku_id", "skuid", "stockcode",
        "stock_code", "goods_id", "goodsid", "movie_id", "商品id", "商品编号", "商品编码",
        "货号", "sku编码", "宝贝id", "商品",
    ],
    "order_id": [
        "order_id", "orderid", "order_no", "orderno", "order_number", "invoice", "invoiceno",
        "invoice_no", "订单号", "订单编号", "订单id", "主订单号",
    ],
}  # fmt: skip

_SYNONYMS: dict[str, dict[str, list[str]]] = {
    "identities": {
        "alias": ["alias", "alias_id", "customer_id", "customerid", "order_customer_id",
                  "device_id", "别名", "别名id"],
        "person": ["person", "person_id", "customer_unique_id", "unique_id", "user_id",
                   "member_id", "客户唯一id", "用户id", "会员id"],
        "source": ["source", "来源"],
    },
    "users": {
        "user_id": _COMMON["user_id"],
        "signup_ts": ["signup_ts", "signup_time", "register_time", "registered_at",
                      "created_at", "注册时间", "注册日期"],
        "gender": ["gender", "sex", "性别"],
        "birth_year": ["birth_year", "year_of_birth", "出生年份"],
        "city": ["city", "城市", "所在城市"],
        "province": ["province", "state", "region", "省份", "省"],
        "country": ["country", "国家"],
        "channel": ["channel", "source", "渠道", "来源", "注册渠道"],
        "member_level": ["member_level", "level", "vip_level", "tier", "会员等级", "等级"],
        "phone": ["phone", "mobile", "tel", "telephone", "手机", "手机号", "电话", "联系电话"],
        "email": ["email", "e_mail", "mail", "邮箱", "电子邮箱"],
        "name": ["name", "customer_name", "full_name", "姓名", "收货人", "客户姓名"],
        "address": ["address", "地址", "收货地址", "详细地址"],
    },
    "items": {
        "item_id": _COMMON["item_id"],
        "title": ["title", "name", "product_name", "item_name", "description", "商品名称",
                  "商品标题", "宝贝标题", "名称", "标题"],
        "category": ["category", "category_id", "categoryid", "cat", "类目", "品类", "分类",
                     "商品类目", "类目id"],
        "brand": ["brand", "品牌"],
        "price": ["price", "list_price", "unitprice", "unit_price", "价格", "单价", "售价",
                  "标价"],
        "is_merchandise": ["is_merchandise"],
        "in_stock": ["in_stock", "available", "有货", "是否有货", "库存状态"],
        "attributes": ["attributes", "属性"],
    },
    "events": {
        "event_id": ["event_id", "eventid", "事件id", "日志id"],
        "user_id": _COMMON["user_id"],
        "item_id": _COMMON["item_id"],
        "event_type": ["event_type", "eventtype", "behavior_type", "behaviour_type",
                       "behavior", "behaviour", "action", "event", "行为类型", "行为", "事件类型"],
        "ts": ["ts", "timestamp", "time", "event_time", "datetime", "date", "时间", "行为时间",
               "发生时间", "时间戳"],
        "session_id": ["session_id", "sessionid", "session", "会话id"],
        "channel": ["channel", "platform", "渠道", "终端"],
        "quantity": ["quantity", "qty", "数量"],
        "value": ["value", "amount", "金额"],
        "query": ["query", "keyword", "search_term", "搜索词", "关键词"],
    },
    "orders": {
        "order_id": _COMMON["order_id"],
        "user_id": _COMMON["user_id"],
        "ts": ["ts", "order_time", "order_date", "ordered_at", "created_at", "invoicedate",
               "invoice_date", "paid_at", "payment_time", "date", "time", "下单时间", "创建时间",
               "订单创建时间", "订单时间", "支付时间", "付款时间", "成交时间"],
        "status": ["status", "order_status", "订单状态", "状态", "交易状态"],
        "amount": ["amount", "total", "order_amount", "paid_amount", "payment", "actual_paid",
                   "实付金额", "订单金额", "支付金额", "实付款", "付款金额", "买家实付金额",
                   "总金额"],
        "discount": ["discount", "discount_amount", "优惠金额", "折扣金额", "优惠"],
        "channel": ["channel", "platform", "渠道", "下单渠道", "订单来源"],
    },
    "order_items": {
        "order_id": _COMMON["order_id"],
        "line": ["line", "line_no", "line_number", "行号", "子订单序号"],
        "item_id": _COMMON["item_id"],
        "quantity": ["quantity", "qty", "数量", "购买数量", "商品数量"],
        "unit_price": ["unit_price", "unitprice", "price", "单价", "成交单价", "商品单价",
                       "价格"],
    },
    "reviews": {
        "review_id": ["review_id", "reviewid", "comment_id", "评价id", "评论id"],
        "user_id": _COMMON["user_id"],
        "item_id": _COMMON["item_id"],
        "rating": ["rating", "score", "stars", "star", "评分", "星级", "打分", "分数"],
        "text": ["text", "review", "review_text", "content", "comment", "verified_reviews",
                 "评价内容", "评论内容", "评论", "评价", "内容"],
        "ts": ["ts", "date", "time", "review_time", "created_at", "评价时间", "评论时间",
               "时间", "日期"],
        "lang": ["lang", "language", "语言"],
        "sentiment": ["sentiment", "label", "feedback", "情感", "标签", "情感标签"],
        "category": ["category", "cat", "类目", "品类", "分类"],
    },
}  # fmt: skip

#: Source values that mean a canonical one (matched after trimming and lower-casing).
VALUE_SYNONYMS: dict[str, dict[str, str]] = {
    "event_type": {
        "pv": "view", "click": "view", "browse": "view", "浏览": "view", "点击": "view",
        "collect": "fav", "favorite": "fav", "favourite": "fav", "收藏": "fav",
        "addcart": "cart", "add_to_cart": "cart", "加购": "cart", "加入购物车": "cart",
        "buy": "order", "purchase": "order", "购买": "order", "下单": "order",
        "payment": "pay", "支付": "pay", "付款": "pay", "搜索": "search",
        "退款": "refund", "退货": "return", "评价": "review", "分享": "share",
    },
    "status": {
        "complete": "completed", "success": "completed", "paid": "completed",
        "delivered": "completed", "shipped": "completed", "已完成": "completed",
        "交易成功": "completed", "完成": "completed", "已收货": "completed",
        "已发货": "completed", "已付款": "completed", "canceled": "cancelled",
        "cancel": "cancelled", "closed": "cancelled", "已取消": "cancelled",
        "交易关闭": "cancelled", "取消": "cancelled", "refunded": "returned",
        "returned": "returned", "退款": "returned", "已退款": "returned", "退货": "returned",
        "待付款": "pending", "待发货": "pending", "unpaid": "pending",
    },
    "gender": {
        "f": "female", "woman": "female", "women": "female", "女": "female", "女性": "female",
        "m": "male", "man": "male", "men": "male", "男": "male", "男性": "male",
    },
}  # fmt: skip


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-./()（）]+", "", header.strip().lstrip("\ufeff").lower())


def suggest_columns(table: str, source_columns: list[str]) -> dict[str, str]:
    """Canonical column -> source column, from common English and Chinese headers.

    Each source column is used at most once, and each canonical column gets the source
    column that matches its most specific synonym (``会员ID`` before ``会员``).
    """
    synonyms = _SYNONYMS[schema.table(table).name]
    by_norm = {_norm(c): c for c in reversed(source_columns)}
    found: dict[str, str] = {}
    used: set[str] = set()
    for canonical, names in synonyms.items():
        for name in names:
            source = by_norm.get(_norm(name))
            if source is not None and source not in used:
                found[canonical] = source
                used.add(source)
                break
    return found


# -- mapping files --------------------------------------------------------------------------

_READ_KEYS = {"format", "delimiter", "encoding", "header", "names", "quote", "sheet"}


def load_mapping(path: str | Path) -> Spec:
    """Read a mapping file (TOML) and check it against the canonical tables.

    ::

        table = "orders"
        [columns]            # canonical = "source header"
        order_id = "订单号"
        user_id = "会员ID"
        ts = "下单时间"
        [options]            # optional: how to read and parse
        encoding = "gbk"
        ts_format = "%Y-%m-%d %H:%M"
        timezone = "Asia/Shanghai"
        [values.status]      # optional: source value = canonical value
        "交易成功" = "completed"
        [constants]          # optional: a value for every row
        channel = "tmall"
        [identity]           # optional: another id of the person in each row
        alias = "customer_id"
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"Mapping file {path} does not exist; check the path.") from None
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"Mapping file {path} is not valid TOML ({exc}).") from None
    unknown = set(data) - {"table", "columns", "options", "values", "constants", "identity"}
    if unknown:
        raise SchemaError(
            f"Mapping file {path}: unknown key {sorted(unknown)[0]!r}; the keys are table, "
            "columns, options, values, constants and identity."
        )
    if "table" not in data:
        raise SchemaError(f'Mapping file {path} does not say its table; add table = "orders".')
    target = schema.table(str(data["table"]))
    columns = {str(k): str(v) for k, v in data.get("columns", {}).items()}
    for key in [*columns, *data.get("constants", {}), *data.get("values", {})]:
        if key not in target.names:
            raise SchemaError(
                f"Mapping file {path}: {target.name} has no column {key!r}; its columns are "
                f"{', '.join(target.names)}."
            )
    identity = dict(data.get("identity", {}))
    alias = identity.pop("alias", None)
    if identity or (alias is not None and not isinstance(alias, str)):
        raise SchemaError(
            f'Mapping file {path}: [identity] takes one key, alias = "SOURCE COLUMN" (the '
            "column with another id of the person that user_id names)."
        )
    if alias is not None and "user_id" not in target.names:
        raise SchemaError(
            f"Mapping file {path}: [identity] links ids to a user_id, and {target.name} has "
            "no user_id; use it in a users, orders, events or reviews mapping."
        )
    options = dict(data.get("options", {}))
    read_opts = {k: options.pop(k) for k in list(options) if k in _READ_KEYS}
    if "names" in read_opts:
        read_opts["names"] = tuple(read_opts["names"])
    ts_format, timezone = options.pop("ts_format", None), options.pop("timezone", None)
    if options:
        raise SchemaError(
            f"Mapping file {path}: unknown option {sorted(options)[0]!r}; the options are "
            f"{', '.join(sorted(_READ_KEYS | {'ts_format', 'timezone'}))}."
        )
    return Spec(
        table=target.name,
        columns=columns,
        name=str(path),
        read=replace(ReadOptions(), **read_opts),
        constants=dict(data.get("constants", {})),
        values={
            k: {str(a): str(b) for a, b in v.items()} for k, v in data.get("values", {}).items()
        },
        ts_format=ts_format,
        timezone=timezone,
        alias=alias,
        recognise=True,
    )
