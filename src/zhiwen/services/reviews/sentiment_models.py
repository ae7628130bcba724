"""Sentiment classifiers as scikit-learn estimators: ``fit`` returns self, learned state ends in ``_``.

* :class:`NgramSentimentClassifier`: character 1..n-grams plus jieba word uni/bigrams, TF-IDF, logistic
  regression. Strong on Chinese reviews (the classic baseline is char 1-3 + LR), fast to train and to score,
  and its weights explain each decision.
* :class:`EmbeddingSentimentClassifier`: logistic regression on the bundled multilingual E5 embeddings. It
  understands paraphrase and English it never saw labelled, but embedding costs ~26 ms per review on 2 cores.
* :class:`BlendSentimentClassifier`: a weighted average of the two. The n-gram part learns from every
  labelled review, the embedding part from at most ``max_embedded`` of them, so its cost stays bounded.
* :class:`ZeroShotSentimentClassifier`: no training data; cosine to bilingual prototype sentences.

Embedding models hold a :class:`SharedEmbedder`: ``clone`` and ``copy.deepcopy`` share it instead of
copying the model, and pickling leaves it out, so a stored model is re-attached to the running embedder.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any, Self

import jieba
import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from zhiwen.ports import Vector

Probabilities = npt.NDArray[np.float64]
Sample = tuple[str, str]  # (review text, product); the product may be ""
Explanation = list[tuple[str, float]]  # (word or n-gram, how much it pushed towards the predicted label)

_TERM = re.compile(r"\w", re.UNICODE)


def word_terms(text: str) -> list[str]:
    """jieba words (lower-cased, punctuation dropped) and adjacent word pairs, so "不 好吃" is one feature."""
    words = [w for w in (t.strip().lower() for t in jieba.lcut(text)) if w and _TERM.search(w)]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class SharedEmbedder:
    """Texts → L2-normalised vectors, shared by every copy of a model and never pickled with it."""

    def __init__(self, embed: Callable[[Sequence[str]], Vector] | None) -> None:
        self.embed = embed

    def __call__(self, texts: Sequence[str]) -> Vector:
        if self.embed is None:
            raise RuntimeError("this model was loaded without an embedder; attach one with set_embedder()")
        return self.embed(texts)

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedEmbedder:
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {"embed": None}


class NgramSentimentClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """``X`` is a sequence of (text, product) samples. With ``per_product``, every product with at least
    ``min_product_reviews`` training reviews also gets its own copy of the features ("frustratingly easy
    domain adaptation", Daumé III 2007): "薄" is praise for a laptop and a complaint about a towel."""

    def __init__(
        self,
        char_ngrams: int = 3,
        words: bool = True,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        per_product: bool = True,
        min_product_reviews: int = 200,
        max_features: int = 300_000,
    ) -> None:
        self.char_ngrams = char_ngrams
        self.words = words
        self.C = C
        self.class_weight = class_weight
        self.per_product = per_product
        self.min_product_reviews = min_product_reviews
        self.max_features = max_features

    def fit(self, X: Sequence[Sample], y: Sequence[str]) -> Self:
        texts = [text for text, _ in X]
        self.chars_ = TfidfVectorizer(
            analyzer="char",
            ngram_range=(1, self.char_ngrams),
            sublinear_tf=True,
            min_df=2,
            max_features=self.max_features,
            dtype=np.float32,
        )
        parts = [self.chars_.fit_transform(texts)]
        self.words_ = None
        if self.words:
            self.words_ = TfidfVectorizer(
                analyzer=word_terms,
                sublinear_tf=True,
                min_df=2,
                max_features=self.max_features,
                dtype=np.float32,
            )
            parts.append(self.words_.fit_transform(texts))
        counts: dict[str, int] = {}
        for _, product in X:
            counts[product] = counts.get(product, 0) + 1
        products = sorted(p for p, n in counts.items() if p and n >= self.min_product_reviews)
        self.products_ = {p: i for i, p in enumerate(products)} if self.per_product else {}
        self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=3000)
        self.model_.fit(self._with_products(sparse.hstack(parts, format="csr"), X), np.asarray(y))
        self.classes_ = self.model_.classes_
        self.vocabulary_ = np.concatenate(
            [self.chars_.get_feature_names_out()]
            + ([self.words_.get_feature_names_out()] if self.words_ is not None else [])
        )
        return self

    def _with_products(self, features: sparse.csr_matrix, X: Sequence[Sample]) -> sparse.csr_matrix:
        """[shared features | the same features again in the product's own block]; rows of products
        without a block leave it empty."""
        if not self.products_:
            return features
        width = features.shape[1]
        block = np.array([self.products_.get(product, -1) for _, product in X])
        per_row = np.diff(features.indptr)
        entry_block = np.repeat(block, per_row)
        keep = entry_block >= 0
        own = sparse.csr_matrix(
            (
                features.data[keep],
                features.indices[keep] + entry_block[keep] * width,
                np.concatenate([[0], np.cumsum(per_row * (block >= 0))]),
            ),
            shape=(features.shape[0], width * len(self.products_)),
        )
        return sparse.hstack([features, own], format="csr")

    def _shared_features(self, X: Sequence[Sample]) -> sparse.csr_matrix:
        check_is_fitted(self, "model_")
        texts = [text for text, _ in X]
        parts = [self.chars_.transform(texts)]
        if self.words_ is not None:
            parts.append(self.words_.transform(texts))
        return sparse.hstack(parts, format="csr")

    def predict_proba(self, X: Sequence[Sample]) -> Probabilities:
        return np.asarray(self.model_.predict_proba(self._with_products(self._shared_features(X), X)))

    def predict(self, X: Sequence[Sample]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def explain(self, X: Sequence[Sample], top: int = 5) -> list[Explanation]:
        """The words that drove each decision, by occlusion: how much the predicted label's probability
        falls when the word is taken out of the text. Words, not the character n-grams the model weighs
        ("慢" and "太慢" are features; "太慢了" is what the customer wrote)."""
        probabilities = self.predict_proba(X)
        variants: list[Sample] = []
        spans: list[tuple[int, str, int]] = []  # (text index, word, its variant's row)
        for i, (text, product) in enumerate(X):
            position = 0
            for word in jieba.lcut(text):
                start, position = position, position + len(word)
                if _TERM.search(word) and word.strip():
                    spans.append((i, word.strip(), len(variants)))
                    variants.append((text[:start] + " " + text[position:], product))
        without = self.predict_proba(variants) if variants else np.zeros((0, len(self.classes_)))
        found: list[dict[str, float]] = [{} for _ in X]
        for i, word, row in spans:
            label = int(probabilities[i].argmax())
            drop = float(probabilities[i, label] - without[row, label])
            if drop > 0:
                found[i][word] = max(drop, found[i].get(word, 0.0))
        return [
            [(word, round(drop, 4)) for word, drop in sorted(words.items(), key=lambda item: -item[1])[:top]]
            for words in found
        ]


class EmbeddingSentimentClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Logistic regression on E5 embeddings, fitted on at most ``max_samples`` reviews (stratified): a
    linear model on 384 dimensions is close to its best after a few thousand, and embedding more costs
    ~26 ms each."""

    def __init__(
        self,
        embedder: SharedEmbedder | None = None,
        C: float = 10.0,
        max_samples: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.embedder = embedder
        self.C = C
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: Sequence[Sample], y: Sequence[str]) -> Self:
        assert self.embedder is not None, "EmbeddingSentimentClassifier needs an embedder"
        samples, labels = embedding_sample(X, np.asarray(y), self.max_samples, self.random_state)
        self.model_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000)
        self.model_.fit(self.embedder([text for text, _ in samples]), labels)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: Sequence[Sample]) -> Probabilities:
        check_is_fitted(self, "model_")
        assert self.embedder is not None
        return np.asarray(self.model_.predict_proba(self.embedder([text for text, _ in X])))

    def predict(self, X: Sequence[Sample]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


class BlendSentimentClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Weighted average of the n-gram and embedding models' probabilities."""

    def __init__(
        self,
        ngram: NgramSentimentClassifier | None = None,
        embedding: EmbeddingSentimentClassifier | None = None,
        ngram_weight: float = 0.5,
    ) -> None:
        self.ngram = ngram
        self.embedding = embedding
        self.ngram_weight = ngram_weight

    def fit(self, X: Sequence[Sample], y: Sequence[str]) -> Self:
        assert self.ngram is not None
        assert self.embedding is not None
        self.ngram_ = clone(self.ngram).fit(X, y)
        self.embedding_ = clone(self.embedding).fit(X, y)
        self.classes_ = self.ngram_.classes_
        return self

    def predict_proba(self, X: Sequence[Sample]) -> Probabilities:
        check_is_fitted(self, "ngram_")
        return blend(self.ngram_.predict_proba(X), self.embedding_.predict_proba(X), self.ngram_weight)

    def predict(self, X: Sequence[Sample]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def explain(self, X: Sequence[Sample], top: int = 5) -> list[Explanation]:
        explanations: list[Explanation] = self.ngram_.explain(X, top)
        return explanations


def blend(ngram: Probabilities, embedding: Probabilities, ngram_weight: float) -> Probabilities:
    return ngram_weight * ngram + (1 - ngram_weight) * embedding


def stratified_rows(
    labels: npt.NDArray[Any], size: int | None, random_state: int = 0
) -> npt.NDArray[np.int64]:
    """Indices of at most ``size`` rows, stratified by label, in order; the same rows for the same input."""
    if size is None or len(labels) <= size:
        return np.arange(len(labels))
    keep, _ = train_test_split(
        np.arange(len(labels)), train_size=size, stratify=labels, random_state=random_state
    )
    return np.sort(np.asarray(keep, dtype=np.int64))


def embedding_sample(
    X: Sequence[Sample], y: npt.NDArray[Any], size: int | None, random_state: int = 0
) -> tuple[list[Sample], npt.NDArray[Any]]:
    """At most ``size`` reviews, stratified by label, so the embedding cost is bounded."""
    rows = stratified_rows(y, size, random_state)
    return [X[i] for i in rows], y[rows]


PROTOTYPES: dict[str, tuple[str, ...]] = {
    "negative": (
        "差评，很不满意，很失望",
        "质量太差了，再也不会买了",
        "negative review, very disappointed, terrible",
    ),
    "positive": (
        "好评，非常满意，很喜欢",
        "质量很好，下次还会再买",
        "positive review, very satisfied, great",
    ),
}


class ZeroShotSentimentClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Cosine to prototype sentences in both languages: what works before any review is labelled
    (waimai_10k test: accuracy 0.858). Clearly a baseline; train a model as soon as there are labels."""

    def __init__(self, embedder: SharedEmbedder | None = None, temperature: float = 0.02) -> None:
        self.embedder = embedder
        self.temperature = temperature

    def fit(self, X: Sequence[Sample] | None = None, y: Sequence[str] | None = None) -> Self:
        assert self.embedder is not None
        self.classes_ = np.asarray(sorted(PROTOTYPES))
        self.prototypes_ = np.stack([self.embedder(PROTOTYPES[c]).mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X: Sequence[Sample]) -> Probabilities:
        check_is_fitted(self, "prototypes_")
        assert self.embedder is not None
        scores = self.embedder([text for text, _ in X]) @ self.prototypes_.T / self.temperature
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float64)

    def predict(self, X: Sequence[Sample]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


def set_embedder(model: BaseEstimator, embedder: SharedEmbedder) -> None:
    """Re-attach the running embedder to a model loaded from storage (pickling left it out)."""
    for estimator in (model, getattr(model, "embedding_", None), getattr(model, "embedding", None)):
        if estimator is not None and hasattr(estimator, "embedder"):
            estimator.embedder = embedder
