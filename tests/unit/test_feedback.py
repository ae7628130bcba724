"""Feedback, the review queue, curated answers, and replaying what was answered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from zhiwen.adapters.embedders import BundledE5Embedder, OpenAICompatibleEmbedder
from zhiwen.config import Settings
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.ports import Embedder, Vector
from zhiwen.types import CURATED_SOURCE, Workspace
from zhiwen.wiring import Services, build_services

Demo = tuple[Services, Workspace]
UNKNOWN = ("可以用数字人民币付款吗？", "能用数字人民币支付吗？", "支持数字人民币吗", "你们有实体店吗？")


def test_feedback_keeps_everything_needed_to_replay_the_answer(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    answer = services.answerer.answer(workspace.id, "积分的有效期是多久？")
    services.feedback.give(workspace.id, answer.id, "like", "clear", by="test")
    record = services.feedback.answer_record(workspace.id, answer.id)
    stored = record["answer"]
    assert isinstance(stored, dict) and stored["question"] == "积分的有效期是多久？"
    assert stored["confidence"] == answer.confidence and stored["handoff"] is False
    retrieved = record["retrieved"]
    assert isinstance(retrieved, list) and {"chunk_id", "score", "keyword_score", "vector_score"} <= set(
        retrieved[0]
    )
    assert [f["rating"] for f in record["feedback"]] == ["like"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answer_id", "rating", "error"),
    [("ans_missing", "like", NotFound), ("", "dislike", NotFound), ("x", "meh", InvalidInput)],
)
def test_bad_feedback_is_refused_and_nothing_is_stored(
    demo_copy: Demo, answer_id: str, rating: str, error: type[Exception]
) -> None:
    services, workspace = demo_copy
    with pytest.raises(error):
        services.feedback.give(workspace.id, answer_id, rating)
    answer = services.answerer.answer(workspace.id, "积分的有效期是多久？")
    with pytest.raises(InvalidInput):
        services.feedback.give(workspace.id, answer.id, "dislike", "x" * 5000)
    assert services.feedback.list_feedback(workspace.id) == []


def test_the_review_queue_groups_paraphrases_and_puts_the_most_frequent_first(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    answers = [services.answerer.answer(workspace.id, q) for q in UNKNOWN]
    assert all(a.handoff for a in answers)
    liked = services.answerer.answer(workspace.id, "积分的有效期是多久？")
    services.feedback.give(workspace.id, liked.id, "dislike", "too vague", "积分有效期为 12 个月。")
    queue = services.feedback.queue(workspace.id)
    assert queue[0]["count"] == 3 and set(queue[0]["questions"]) == set(UNKNOWN[:3])
    assert {g["questions"][0] for g in queue[1:]} == {UNKNOWN[3], "积分的有效期是多久？"}
    disliked = next(g for g in queue if g["dislikes"])
    assert disliked["correction"] == "积分有效期为 12 个月。" and disliked["comments"] == ["too vague"]


def test_an_approved_correction_is_answered_first_and_joins_the_golden_set(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    answers = [services.answerer.answer(workspace.id, q) for q in UNKNOWN[:3]]
    services.feedback.give(
        workspace.id, answers[0].id, "dislike", correction="支持，结账时选择数字人民币即可。"
    )
    curated = services.feedback.approve(workspace.id, answers[1].id, "agent-li", golden="demo")
    assert curated.answer == "支持，结账时选择数字人民币即可。" and curated.created_by == "agent-li"
    assert services.feedback.queue(workspace.id) == [], "the whole group is closed"

    working = services.targets.working(workspace.id)
    for question in ("能用数字人民币支付吗？", "可以用数字人民币付款吗"):
        answer = services.answerer.answer(workspace.id, question, target=working)
        assert answer.mode == "curated" and answer.text == curated.answer
        assert answer.citations[0].source == CURATED_SOURCE
        assert answer.citations[0].document_title == "客服团队的解答", "not the file's name"
    unrelated = services.answerer.answer(workspace.id, "积分的有效期是多久？", target=working)
    assert unrelated.mode != "curated"
    info, items = services.golden.items(workspace.id, "demo")
    assert info.version == 2 and items[-1].expected_answers == (curated.answer,)


def test_curated_answers_can_be_edited_disabled_and_deleted_with_who_and_when(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    working = services.targets.working(workspace.id)
    curated = services.curated.add(workspace.id, "可以开发票吗？", "可以，在订单页申请电子发票。", "agent-li")
    edited = services.curated.update(workspace.id, curated.id, "agent-wang", answer="可以，开具电子发票。")
    assert edited.updated_by == "agent-wang" and edited.created_by == "agent-li"
    assert edited.updated_at >= curated.created_at
    assert (
        services.answerer.answer(workspace.id, "可以开发票吗？", target=working).text
        == "可以，开具电子发票。"
    )

    services.curated.update(workspace.id, curated.id, "agent-wang", enabled=False)
    assert services.answerer.answer(workspace.id, "可以开发票吗？", target=working).mode != "curated"
    services.curated.delete(workspace.id, curated.id)
    assert services.curated.list_curated(workspace.id) == []
    assert services.documents.find_document(workspace.id, CURATED_SOURCE) is None
    with pytest.raises(InvalidInput):
        services.curated.add(workspace.id, " ", "answer", "x")
    with pytest.raises(NotFound):
        services.curated.update(workspace.id, "cur_missing", "x", enabled=True)


def test_feedback_on_a_rolled_back_release_replays_exactly(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    one, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, one.number, "test")
    answer = services.answerer.answer(workspace.id, "扫地机器人能连5G的WiFi吗？")
    services.curated.add(workspace.id, "扫地机器人能连5G的WiFi吗？", "不能，只支持 2.4 GHz。", "agent")
    two, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, two.number, "test")
    services.releases.rollback(workspace.id, "test", one.number)
    services.feedback.give(workspace.id, answer.id, "dislike", "wrong")

    stored = services.feedback.answer_record(workspace.id, answer.id)["answer"]
    assert isinstance(stored, dict) and stored["release"] == one.number
    again = services.answerer.answer(
        workspace.id,
        stored["question"],
        record=False,
        target=services.targets.of_release(services.releases.get(workspace.id, one.number)),
    )
    replayed = (again.text, again.mode, again.confidence)
    assert replayed == (stored["text"], stored["mode"], stored["confidence"])
    assert [c.chunk_id for c in again.citations] == [c["chunk_id"] for c in stored["citations"]]
    two_target = services.targets.of_release(two)
    assert services.answerer.answer(workspace.id, stored["question"], target=two_target).mode == "curated"


def test_dismissing_closes_whole_groups_and_unknown_answers_are_refused(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    answers = [services.answerer.answer(workspace.id, q) for q in UNKNOWN]
    with pytest.raises(NotFound):
        services.feedback.dismiss(workspace.id, [answers[0].id, "ans_missing"])
    assert services.feedback.dismiss(workspace.id, [answers[0].id, answers[3].id]) == 4
    assert services.feedback.queue(workspace.id) == []


def test_an_approved_answer_is_embedded_at_once_even_behind_a_big_upload(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    upload = "\n\n".join(f"## 第 {n} 条\n\n会员第 {n} 级的积分规则见会员手册。" for n in range(60))
    services.ingest.ingest_bytes(workspace.id, "manual.md", upload.encode())
    waiting = services.documents.count_chunks_needing_vectors(workspace.id)
    assert waiting >= 30

    curated = services.curated.add(
        workspace.id, "能用数字人民币支付吗？", "支持，结账时选择即可。", "agent-li"
    )
    assert services.documents.count_chunks_needing_vectors(workspace.id) == waiting, "the upload still waits"
    working = services.targets.working(workspace.id)
    answer = services.answerer.answer(workspace.id, "付款的时候可以选数字人民币吗", target=working)
    assert answer.mode == "curated" and answer.text == curated.answer


def test_a_curated_question_is_compared_unadapted_even_before_its_vector_is_stored(demo_copy: Demo) -> None:
    """The "same question" threshold holds for unadapted vectors; an entry still waiting for its vector
    (its embedding at approval failed, or another embedder holds it) is embedded on the spot the way the
    worker will store it."""
    services, workspace = demo_copy
    entry = {"question": "能用数字人民币支付吗？", "answer": "支持。"}
    result = services.ingest.ingest_bytes(workspace.id, "faq.jsonl", json.dumps(entry).encode())
    assert result.document_id is not None
    (chunk,) = services.documents.document_chunks(workspace.id, result.document_id)
    similarity = services.retriever.question_similarities
    waiting = similarity(workspace.id, "可以用数字人民币付款吗", [chunk.id])
    services.embedding_worker.run_until_done()
    stored = similarity(workspace.id, "可以用数字人民币付款吗", [chunk.id])
    assert abs(waiting[chunk.id] - stored[chunk.id]) < 0.002
    assert stored[chunk.id] >= services.targets.working(workspace.id).config.curated_match_above
    assert similarity(workspace.id, "积分的有效期是多久？", [chunk.id])[chunk.id] < 0.9


class CrashingEngine(BundledE5Embedder):
    def embed_passages(self, texts: Sequence[str]) -> Vector:
        raise RuntimeError("onnxruntime: failed to allocate memory")


def _server_down(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="overloaded")


@pytest.mark.parametrize(
    "embedder",
    [
        OpenAICompatibleEmbedder("http://127.0.0.1:9/v1", "e5", transport=httpx.MockTransport(_server_down)),
        CrashingEngine(),
    ],
    ids=["embeddings server answering 503", "embedding engine crashing"],
)
def test_a_curated_answer_is_kept_when_it_cannot_be_embedded_yet(tmp_path: Path, embedder: Embedder) -> None:
    services = build_services(Settings(data_dir=tmp_path), embedder=embedder)
    try:
        workspace = services.workspaces.create_workspace("w")
        curated = services.curated.add(workspace.id, "可以开发票吗？", "可以，在订单页申请。", "agent-li")
        assert services.curated.list_curated(workspace.id) == [curated]
        assert services.documents.count_chunks_needing_vectors(workspace.id) == 1, "left to the embedder"
        assert services.documents.vector_claim_holders() == set(), "its claim was handed back"
    finally:
        services.close()
