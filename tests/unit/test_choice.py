"""The chooser: which of one question's retrieved passages answers it."""

from __future__ import annotations

import numpy as np
import pytest

from zhiwen.errors import InvalidInput
from zhiwen.services.answers.choice import CHOICE_FEATURES, ChoiceModel, default_choice
from zhiwen.services.answers.confidence import FEATURES, WORD_MATCHES, ConfidenceModel

COVERAGE, RANK = CHOICE_FEATURES.index("coverage_own"), CHOICE_FEATURES.index("rank")


def _questions(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Five passages a question. The one that answers covers the question best; it is ranked anywhere.
    Questions that have an answer at all are mostly ranked-first ones, so, passage by passage, rank looks
    like what decides."""
    rng = np.random.default_rng(seed)
    rows, labels, questions = [], [], []
    for q in range(n):
        features = rng.normal(size=(5, len(CHOICE_FEATURES)))
        features[:, RANK] = np.arange(5)
        right = int(rng.integers(5)) if q % 2 else -1  # half the questions: nothing answers
        if right >= 0:
            features[right, COVERAGE] = features[:, COVERAGE].max() + 1.0
        rows.append(features)
        labels.extend(int(i == right) for i in range(5))
        questions.extend([q] * 5)
    return np.vstack(rows), np.asarray(labels), np.asarray(questions)


def test_the_chooser_learns_what_sets_the_answering_passage_apart_within_a_question() -> None:
    x, y, q = _questions(400)
    model = ChoiceModel().fit(x, y, q)
    named = dict(zip(CHOICE_FEATURES, model.coef_ if model.coef_ is not None else [], strict=True))
    assert named["coverage_own"] > 3 * max(abs(v) for k, v in named.items() if k != "coverage_own")
    test_x, test_y, test_q = _questions(200, seed=8)
    picked = [
        test_y[test_q == question][int(np.argmax(model.scores(test_x[test_q == question])))]
        for question in np.unique(test_q[test_y == 1])
    ]
    assert np.mean(picked) > 0.95
    shares = model.scores(test_x[:5])
    assert shares.sum() == pytest.approx(1.0) and (shares > 0).all()


def test_the_chooser_needs_questions_with_a_right_and_a_wrong_passage() -> None:
    x, y, q = _questions(10)
    with pytest.raises(InvalidInput, match="one retrieved passage answers and another does not"):
        ChoiceModel().fit(x, np.zeros_like(y), q)
    with pytest.raises(ValueError, match="grouped by question"):
        ChoiceModel().fit(x, y)


def test_a_chooser_frozen_passage_by_passage_scores_as_it_did() -> None:
    """Releases made before the pairwise chooser keep theirs: P(right) of each passage alone."""
    stored = default_choice().to_dict()
    stored.pop("form")
    old = ChoiceModel.from_dict(stored)
    x, _, _ = _questions(1)
    assert old.form == "pointwise"
    assert old.scores(x) == pytest.approx(old.predict_proba(x))
    assert ChoiceModel.from_dict(old.to_dict()).form == "pointwise"
    with pytest.raises(ValueError, match="unknown chooser form"):
        ChoiceModel.from_dict({**stored, "form": "listwise"})


def test_features_that_cannot_be_read_count_neither_for_nor_against() -> None:
    """A passage in the other language shares none of the question's words: its word matches are unread,
    set to their mean in the fitting data, where the confidence neither rises nor falls with them."""
    rng = np.random.default_rng(0)
    features = rng.random((200, len(FEATURES)))
    coverage = FEATURES.index("coverage_own")
    right = (features[:, coverage] > 0.5).astype(int)
    model = ConfidenceModel().fit(features, right)
    uncovered = features[right == 0][:1]
    unread = model.unread(uncovered, WORD_MATCHES)
    assert unread[0, coverage] == pytest.approx(features[:, coverage].mean())
    assert model.predict_proba(uncovered)[0] < 0.2 < model.predict_proba(unread)[0]
    untouched = [i for i, name in enumerate(FEATURES) if name not in WORD_MATCHES]
    assert np.array_equal(unread[:, untouched], uncovered[:, untouched])
