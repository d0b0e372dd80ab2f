"""Personas of segments and clusters: a name, a description, the numbers that define the
group, what sets it apart from the whole shop, and suggested actions.

The facts are :func:`portrait.segments.segment_report`'s (a segment's size, shares and
averages; a cluster's traits) beside the same averages over every segmented customer. The
offline backend writes the text from templates; a model writes it from the same facts and
is held to them by :mod:`portrait.llm.grounding`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from portrait.errors import NotFoundError
from portrait.facts import Fact
from portrait.labels import LABELS, Label
from portrait.llm.cache import ResponseCache
from portrait.llm.client import Language, LLMClient, Spend, make_client, usage_summary
from portrait.llm.grounding import Job, generate_all
from portrait.llm.prompting import render_prompt
from portrait.profile import CustomerProfile, customer_profile
from portrait.segments import GroupingTotals, SegmentReport, SegmentStats, Trait, segment_report

if TYPE_CHECKING:
    from portrait.workspace import Workspace

Grouping = Literal["rfm_segment", "lifecycle_stage", "cluster"]
GROUPINGS: tuple[Grouping, ...] = ("rfm_segment", "lifecycle_stage", "cluster")


class PersonaText(Fact):
    """The words of a persona: what a model (or the templates) writes."""

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=1)
    #: what sets the group apart from the whole shop
    distinguishing: str = Field(min_length=1)
    actions: list[str] = Field(min_length=1, max_length=5)


class Persona(Fact):
    """One segment's or cluster's persona, with the facts its text was written from."""

    grouping: Grouping
    segment: str
    label: Label
    language: Language
    currency: str
    text: PersonaText
    figures: SegmentStats
    shop: GroupingTotals
    traits: list[Trait] = []
    #: model (a model's grounded answer), cache, offline (templates) or offline_fallback
    source: str
    model: str
    prompt_version: str
    #: spans of rejected answers that the facts did not support
    rejected: list[str] = []


class Personas(Spend):
    """Personas of segments and clusters, and what generating them cost."""

    language: Language
    model: str
    personas: list[Persona]

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "grouping": p.grouping,
                "segment": p.segment,
                "name": p.text.name,
                "description": p.text.description,
                "distinguishing": p.text.distinguishing,
                "actions": " | ".join(p.text.actions),
                "customers": p.figures.customers,
                "share": p.figures.share,
                "value_share": p.figures.value_share,
                "source": p.source,
            }
            for p in self.personas
        ]


# -- the facts a persona is written from ----------------------------------------------------
def persona_facts(
    grouping: Grouping,
    stats: SegmentStats,
    shop: GroupingTotals,
    traits: list[Trait],
    currency: str,
) -> dict[str, Any]:
    """The facts sent for one persona (names, figures, traits): no ids, no PII."""
    return {
        "grouping": grouping,
        "segment": stats.segment,
        "name_en": stats.label.en,
        "name_zh": stats.label.zh,
        "currency": currency,
        "segment_figures": stats.model_dump(mode="json", exclude={"segment", "label"}),
        "shop_figures": shop.model_dump(mode="json"),
        "traits": [
            {"feature": t.label.en, "feature_zh": t.label.zh, "mean": t.mean,
             "shop_mean": t.shop_mean, "z": t.z}
            for t in traits
        ],
    }  # fmt: skip


def _known_names(report: SegmentReport | None = None) -> tuple[str, ...]:
    """Names a persona may mention only when its facts do: every RFM segment's (code and
    Chinese), every lifecycle stage's (Chinese) and, with a report, every cluster's."""
    names = set(LABELS["rfm_segment"])
    names |= {
        lab.zh for vocab in ("rfm_segment", "lifecycle_stage") for lab in LABELS[vocab].values()
    }
    for s in report.cluster if report is not None else []:
        names |= {s.label.en, s.label.zh}
    return tuple(n for n in names if len(n) >= 2)


# -- the offline text -------------------------------------------------------------------------
_ACTIONS: dict[str, tuple[list[str], list[str]]] = {
    "reward": (
        [
            "Reward them with early access and a members-only offer.",
            "Ask them for reviews and referrals.",
        ],
        ["提供新品抢先购和会员专享权益。", "邀请他们评价和推荐好友。"],
    ),
    "grow": (
        [
            "Recommend items that go with what they already bought.",
            "Offer a membership or a bundle to raise their order frequency.",
        ],
        ["推荐与已购商品搭配的商品。", "用会员或组合优惠提高购买频次。"],
    ),
    "welcome": (
        [
            "Send a welcome series with a second-order coupon.",
            "Show best sellers of the category they first bought.",
        ],
        ["发送欢迎系列消息和复购优惠券。", "展示其首购品类的热销商品。"],
    ),
    "win_back": (
        [
            "Win them back with a personal offer on what they used to buy.",
            "Ask what went wrong and fix it before a larger campaign.",
        ],
        ["针对其常购商品发送专属召回优惠。", "在大规模活动前先了解流失原因。"],
    ),
    "low_cost": (
        [
            "Keep them in low-cost channels (e-mail, push) only.",
            "Try one reactivation offer and stop if it gets no response.",
        ],
        ["只在低成本渠道（邮件、推送）触达。", "尝试一次激活优惠，无响应则停止投入。"],
    ),
}
_PLAYBOOK = {
    "Champions": "reward", "Loyal": "reward", "Potential Loyalist": "grow",
    "New": "welcome", "Promising": "welcome", "Need Attention": "grow",
    "About to Sleep": "win_back", "Can't Lose": "win_back", "At Risk": "win_back",
    "Lost": "low_cost", "Hibernating": "low_cost",
    "prospect": "welcome", "new": "welcome", "active": "grow", "won_back": "grow",
    "silent": "win_back", "churned": "low_cost",
}  # fmt: skip


def play_of(grouping: Grouping, stats: SegmentStats) -> str:
    """The marketing play a group calls for (reward, grow, welcome, win_back, low_cost)."""
    if grouping != "cluster":
        return _PLAYBOOK.get(stats.segment, "grow")
    if stats.value_share is not None and stats.value_share > stats.share:
        return "reward"
    return "grow"


def _f(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def offline_persona(
    grouping: Grouping,
    stats: SegmentStats,
    shop: GroupingTotals,
    traits: list[Trait],
    currency: str,
    language: Language,
) -> PersonaText:
    """The template persona: every number in it is one of the facts, rounded."""
    s = stats
    en, zh = _ACTIONS[play_of(grouping, s)]
    if language == "en":
        name = s.label.en if grouping != "cluster" else f"Cluster {s.segment}: {s.label.en}"
        description = (
            f"{s.customers:,} customers ({_p(s.share)} of customers) who bring "
            f"{_p(s.value_share)} of the spend. On average they ordered "
            f"{_f(s.avg_frequency, 1)} times, last {_f(s.avg_recency_days, 0)} days ago, "
            f"and spent {_f(s.avg_monetary, 0)} {currency}."
        )
        apart = [
            f"orders {_f(s.avg_frequency, 1)} against {_f(shop.avg_frequency, 1)}",
            f"days since the last order {_f(s.avg_recency_days, 0)} against "
            f"{_f(shop.avg_recency_days, 0)}",
            f"spend {_f(s.avg_monetary, 0)} against {_f(shop.avg_monetary, 0)} {currency}",
        ]
        apart += [
            f"{t.label.en} {_f(t.mean, 2)} against {_f(t.shop_mean, 2)} ({t.z:+.1f} sd)"
            for t in traits
        ]
        distinguishing = "Compared with all customers: " + "; ".join(apart) + "."
        return PersonaText(name=name, description=description, distinguishing=distinguishing,
                           actions=en)  # fmt: skip
    name = s.label.zh if grouping != "cluster" else f"聚类 {s.segment}：{s.label.zh}"
    description = (
        f"共 {s.customers:,} 位客户（占 {_p(s.share)}），贡献 {_p(s.value_share)} 的消费额。"
        f"平均下单 {_f(s.avg_frequency, 1)} 次，最近一次在 {_f(s.avg_recency_days, 0)} 天前，"
        f"人均消费 {_f(s.avg_monetary, 0)} {currency}。"
    )
    apart = [
        f"下单次数 {_f(s.avg_frequency, 1)}，全体为 {_f(shop.avg_frequency, 1)}",
        f"距上次购买 {_f(s.avg_recency_days, 0)} 天，全体为 {_f(shop.avg_recency_days, 0)} 天",
        f"人均消费 {_f(s.avg_monetary, 0)}，全体为 {_f(shop.avg_monetary, 0)} {currency}",
    ]
    apart += [
        f"{t.label.zh} {_f(t.mean, 2)}，全体为 {_f(t.shop_mean, 2)}（{t.z:+.1f} 个标准差）"
        for t in traits
    ]
    distinguishing = "与全体客户相比：" + "；".join(apart) + "。"
    return PersonaText(name=name, description=description, distinguishing=distinguishing,
                       actions=zh)  # fmt: skip


# -- the function -----------------------------------------------------------------------------
def segment_personas(
    ws: Workspace,
    *,
    segment: str | None = None,
    cluster: int | None = None,
    client: LLMClient | None = None,
    language: Language | None = None,
    yes: bool = False,
    max_paid_calls: int | None = None,
) -> Personas:
    """Personas of every RFM segment, lifecycle stage and cluster (or of one of them).

    Parameters
    ----------
    segment, cluster
        Only this RFM segment or lifecycle stage (its code, e.g. ``"Champions"`` or
        ``"active"``), or only this cluster; neither: all of them.
    client
        The backend; default: the one ``[llm]`` in ``portrait.toml`` names.
    language
        ``"zh"`` or ``"en"``; default: ``[llm].language``.
    yes
        Go ahead even when the run would make more than ``max_paid_calls`` paid calls.
    max_paid_calls
        Ask first above this many paid calls; default: ``[llm].max_paid_calls``.

    Raises
    ------
    NotBuiltError
        ``portrait build`` has not made the segments yet.
    NotFoundError
        No segment or cluster has that code.
    ConfirmationNeeded
        Too many paid calls and ``yes`` is false.
    """
    settings = ws.config.llm
    language = language or settings.language
    report = segment_report(ws)
    currency = ws.config.shop.currency
    clusters = report.clustering.clusters if report.clustering else []
    traits_of = {str(c.cluster): c.traits for c in clusters}
    chosen: list[tuple[Grouping, SegmentStats, GroupingTotals]] = []
    for grouping in GROUPINGS:
        rows: list[SegmentStats] = getattr(report, grouping)
        shop = report.totals[grouping]
        for stats in rows:
            wanted = (segment is None and cluster is None) or (
                (grouping != "cluster" and stats.segment == segment)
                or (grouping == "cluster" and cluster is not None and stats.segment == str(cluster))
            )
            if wanted:
                chosen.append((grouping, stats, shop))
    if not chosen:
        what = f"segment {segment!r}" if segment is not None else f"cluster {cluster}"
        raise NotFoundError(
            f"The workspace has no {what}; `portrait segments` lists the segments and clusters."
        )
    names = _known_names(report)
    jobs = []
    for grouping, stats, shop in chosen:
        traits = traits_of.get(stats.segment, []) if grouping == "cluster" else []
        facts = persona_facts(grouping, stats, shop, traits, currency)
        offline = offline_persona(grouping, stats, shop, traits, currency, language)
        prompt = render_prompt("persona", language, facts)
        jobs.append(Job(prompt, PersonaText, facts, offline, names))
    own = client is None
    used = client or make_client(settings)
    try:
        done = generate_all(
            used, jobs, cache=ResponseCache(ws.artifacts / "llm"),
            yes=yes,
            max_paid_calls=settings.max_paid_calls if max_paid_calls is None else max_paid_calls,
        )  # fmt: skip
    finally:
        if own:
            used.close()
    personas = [
        Persona(
            grouping=grouping, segment=stats.segment, label=stats.label, language=language,
            currency=currency, text=g.value, figures=stats, shop=shop,
            traits=traits_of.get(stats.segment, []) if grouping == "cluster" else [],
            source=g.source, model=used.model, prompt_version=job.prompt.version,
            rejected=list(g.rejected),
        )
        for (grouping, stats, shop), job, g in zip(chosen, jobs, done, strict=True)
    ]  # fmt: skip
    usage = usage_summary(used)
    return Personas(language=language, personas=personas, **usage)


# -- one customer -----------------------------------------------------------------------------
class CustomerPersona(Spend):
    """One customer's persona, with the profile its text was written from."""

    user_id: str
    language: Language
    text: PersonaText
    profile: CustomerProfile
    source: str
    model: str
    prompt_version: str
    rejected: list[str] = []

    def csv_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "user_id": self.user_id,
                "name": self.text.name,
                "description": self.text.description,
                "distinguishing": self.text.distinguishing,
                "actions": " | ".join(self.text.actions),
                "source": self.source,
            }
        ]


def customer_facts(profile: CustomerProfile) -> dict[str, Any]:
    """The facts sent for one customer's persona: the profile without its id."""
    return profile.model_dump(mode="json", exclude={"user_id"})


def _feature(profile: CustomerProfile, name: str) -> float | None:
    for f in profile.features:
        if f.name == name and isinstance(f.value, int | float) and not isinstance(f.value, bool):
            return float(f.value)
    return None


def offline_customer_persona(
    profile: CustomerProfile, currency: str, language: Language
) -> PersonaText:
    """The template persona of one customer: every number in it is one of the profile's."""
    seg, val = profile.segments, profile.value
    zh = language == "zh"
    orders, spent = _feature(profile, "frequency"), _feature(profile, "monetary")
    recency = _feature(profile, "recency_days")
    parts = [lab.zh if zh else lab.en for lab in (seg.rfm_label, seg.lifecycle_label) if lab]
    if val is not None and val.value_tier_label is not None:
        parts.append(val.value_tier_label.zh if zh else val.value_tier_label.en)
    name = ("、" if zh else ", ").join(parts) or ("客户" if zh else "Customer")
    when = f"{profile.as_of}" if profile.as_of else ""
    if zh:
        description = (
            f"截至 {when}：累计下单 {_f(orders, 0)} 次，消费 {_f(spent, 0)} {currency}，"
            f"最近一次购买在 {_f(recency, 0)} 天前。"
        )
    else:
        description = (
            f"As of {when}: {_f(orders, 0)} orders, {_f(spent, 0)} {currency} spent, "
            f"the last purchase {_f(recency, 0)} days ago."
        )
    apart: list[str] = []
    if seg.r_score is not None:
        scores = f"R{seg.r_score} F{seg.f_score} M{seg.m_score}"
        apart.append(f"RFM 评分 {scores}" if zh else f"RFM scores {scores}")
    if seg.cluster_label is not None:
        apart.append(
            f"行为聚类：{seg.cluster_label.zh}" if zh else f"cluster: {seg.cluster_label.en}"
        )
    if val is not None:
        if val.clv is not None:
            apart.append(
                f"预测 {val.clv_months} 个月价值 {_f(val.clv, 0)} {currency}"
                if zh
                else f"predicted {val.clv_months}-month value {_f(val.clv, 0)} {currency}"
            )
        if val.churn_risk_label is not None and val.churn_probability is not None:
            risk, p = val.churn_risk_label, _p(val.churn_probability)
            apart.append(
                f"{val.churn_horizon_days} 天内流失概率 {p}（{risk.zh}）"
                if zh
                else f"churn probability {p} within {val.churn_horizon_days} days ({risk.en})"
            )
        if val.next_purchase_label is not None:
            nxt = val.next_purchase_label
            apart.append(f"预计下次购买：{nxt.zh}" if zh else f"next purchase expected {nxt.en}")
    joined = ("；" if zh else "; ").join(apart) + ("。" if zh else ".")
    distinguishing = joined[:1].upper() + joined[1:]
    code = seg.rfm_segment or seg.lifecycle_stage or ""
    en, zh_actions = _ACTIONS[_PLAYBOOK.get(code, "grow")]
    return PersonaText(
        name=name, description=description, distinguishing=distinguishing,
        actions=zh_actions if zh else en,
    )  # fmt: skip


def customer_persona(
    ws: Workspace,
    user_id: str,
    *,
    client: LLMClient | None = None,
    language: Language | None = None,
) -> CustomerPersona:
    """One customer's persona from :func:`portrait.profile.customer_profile`.

    The facts sent are the profile without the customer's id; one call at most, so no
    confirmation is asked. Raises :class:`NotFoundError` for an unknown customer.
    """
    settings = ws.config.llm
    language = language or settings.language
    profile = customer_profile(ws, user_id)
    currency = profile.value.currency if profile.value else ws.config.shop.currency
    facts = customer_facts(profile)
    offline = offline_customer_persona(profile, currency, language)
    job = Job(render_prompt("customer_persona", language, facts), PersonaText, facts, offline,
              _known_names())  # fmt: skip
    own = client is None
    used = client or make_client(settings)
    try:
        [done] = generate_all(used, [job], cache=ResponseCache(ws.artifacts / "llm"),
                              max_paid_calls=max(settings.max_paid_calls, 1))  # fmt: skip
    finally:
        if own:
            used.close()
    return CustomerPersona(
        user_id=profile.user_id, language=language, text=done.value, profile=profile,
        source=done.source, model=used.model, prompt_version=job.prompt.version,
        rejected=list(done.rejected), **{k: v for k, v in usage_summary(used).items()
                                         if k != "model"},
    )  # fmt: skip
