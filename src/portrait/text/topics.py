"""Topics of reviews: clusters described by their most distinctive terms, per category.

Reviews are tokenised (jieba for Chinese, words for English, stop words dropped), weighted by
TF-IDF and factorised by non-negative matrix factorisation (Lee & Seung 1999, "Learning the
parts of objects by non-negative matrix factorization", Nature 401). Each review joins the
topic it loads on most. A topic is then described by class-based TF-IDF (Grootendorst 2022,
"BERTopic: neural topic modeling with a class-based TF-IDF procedure", arXiv:2203.05794): a
term's frequency in the topic's reviews, times ``log(1 + A / f)`` with ``A`` the average
number of words per topic and ``f`` the term's frequency over all topics, so that the terms
are those that set the topic apart, not the ones every review uses. ``method="kmeans"``
clusters the L2-normalised TF-IDF vectors with k-means instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from portrait.errors import DataError
from portrait.facts import Fact
from portrait.text.tokenize import language, tokens

__all__ = ["Topic", "topics_of"]

Method = Literal["nmf", "kmeans"]

#: words too common in reviews to tell topics apart (besides one-character words)
_STOP_ZH = frozenset(
    re.split(
        r"\s+",
        "的 了 是 我 也 都 很 还 就 在 和 有 这 那 个 一 不 没 吧 啊 呢 吗 哦 呀 嘛 "
        "买 东西 京东 感觉 非常 比较 但是 但 而且 就是 还是 可以 一个 这个 那个 自己 "
        "什么 没有 觉得 真的 已经 一下 一次 一直 因为 所以 如果 这样 这么 不是 还有 "
        "给 让 被 把 对 到 说 要 会 能 又 再 才 用 去 看 太 挺 好 不错 满意 怎么 知道 一点 "
        "有点 这次 两个 三个 里面 时候 现在 以后 其他 别的",
    )
)
_STOP_EN = frozenset(
    re.split(
        r"\s+",
        "a an the and or but if of to in on at for with by from as is are was were be been "
        "it its it's this that these those i me my we our you your he she they them their "
        "have has had do does did not no so very just can will would could should all any "
        "get got one also than then there what when which who how about up out im i'm",
    )
)


class Topic(Fact):
    """One cluster of reviews: its distinctive terms, its size and a few examples.

    ``terms`` are ordered by ``weights`` (class-based TF-IDF), highest first; ``examples``
    are the reviews that load most on the topic; ``category`` is the group the topic was
    found in, when topics were found per category.
    """

    topic: int
    category: str | None = None
    size: int
    share: float
    terms: list[str]
    weights: list[float]
    examples: list[str]


def topics_of(
    texts: Sequence[str | None],
    *,
    categories: Sequence[str | None] | None = None,
    n_topics: int = 6,
    n_terms: int = 10,
    n_examples: int = 3,
    method: Method = "nmf",
    random_state: int = 0,
) -> list[Topic]:
    """Topics of ``texts``, found within each category when ``categories`` is given.

    Parameters
    ----------
    texts
        Review texts, Chinese or English; empty ones are skipped.
    categories
        One category per text (for example the product category); topics are found in
        each category separately. ``None`` finds them over all texts.
    n_topics
        Topics per category (fewer when a category has too few reviews).
    n_terms, n_examples
        Terms and example reviews kept per topic.
    method
        ``"nmf"`` (non-negative matrix factorisation of TF-IDF) or ``"kmeans"``.
    random_state
        Seed of the factorisation or clustering.

    Returns
    -------
    list[Topic]
        Per category, its topics by size, largest first.

    Examples
    --------
    >>> topics = topics_of(reviews, categories=cats, n_topics=5)  # doctest: +SKIP
    >>> topics[0].terms[:3]  # doctest: +SKIP
    ['物流', '快递', '慢']
    """
    if categories is not None and len(categories) != len(texts):
        raise DataError(
            f"topics_of got {len(texts)} texts but {len(categories)} categories; "
            "pass one category per text, or none."
        )
    if n_topics < 1:
        raise DataError(f"n_topics is {n_topics}; ask for at least one topic.")
    groups: dict[str | None, list[str]] = {}
    for i, text in enumerate(texts):
        if text and text.strip():
            key = categories[i] if categories is not None else None
            groups.setdefault(key, []).append(text.replace("\ufeff", "").strip())
    out: list[Topic] = []
    for category, docs in groups.items():
        out += _topics(
            docs,
            category=category,
            n_topics=n_topics,
            n_terms=n_terms,
            n_examples=n_examples,
            method=method,
            random_state=random_state,
        )
    return out


def _analyse(text: str) -> list[str]:
    lang = language(text)
    stop = _STOP_ZH if lang == "zh" else _STOP_EN
    return [t for t in tokens(text, lang) if t not in stop and not t.isdigit() and len(t) > 1]


def _topics(
    docs: list[str],
    *,
    category: str | None,
    n_topics: int,
    n_terms: int,
    n_examples: int,
    method: Method,
    random_state: int,
) -> list[Topic]:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    analysed = [_analyse(d) for d in docs]
    keep = [i for i, a in enumerate(analysed) if a]
    if not keep:
        return []
    counter = CountVectorizer(
        analyzer=_identity,
        min_df=2 if len(keep) >= 50 else 1,
        max_df=0.5 if len(keep) >= 50 else 1.0,
    )
    try:
        counts = counter.fit_transform([analysed[i] for i in keep])
    except ValueError:  # every term pruned by min_df/max_df
        return []
    vocabulary = counter.get_feature_names_out()
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    k = max(1, min(n_topics, len(keep) // 5 or 1, counts.shape[1]))
    assignment, loading = _cluster(tfidf, k=k, method=method, random_state=random_state)
    weights = _class_tfidf(counts, assignment, k)
    out: list[Topic] = []
    for topic in range(k):
        members = np.flatnonzero(assignment == topic)
        if members.size == 0:
            continue
        best = members[np.argsort(-loading[members], kind="stable")][:n_examples]
        order = np.argsort(-weights[topic], kind="stable")[:n_terms]
        order = order[weights[topic, order] > 0]
        out.append(
            Topic(
                topic=topic,
                category=category,
                size=int(members.size),
                share=float(members.size / len(keep)),
                terms=[str(vocabulary[j]) for j in order],
                weights=[round(float(weights[topic, j]), 6) for j in order],
                examples=[docs[keep[int(i)]] for i in best],
            )
        )
    out.sort(key=lambda t: -t.size)
    return [t.model_copy(update={"topic": n}) for n, t in enumerate(out)]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _cluster(
    tfidf: sparse.csr_matrix, *, k: int, method: Method, random_state: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Each document's topic and how strongly it belongs to it."""
    if k == 1:
        n = tfidf.shape[0]
        return np.zeros(n, dtype=np.int64), np.asarray(tfidf.sum(axis=1)).ravel()
    if method == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=3, random_state=random_state).fit(tfidf)
        labels = km.labels_.astype(np.int64)
        distance = km.transform(tfidf)[np.arange(tfidf.shape[0]), labels]
        return labels, -distance
    from sklearn.decomposition import NMF

    w = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=300).fit_transform(
        tfidf
    )
    return w.argmax(axis=1).astype(np.int64), w.max(axis=1)


def _class_tfidf(
    counts: sparse.csr_matrix, assignment: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.float64]:
    """Class-based TF-IDF (Grootendorst 2022): one row per topic, one column per term."""
    onehot = sparse.csr_matrix(
        (np.ones(assignment.size), (assignment, np.arange(assignment.size))),
        shape=(k, assignment.size),
    )
    per_class = np.asarray((onehot @ counts).todense(), dtype=np.float64)
    totals = per_class.sum(axis=1, keepdims=True)
    tf = np.divide(per_class, totals, out=np.zeros_like(per_class), where=totals > 0)
    frequency = per_class.sum(axis=0)
    average = per_class.sum() / k
    idf = np.log1p(average / np.maximum(frequency, 1.0))
    weights: npt.NDArray[np.float64] = tf * idf
    return weights
