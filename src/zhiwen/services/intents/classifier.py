"""The intent classifier: character and word n-grams and the bundled E5 embeddings, each with a logistic
regression, blended by a weight chosen by cross-validation.

The two views fail differently: n-grams catch the exact wording of short commands ("转人工", "thanks"),
embeddings catch paraphrases that share no words. On BANKING77 each alone scores about 0.92 and the blend
0.93 (docs/benchmarks.md). A message whose best probability is below ``threshold_`` is out of scope: it
belongs to no intent and goes to the knowledge base.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn import config_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from zhiwen.services.reviews.sentiment_models import word_terms

Probabilities = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]


def _ngrams(examples: int) -> TfidfVectorizer:
    """Character 1-4-grams; those seen once are noise in a big set but all there is in a tiny one."""
    min_df = 2 if examples >= 50 else 1
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=min_df)


def _words() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=word_terms, sublinear_tf=True)


class IntentClassifier:
    """``fit(texts, vectors, labels)`` then ``predict_proba(texts, vectors)``; ``weight`` is the n-gram
    model's share of the blend (1.0: n-grams only, 0.0: embeddings only). The regularisation defaults were
    chosen on a validation fifth of BANKING77's training split (never its test split)."""

    def __init__(self, weight: float = 0.5, ngram_c: float = 30.0, embedding_c: float = 50.0) -> None:
        self.weight = weight
        self.ngram_c = ngram_c
        self.embedding_c = embedding_c
        self.threshold_ = 0.0

    def get_params(self) -> dict[str, Any]:
        return {"weight": self.weight, "ngram_c": self.ngram_c, "embedding_c": self.embedding_c}

    def fit(self, texts: Sequence[str], vectors: Vectors, labels: Sequence[str]) -> Self:
        if len(set(labels)) < 2:
            raise ValueError("an intent model needs at least two intents")
        self.classes_ = np.array(sorted(set(labels)))
        y = np.searchsorted(self.classes_, np.asarray(labels))
        self.ngram_model_: LogisticRegression | None = None
        self.embedding_model_: LogisticRegression | None = None
        if self.weight > 0:
            self.vectorizers_ = (_ngrams(len(texts)), _words())
            features = sparse.hstack([v.fit_transform(texts) for v in self.vectorizers_]).tocsr()
            self.ngram_model_ = LogisticRegression(C=self.ngram_c, max_iter=1000).fit(features, y)
        if self.weight < 1:
            self.embedding_model_ = LogisticRegression(C=self.embedding_c, max_iter=1000).fit(vectors, y)
        return self

    def views(self, texts: Sequence[str], vectors: Vectors) -> tuple[Probabilities, Probabilities]:
        """Each view's probabilities over ``classes_`` (zeros for a view the weight leaves out)."""
        empty = np.zeros((len(texts), len(self.classes_)))
        ngram, embedding = empty, empty
        if self.ngram_model_ is not None:
            features = sparse.hstack([v.transform(texts) for v in self.vectorizers_]).tocsr()
            ngram = _spread(self.ngram_model_, features, len(self.classes_))
        if self.embedding_model_ is not None:
            embedding = _spread(self.embedding_model_, vectors, len(self.classes_))
        return ngram, embedding

    def predict_proba(self, texts: Sequence[str], vectors: Vectors) -> Probabilities:
        # scikit-learn's input checks cost more than the prediction itself for one message
        with config_context(assume_finite=True, skip_parameter_validation=True):
            ngram, embedding = self.views(texts, vectors)
        return blend(ngram, embedding, self.weight)

    def predict(self, texts: Sequence[str], vectors: Vectors) -> npt.NDArray[Any]:
        predicted: npt.NDArray[Any] = self.classes_[self.predict_proba(texts, vectors).argmax(axis=1)]
        return predicted


def blend(ngram: Probabilities, embedding: Probabilities, weight: float) -> Probabilities:
    return weight * ngram + (1 - weight) * embedding


def _spread(model: LogisticRegression, features: Any, classes: int) -> Probabilities:
    """Probabilities in the columns of all classes (a fold may lack a rare class)."""
    out = np.zeros((features.shape[0], classes))
    out[:, model.classes_] = model.predict_proba(features)
    return out
