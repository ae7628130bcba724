"""The sample knowledge bases' golden sets in customers' words are measured on and fitted on, so a wrong
expected answer would quietly move every figure: each one must be stated by a document it names."""

from __future__ import annotations

from pathlib import Path

import pytest

import zhiwen
from zhiwen.services.lifecycle.golden import GoldenItem, load_golden, split_of

SAMPLES = Path(zhiwen.__file__).parent
SETS = [
    *(
        SAMPLES / sample / name
        for sample in ("sample_bank", "sample_telecom")
        for name in ("customers.jsonl", "conversations.jsonl")
    ),
    *(SAMPLES / sample / "switches.jsonl" for sample in ("sample_kb", "sample_bank", "sample_telecom")),
]


@pytest.mark.parametrize("path", SETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_expected_answer_is_stated_by_a_document_it_names(path: Path) -> None:
    documents = {p.name: p.read_text(encoding="utf-8") for p in (path.parent / "docs").iterdir()}
    items = load_golden(path)
    unstated = [
        (item.question, item.expected_answers)
        for item in items
        if item.answerable
        and not any(
            answer in documents[name] for answer in item.expected_answers for name in item.expected_documents
        )
    ]
    assert not unstated
    assert all(name in documents for item in items for name in item.expected_documents)


@pytest.mark.parametrize("path", SETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_set_has_both_halves_and_near_misses(path: Path) -> None:
    items: list[GoldenItem] = load_golden(path)
    halves = {split_of(item.split_key) for item in items}
    assert halves == {"tune", "held_out"}
    # Most turns of a conversation answer; a switch's first turn always does.
    near_misses = {"customers.jsonl": 0.25, "conversations.jsonl": 0.19}.get(path.name, 0.15)
    assert sum(not item.answerable for item in items) / len(items) >= near_misses
    assert len({item.question for item in items}) == len(items) or "customers" not in path.name
