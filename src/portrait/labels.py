"""Every word an operator reads, in English and Chinese, looked up by code.

Facts carry codes (``"Champions"``, ``"high"``, ``"within_30d"``); the CLI, the API, the
dashboard and the LLM layer look the words up here, so that a segment is called the same
thing everywhere and a translation is fixed in one place. Codes are grouped by vocabulary
because the same code means different things in two of them (a ``high`` value tier is
高价值, a ``high`` churn risk is 高风险).

Features and tags carry their own labels beside their definitions (their registries); this
catalogue holds the fixed vocabularies of segments, stages, tiers, reasons, methods and notes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Label(BaseModel):
    """A display name in English and Chinese. Notes may hold ``{placeholders}``."""

    model_config = ConfigDict(frozen=True)

    en: str
    zh: str

    def __str__(self) -> str:
        return self.en if self.en == self.zh else f"{self.en} ({self.zh})"

    def format(self, **values: Any) -> Label:
        """The label with its ``{placeholders}`` filled, in both languages."""
        return Label(en=self.en.format(**values), zh=self.zh.format(**values))


def _vocabulary(**pairs: tuple[str, str]) -> dict[str, Label]:
    return {code: Label(en=en, zh=zh) for code, (en, zh) in pairs.items()}


#: vocabulary -> code -> label
LABELS: dict[str, dict[str, Label]] = {
    "rfm_segment": {
        code: Label(en=code, zh=zh)
        for code, zh in (
            ("Champions", "重要价值客户"),
            ("Loyal", "忠诚客户"),
            ("Potential Loyalist", "潜力客户"),
            ("New", "新客户"),
            ("Promising", "有潜力的新客户"),
            ("Need Attention", "需要关注客户"),
            ("About to Sleep", "即将沉睡客户"),
            ("Can't Lose", "重要挽留客户"),
            ("At Risk", "流失风险客户"),
            ("Lost", "已流失客户"),
            ("Hibernating", "沉睡客户"),
        )
    },
    "lifecycle_stage": _vocabulary(
        prospect=("prospect", "潜在客户"),
        new=("new", "新客户"),
        active=("active", "活跃客户"),
        won_back=("won back", "回流客户"),
        silent=("silent", "沉默客户"),
        churned=("churned", "流失客户"),
    ),
    "value_tier": _vocabulary(
        high=("high value", "高价值"),
        medium=("medium value", "中价值"),
        low=("low value", "低价值"),
    ),
    "churn_risk": _vocabulary(
        high=("high risk", "高风险"), medium=("medium risk", "中风险"), low=("low risk", "低风险")
    ),
    "next_purchase_window": _vocabulary(
        within_30d=("within 30 days", "30天内"),
        within_90d=("in 1-3 months", "1-3个月内"),
        within_365d=("in 3-12 months", "3-12个月内"),
        not_within_year=("not within a year", "一年内不太可能"),
    ),
    # the inputs of the churn model that are scores of the purchase model, not features
    "purchase_score": _vocabulary(
        expected_purchases=(
            "Purchases the BG/NBD model expects in the churn window",
            "BG/NBD模型预计的窗口期内购买次数",
        ),
        p_alive=("Probability of still being a customer (BG/NBD)", "仍为活跃客户的概率（BG/NBD）"),
        p_purchase=(
            "Probability of a purchase in the churn window (BG/NBD)",
            "BG/NBD模型预计窗口期内购买的概率",
        ),
    ),
    # the methods an evaluation compares
    "method": _vocabulary(
        model=("model", "模型"),
        same_rate=("same rate as calibration", "同速率基线"),
        rfm_regression=("RFM-score regression", "RFM回归基线"),
        recency=("recency alone", "仅最近购买天数"),
        p_alive=("1 - P(alive)", "1 - 仍活跃概率"),
        expected=("BG/NBD expected purchases", "预计购买次数"),
        p_purchase=("BG/NBD P(no purchase)", "预计不购买概率"),
    ),
    # why an item is recommended; {anchor} is the customer's own item that explains it
    "recommend_reason": _vocabulary(
        bought_similar=("like {anchor}, which you bought", "与您买过的「{anchor}」相似"),
        viewed_similar=("like {anchor}, which you looked at", "与您看过的「{anchor}」相似"),
        similar_customers=("popular with customers like you", "与您相似的顾客喜欢"),
        new_similar=("new, like {anchor}", "新品，与「{anchor}」相似"),
        segment_popular=(
            "popular in your segment ({segment})",
            "在您所在的客群（{segment}）中热销",
        ),
        popular_now=("a best seller this month", "本月热销"),
    ),
    # where a customer's list came from
    "recommend_source": _vocabulary(
        model=("the model", "推荐模型"),
        new_item=("a new product", "新品"),
        segment=("their segment's favourites", "所在客群热门"),
        popular=("the shop's recent best sellers", "全店近期热销"),
    ),
    # what the shop's data lacks, making a feature empty (``feature_gaps``)
    "missing_data": _vocabulary(
        purchases=("the shop has no orders and no order events", "店铺没有订单，也没有下单事件"),
        amount=(
            "the shop's purchases carry no amounts (no prices in the data)",
            "购买记录没有金额（数据中没有价格）",
        ),
        discount=("the orders carry no discounts", "订单没有优惠金额"),
        quantity=("the purchases carry no quantities", "购买记录没有数量"),
        category=("the items carry no categories", "商品没有类目"),
        brand=("the items carry no brands", "商品没有品牌"),
        price=("the purchases carry no unit prices", "购买记录没有单价"),
        events=("the shop has no behaviour events", "店铺没有行为日志"),
        reviews=("the shop has no reviews from known customers", "没有已知客户的评价"),
        rating=("the reviews carry no ratings", "评价没有评分"),
        no_values=("no customer has a value", "没有客户有取值"),
    ),
    "tag_kind": _vocabulary(
        fact=("fact", "事实标签"), rule=("rule", "规则标签"), model=("model", "模型标签")
    ),
    "run_status": _vocabulary(ok=("ok", "成功"), failed=("failed", "失败")),
    # where a piece of generated text came from (portrait.llm)
    "llm_source": _vocabulary(
        model=("written by the model", "模型生成"),
        cache=("from the cache", "来自缓存"),
        offline=("offline template", "离线模板"),
        offline_fallback=(
            "offline template: the model's text was not grounded",
            "离线模板：模型文本与事实不符",
        ),
    ),
    "sentiment": _vocabulary(
        positive=("positive", "正面"), neutral=("neutral", "中性"), negative=("negative", "负面")
    ),
    "order_status": _vocabulary(
        completed=("completed", "已完成"),
        pending=("pending", "处理中"),
        cancelled=("cancelled", "已取消"),
        returned=("returned", "已退货"),
        adjustment=("adjustment", "调整"),
    ),
    # what a customer asks the assistant (portrait.llm.assistant)
    "assistant_intent": _vocabulary(
        order_status=("order status", "订单查询"),
        delivery=("delivery", "物流配送"),
        return_refund=("return or refund", "退换货/退款"),
        product_question=("product question", "商品咨询"),
        recommendation=("recommendation", "推荐"),
        complaint=("complaint", "投诉"),
        other=("other", "其他"),
    ),
    # why the assistant will not answer: it reads only the asker's own data
    "assistant_refusal": _vocabulary(
        other_order=(
            "I can only discuss orders on your own account, and that order is not one of yours.",
            "抱歉，我只能查询您本人账户下的订单，该订单不属于您的账户。",
        ),
        other_customer=(
            "I can only discuss your own account; I cannot share anything about another customer.",
            "抱歉，我只能查询您本人的账户信息，无法提供其他客户的任何信息。",
        ),
        other_person=(
            "I can only discuss your own account; I cannot look up anyone else's orders or "
            "details.",
            "抱歉，我只能查询您本人的账户信息，无法查询他人的订单或资料。",
        ),
    ),
    # what a review clause is about (portrait.text.aspects)
    "aspect": _vocabulary(
        logistics=("logistics", "物流"),
        price=("price", "价格"),
        quality=("quality", "质量"),
        service=("service", "服务"),
        packaging=("packaging", "包装"),
        size=("size / fit", "尺码"),
        authenticity=("authenticity", "正品"),
        freshness=("freshness", "新鲜"),
        taste=("taste / smell", "口味"),
        appearance=("appearance", "外观"),
        battery=("battery", "续航"),
    ),
    "sentiment_model": _vocabulary(
        default=("default model (public zh/en review corpora)", "默认模型（公开中英文评价语料）"),
        shop=("the shop's own model (trained on its ratings)", "店铺自有模型（基于评分训练）"),
    ),
    # what a campaign's uplift report concludes (portrait.audiences.campaigns)
    "uplift_verdict": _vocabulary(
        effect=("an effect: the difference is statistically significant", "有效果：差异显著"),
        no_effect_detected=(
            "no effect detected: the difference may be chance",
            "未检测到效果：差异可能出于偶然",
        ),
        too_small=(
            "too small to tell: each group needs 30 members and 5 expected buyers and non-buyers",
            "样本太小，无法判断：每组至少需要30人，且预期购买和未购买人数均不少于5",
        ),
    ),
    # what a stage wants the operator to know; {placeholders} are filled from the note
    "note": _vocabulary(
        no_purchases=(
            "the shop has no completed purchases, so there is no customer value to model",
            "店铺没有已完成的购买，无法建模客户价值",
        ),
        no_amounts=(
            "the purchases carry no amounts, so CLV is unknown",
            "购买记录没有金额，无法计算客户终身价值",
        ),
        no_spend_model=(
            "spend is not modelled: fewer than two customers have a repeat purchase with a "
            "positive amount",
            "未建模消费金额：有正金额复购的客户少于两位",
        ),
        spend_correlated=(
            "spend per purchase correlates with frequency ({correlation:+.2f}); Gamma-Gamma "
            "assumes it does not, so read CLV as a ranking more than an amount",
            "客单价与购买次数相关（{correlation:+.2f}），Gamma-Gamma假设二者独立，"
            "CLV更适合用于排序而非金额",
        ),
        no_churn_model=(
            "no churn model: it needs at least {minimum} buyers in its training snapshots, "
            "some who came back and some who did not (there are {customers}, {churned} "
            "churned); churn risk is 1 - P(purchase) instead",
            "无流失模型：训练快照需要至少{minimum}位客户，且有回购与未回购者（现有{customers}位，"
            "{churned}位流失），流失风险改用 1 - 购买概率",
        ),
        not_converged=(
            "the {model} optimiser stopped before converging; treat its results with care",
            "{model}模型的优化未收敛，结果仅供参考",
        ),
        no_dropout=(
            "the data show almost no drop-out ({model}: a or b at its bound): customers are "
            "predicted to stay, as in a model without churn",
            "数据几乎没有流失迹象（{model}的a或b到达边界），模型预计客户都会留下",
        ),
        dropout_after_purchase=(
            "the fit went towards drop-out after every purchase ({model}: a = {a:.6g}, "
            "b = {b:.4g}, at the bound of the search): nearly every customer is predicted to "
            "leave after each purchase ({dropout:.0%} chance per purchase on average)",
            "拟合走向“每次购买后都流失”（{model}：a = {a:.6g}，b = {b:.4g}，到达搜索边界）："
            "模型预计几乎每位客户每次购买后都会流失（平均每次购买流失概率{dropout:.0%}）",
        ),
        purchase_model_switched=(
            "{configured} went towards everyone leaving after each purchase: the customers "
            "who came back are predicted gone (median P(alive) {alive:.0%}; mean drop-out "
            "chance {dropout:.0%} per purchase) while every one-time buyer stays at P(alive) "
            "= 1; {chosen} fits these purchases better (mean log-likelihood {chosen_ll:.4f} "
            "against {configured_ll:.4f}) and is used instead",
            "{configured}的拟合走向“每次购买后都流失”：回购客户被预测为已流失（P(alive)中位数"
            "{alive:.0%}，每次购买平均流失概率{dropout:.0%}），而只购买一次的客户P(alive)均为1；"
            "{chosen}对这些购买拟合更好（平均对数似然{chosen_ll:.4f}，对比{configured_ll:.4f}），"
            "改用{chosen}",
        ),
        p_alive_withheld=(
            "{model} went towards everyone leaving after each purchase: the customers who "
            "came back are predicted gone (median P(alive) {alive:.0%}; mean drop-out chance "
            "{dropout:.0%} per purchase) while every one-time buyer stays at P(alive) = 1, "
            "and no other purchase model fits these purchases better; P(alive) is left empty: "
            "rank customers by the chance of a purchase in 90 days instead",
            "{model}的拟合走向“每次购买后都流失”：回购客户被预测为已流失（P(alive)中位数"
            "{alive:.0%}，每次购买平均流失概率{dropout:.0%}），而只购买一次的客户P(alive)均为1，"
            "且没有其他购买模型拟合得更好；仍活跃概率留空，请改用90天购买概率排序客户",
        ),
        small_test_set=(
            "only {customers} test customers (fewer than {minimum}): too few to tell the "
            "models apart; read the metrics as anecdotes",
            "测试客户仅{customers}位（少于{minimum}位），不足以比较模型优劣，指标仅供参考",
        ),
        rule_true_for_all=(
            "rule tag {tag}: {statistic} is {threshold:g}, the lowest value any customer has; "
            "the rule is true for {share:.0%} of the customers it applies to",
            "规则标签{tag}：{statistic}为{threshold:g}，等于所有客户中的最小值；"
            "该规则对{share:.0%}的适用客户成立",
        ),
        at_bound=(
            "{model}: {params} at the bound of the search",
            "{model}：参数{params}到达搜索边界",
        ),
        spend_spread=(
            "Gamma-Gamma q = {q:.3g} <= 1: the spread of spend is too wide for a finite "
            "expected spend; customers' own averages are used instead",
            "Gamma-Gamma的q = {q:.3g} <= 1，消费金额离散度过大，改用客户自身的平均消费",
        ),
        rfm_regression_left_out=(
            "the RFM regression needs buyers before {as_of}; there are {customers}, so it is "
            "left out",
            "RFM回归基线需要{as_of}之前的购买客户，现有{customers}位，故未参与比较",
        ),
        rfm_regression_trained=(
            "RFM regression trained on purchases from {start} to {end} of {customers:,} "
            "customers, from their RFM scores at the start",
            "RFM回归基线用{customers:,}位客户在{start}至{end}的购买训练，输入为期初的RFM分数",
        ),
        no_whole_month=(
            "the holdout has no whole month to compare",
            "验证期没有完整的月份可供比较",
        ),
        seasonal_miss=(
            "the model assumes a steady buying rate: in {month}, the month it misses most, "
            "customers made {actual:,} repeat purchases against {predicted:,.0f} predicted "
            "({gap:+.0%}); seasonal peaks such as Christmas are beyond a stationary model",
            "模型假设购买速率稳定：偏差最大的{month}实际复购{actual:,}次，预测{predicted:,.0f}次"
            "（{gap:+.0%}），圣诞等季节性高峰超出平稳模型的能力",
        ),
        few_buyers=(
            "only {customers} customers bought before {as_of}; value models need more",
            "截至{as_of}仅有{customers}位客户购买，价值模型需要更多数据",
        ),
        no_interactions=(
            "there are no interactions with products, so nothing to recommend",
            "没有商品交互记录，无法推荐",
        ),
        one_order_ids=(
            "{share:.0%} of the {buyers:,} customers who bought have exactly one order: if the "
            "shop's export gives each order a new customer id, link the ids to people with a "
            'customers file that carries both (a mapping with [identity] alias = "COLUMN", or '
            "portrait ingest FILE --table identities); see docs/ingest.md",
            "{buyers:,}位购买客户中{share:.0%}只有一笔订单：若导出数据每单一个新客户ID，"
            "请用同时含两种ID的客户文件关联到人"
            '（映射文件 [identity] alias = "列名"，或 --table identities），见 docs/ingest.md',
        ),
        amount_disagrees=(
            "{orders:,} of {checked:,} orders have an amount that differs from their lines "
            "(quantity x unit price - discount) by more than rounding, {gap:,.2f} {currency} in "
            "all; the amounts are used as they are",
            "{checked:,}笔订单中有{orders:,}笔的金额与明细（数量×单价-优惠）相差超过舍入误差，"
            "合计{gap:,.2f} {currency}；按订单金额计算",
        ),
        one_cluster=(
            "{customers:,} customers are too few, or too alike, to form behavioural clusters: "
            "everyone is in one",
            "{customers:,}位客户太少或过于相似，无法形成行为聚类：全部归为一类",
        ),
        empty_features=(
            "{count} features are empty for this shop's data; see portrait tags",
            "{count}个特征因数据缺失为空，见 portrait tags",
        ),
        no_reviews=(
            "the shop has no reviews, so there is no sentiment to score",
            "店铺没有评价，无法分析情感",
        ),
        shop_sentiment_model=(
            "reviews scored by the shop's own model: accuracy {shop_accuracy:.1%} on its "
            "latest reviews, against {default_accuracy:.1%} for the default",
            "评价由店铺自有模型打分：最新评价上准确率{shop_accuracy:.1%}，默认模型为"
            "{default_accuracy:.1%}",
        ),
    ),
}


def label(vocabulary: str, code: str | None) -> Label | None:
    """The label of ``code`` in ``vocabulary``; ``None`` for a missing code.

    An unknown code (a value a newer build wrote) is shown as it is in both languages
    rather than failing a page.
    """
    if code is None:
        return None
    return LABELS[vocabulary].get(code) or Label(en=code, zh=code)
