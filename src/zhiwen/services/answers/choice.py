"""Which retrieved passage answers the question.

Retrieval ranks passages by how much they are *about* the question; the one that *answers* it is often second
or third. Measured on the demo shop's questions in customers' own words: the passage holding the fact was
among the top five for 94 % of the answerable questions but first for only 76 %, and an answer composed from
the first passage was right 96 % of the time when the fact was there and 15 % when it was further down.

So each of the top passages becomes an :class:`Option` (its best sentence and what speaks for it: retrieval
scores, how much of the question it covers, the rarest question term it lacks, whether it states the kind of
quantity asked for, how close its best sentence is in meaning), and a linear ranker over those features (the
bundled one was fitted on the tuning halves of the demo shop's golden sets; ``zhiwen calibrate`` fits one
for a workspace) picks the passage most likely to answer. The confidence model then judges that choice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from zhiwen.errors import InvalidInput
from zhiwen.services.answers.confidence import FEATURES, LogisticModel, Matrix
from zhiwen.services.answers.extract import Extract, asked_type, extracts_by_hit
from zhiwen.services.answers.followup import Understood
from zhiwen.services.knowledge.retrieve import Retrieval
from zhiwen.text.normalize import detect_language
from zhiwen.text.tokenize import char_bigrams, keyword_tokens, names_a_topic, read_terms, squeezed

CHOICE_FEATURES = (
    "rank",  # in retrieval's order (not its scores: a trained re-ranker puts those on another scale)
    "vector",  # cosine of the question and the passage
    "vector_below_best",
    "vector_over_background",  # … above lower-ranked candidates' (E5 cosines are compressed)
    "keyword_share",  # BM25 relative to the best hit's
    "keyword_hit",
    "answer_support",  # the best sentence's score in the extractor (term overlap, quantity asked)
    "states_quantity",  # the best sentence states the kind of quantity asked (a price for "多少钱")
    "asks_quantity",
    "coverage",  # IDF-weighted share of the (understood) question's terms found in the passage
    "coverage_own",  # … of this message's own terms (a follow-up's new words must be answered)
    "unknown_terms",  # share of the question's terms that occur nowhere in the knowledge
    "any_unknown",
    "rarest_missing",  # weight of the rarest question term the passage lacks, relative to the rarest
    "missing_share",
    "is_faq",
    "same_language",
    "same_document",  # as the best-ranked hit
    "bigram_recall",  # share of the message's character bigrams found in the passage
    "question_length",
    "sentence",  # cosine of the question and the passage's closest sentence
    "sentence_below_best",
)
MAX_QUESTION_CHARS = 100  # "question_length" saturates here


PAIRWISE, POINTWISE = "pairwise", "pointwise"


@dataclass
class ChoiceModel(LogisticModel):
    """Which of one question's passages answers it (:data:`CHOICE_FEATURES`).

    Fitted on pairs of passages of the same question, one that answers and one that does not (a linear
    ranker, as RankNet or RankSVM with a logistic loss). Fitted passage by passage instead (the ``pointwise``
    form, which releases made before it keep), the model also learned which *questions* get answered at all
    (unknown words, follow-ups), which is the confidence model's job, and leaned on retrieval's rank: the
    README's own "扫地机器人保修多久？" got the maintenance passage ranked first over the warranty one ranked
    third. On the telecom knowledge base, which nothing was fitted on, the pairwise chooser picks a right
    passage for 0.69 of answerable questions, the pointwise one for 0.66 (docs/benchmarks.md).
    """

    FEATURE_NAMES: ClassVar[tuple[str, ...]] = CHOICE_FEATURES
    form: str = PAIRWISE

    def fit(
        self, features: Matrix, correct: npt.NDArray[np.int_], questions: npt.NDArray[np.int_] | None = None
    ) -> ChoiceModel:
        """``questions``: which question each row (passage) belongs to; only passages of one question are
        compared."""
        if questions is None:
            raise ValueError("the chooser is fitted on passages grouped by question: pass `questions`")
        self.mean_ = features.mean(axis=0)
        self.scale_ = np.where(features.std(axis=0) > 1e-9, features.std(axis=0), 1.0)
        scaled = (features - self.mean_) / self.scale_
        differences = [
            scaled[right] - scaled[wrong]
            for question in np.unique(questions)
            for rows in [np.flatnonzero(questions == question)]
            for right in rows[correct[rows] == 1]
            for wrong in rows[correct[rows] == 0]
        ]
        if not differences:
            raise InvalidInput(
                "fitting the chooser needs questions where one retrieved passage answers and another does "
                "not: add answerable questions to the golden set"
            )
        pairs = np.asarray(differences)
        both_ways = np.vstack([pairs, -pairs])
        labels = np.concatenate([np.ones(len(pairs), dtype=int), np.zeros(len(pairs), dtype=int)])
        model = LogisticRegression(C=self.C, max_iter=2000, fit_intercept=False).fit(both_ways, labels)
        self.coef_ = model.coef_[0].astype(np.float64)
        self.intercept_ = 0.0
        self.form = PAIRWISE
        self.fitted_on_ = len(features)
        return self

    def scores(self, features: Matrix) -> npt.NDArray[np.float64]:
        """Each of one question's passages' score, the confidence model's ``choice``: its share of the
        softmax over the passages (pairwise form), or P(right) of the passage alone (pointwise form)."""
        if self.form == POINTWISE:
            return self.predict_proba(features)
        logits = self.logits(features)
        shares = np.exp(logits - logits.max())
        return np.asarray(shares / shares.sum(), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "form": self.form}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChoiceModel:
        model = super().from_dict(data)
        model.form = str(data.get("form", POINTWISE))
        if model.form not in (PAIRWISE, POINTWISE):
            raise ValueError(f"unknown chooser form {model.form!r}")
        return model


DEFAULT_CHOICE_FILE = "default_choice.json"


@cache
def default_choice() -> ChoiceModel:
    """Fitted on the tuning halves of the demo shop's golden sets (`make calibrate-default`)."""
    text = (
        resources.files("zhiwen.services.answers").joinpath(DEFAULT_CHOICE_FILE).read_text(encoding="utf-8")
    )
    return ChoiceModel.from_dict(json.loads(text))


@dataclass(frozen=True)
class Option:
    """One retrieved passage as a possible answer."""

    extract: Extract
    features: list[float]  # :data:`CHOICE_FEATURES`


@dataclass(frozen=True)
class Choice:
    options: list[Option]  # in the retrieval's order
    scores: list[float]  # the chooser's score of each option (:meth:`ChoiceModel.scores`)
    best: int  # the chosen option's index

    @property
    def chosen(self) -> Option:
        return self.options[self.best]

    def confidence_features(self) -> list[float]:
        return confidence_features(self.chosen.features, self.scores, self.best)


def confidence_features(chosen: Sequence[float], scores: Sequence[float], best: int) -> list[float]:
    """The features :class:`zhiwen.services.answers.confidence.ConfidenceModel` judges a choice by (its
    :data:`~zhiwen.services.answers.confidence.FEATURES`): the chosen passage's (``chosen``, in
    :data:`CHOICE_FEATURES`' order), and the choice's own from the chooser's ``scores`` of every passage."""
    named = dict(zip(CHOICE_FEATURES, chosen, strict=True))
    runner_up = max((s for i, s in enumerate(scores) if i != best), default=0.0)
    named.update(choice=scores[best], choice_margin=scores[best] - runner_up)
    return [named[name] for name in FEATURES]


# When nothing was retrieved: nothing covered, everything unknown.
NO_HITS_FEATURES = [
    1.0 if name in ("unknown_terms", "any_unknown", "rarest_missing") else 0.0 for name in FEATURES
]


def options(understood: Understood, retrieval: Retrieval, language: str) -> list[Option]:
    """Every retrieved passage as an :class:`Option` for the question as understood."""
    hits = retrieval.hits
    if not hits:
        return []
    query = understood.text
    weights = retrieval.term_weights
    emphasis = understood.emphasis(weights) if understood.is_follow_up else None
    turns = [segment.text for segment in understood.segments]
    extracts = extracts_by_hit(query, hits, weights, emphasis=emphasis, language=language, turns=turns)
    terms = _asked_terms(query, weights)
    own_terms = _asked_terms(understood.question, weights)
    rarest = max(weights.values(), default=1.0)
    # Terms the knowledge has never seen weigh as much as its rarest: a question about something the
    # knowledge lacks covers little.
    term_weights = {t: weights.get(t, rarest) for t in (*terms, *own_terms)}
    cosines = sorted((c.vector for c in retrieval.candidates if c.vector is not None), reverse=True)
    background = float(np.mean(cosines[4:20])) if len(cosines) > 4 else (cosines[-1] if cosines else 0.0)
    vectors = [h.vector_score if h.vector_score is not None else background for h in hits]
    sentences = [retrieval.sentence_scores.get(h.chunk.id, v) for h, v in zip(hits, vectors, strict=True)]
    best_keyword = max((h.keyword_score or 0.0) for h in hits) or 1.0
    unknown = sum(1 for t in terms if t not in weights) / len(terms) if terms else 1.0
    asks_quantity = asked_type(turns) is not None
    result = []
    for rank, (hit, extract) in enumerate(zip(hits, extracts, strict=True)):
        text = f"{hit.document_title} {hit.chunk.title_path} {hit.chunk.question or ''} {hit.chunk.text}"
        found = _found(term_weights, text)
        missing = [term_weights[t] for t in terms if t not in found]
        named = {
            "rank": float(rank),
            "vector": vectors[rank],
            "vector_below_best": vectors[rank] - max(vectors),
            "vector_over_background": vectors[rank] - background,
            "keyword_share": (hit.keyword_score or 0.0) / best_keyword,
            "keyword_hit": 1.0 if hit.keyword_score is not None else 0.0,
            "answer_support": extract.score,
            "states_quantity": 1.0 if extract.states_quantity else 0.0,
            "asks_quantity": 1.0 if asks_quantity else 0.0,
            "coverage": _share(terms, term_weights, found),
            "coverage_own": _share(own_terms, term_weights, found),
            "unknown_terms": unknown,
            "any_unknown": 1.0 if unknown > 0 else 0.0,
            "rarest_missing": max(missing, default=0.0) / rarest,
            "missing_share": sum(missing) / max(sum(term_weights[t] for t in terms), 1e-9),
            "is_faq": 1.0 if hit.chunk.kind == "faq" else 0.0,
            "same_language": 1.0 if detect_language(hit.chunk.text) == language else 0.0,
            "same_document": 1.0 if hit.chunk.document_id == hits[0].chunk.document_id else 0.0,
            "bigram_recall": _bigram_recall(understood.question, text),
            "question_length": min(len(understood.question), MAX_QUESTION_CHARS) / MAX_QUESTION_CHARS,
            "sentence": sentences[rank],
            "sentence_below_best": sentences[rank] - max(sentences),
        }
        features = [named[name] for name in CHOICE_FEATURES]
        result.append(Option(extract, features))
    return result


def choose(candidates: Sequence[Option], model: ChoiceModel) -> Choice:
    matrix: Matrix = np.asarray([o.features for o in candidates], dtype=np.float64)
    scores = model.scores(matrix).tolist()
    return Choice(list(candidates), scores, int(np.argmax(scores)))


def _asked_terms(question: str, weights: Mapping[str, float]) -> list[str]:
    """The question's terms as the knowledge knows them (:func:`read_terms`), less the words the knowledge
    lacks that name no topic ("一个月", "自己"): those say nothing of whether it holds the answer."""
    terms = read_terms(keyword_tokens(question), weights)
    return [t for t in terms if t in weights or names_a_topic(t)] or terms


def _found(terms: Iterable[str], text: str) -> set[str]:
    """The question terms ``text`` contains; Chinese terms match as substrings, robust to segmentation."""
    lowered = text.lower()
    tokens = set(keyword_tokens(text))
    return {t for t in terms if t in tokens or (not t.isascii() and t in lowered)}


def _share(terms: Sequence[str], weights: Mapping[str, float], found: set[str]) -> float:
    """IDF-weighted share of ``terms`` that were found."""
    total = sum(weights[t] for t in terms)
    return sum(weights[t] for t in terms if t in found) / total if total else 0.0


def _bigram_recall(question: str, text: str) -> float:
    """Share of the question's character bigrams found in ``text``."""
    bigrams = char_bigrams(squeezed(question))
    within = squeezed(text)
    return sum(1 for b in bigrams if b in within) / max(1, len(bigrams))
