"""The knowledge's language means, and questions moved by them to the other language's passages."""

from __future__ import annotations

import numpy as np
import pytest

from zhiwen.services.knowledge.languages import LanguageMeans


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_question_moved_to_the_other_language_is_as_close_to_its_passages_as_to_its_own() -> None:
    """Each language's passages share a direction (axis 2 for Chinese, 3 for English) beside the topic's
    (axes 0 and 1): the moved question keeps its topic and trades the direction of its language."""
    means = LanguageMeans({"zh": _unit(0.5, 0.5, 1, 0), "en": _unit(0.5, 0.5, 0, 1)})
    question = _unit(1, 0, 2, 0)  # a Chinese question about topic 0
    english_answer, chinese_other_topic = _unit(1, 0, 0, 1), _unit(0, 1, 1, 0)
    assert float(question @ english_answer) < float(question @ chinese_other_topic)
    moved = means.moved(question, "zh")
    assert moved is not None
    assert float(np.linalg.norm(moved)) == pytest.approx(1.0)
    assert float(moved @ english_answer) > float(moved @ chinese_other_topic)


@pytest.mark.parametrize("known", [{}, {"zh": _unit(1, 0)}, {"en": _unit(0, 1)}])
def test_a_knowledge_base_in_one_language_moves_no_question(known: dict[str, np.ndarray]) -> None:
    assert LanguageMeans(known).moved(_unit(1, 1), "zh") is None
    assert LanguageMeans(known).moved(_unit(1, 1), "en") is None
