"""Releases freeze what answers; the gate refuses regressions; rollback is instant; answering never stops."""

from __future__ import annotations

import threading
import time

import pytest

from zhiwen.errors import Conflict, GateRefused, InvalidInput, NotFound
from zhiwen.types import Workspace
from zhiwen.wiring import Services

Demo = tuple[Services, Workspace]
NEW_POLICY = "# Gift wrapping\n\nGift wrapping costs 8 yuan per parcel and is available for all orders.\n"


def test_a_release_freezes_the_knowledge_so_ingestion_builds_the_next_one_without_disturbing_it(
    demo_copy: Demo,
) -> None:
    services, workspace = demo_copy
    first, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, first.number, "test")
    services.ingest.ingest_bytes(workspace.id, "gift-wrap.md", NEW_POLICY.encode())
    services.embedding_worker.run_until_done()

    live = services.answerer.answer(workspace.id, "How much does gift wrapping cost?")
    working = services.answerer.answer(
        workspace.id, "How much does gift wrapping cost?", target=services.targets.working(workspace.id)
    )
    assert live.release == first.number
    assert all(c.source != "gift-wrap.md" for c in live.citations)
    assert working.citations[0].source == "gift-wrap.md"
    assert "gift-wrap.md" not in first.manifest["documents"]

    second, _ = services.releases.create(workspace.id, "test", "demo")
    assert "gift-wrap.md" in second.manifest["documents"]
    services.releases.promote(workspace.id, second.number, "test")
    answer = services.answerer.answer(workspace.id, "How much does gift wrapping cost?")
    assert answer.release == second.number and answer.citations[0].source == "gift-wrap.md"
    assert not answer.citations[0].document_id.count("@"), "citations name the working document id"


def test_the_gate_refuses_a_release_that_hands_off_too_eagerly_and_names_what_fell(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    good, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, good.number, "test")
    broken, run = services.releases.create(workspace.id, "test", "demo", {"handoff_below": "0.97"})
    assert run is not None and run.summary["settings"]["handoff_below"] == 0.97

    with pytest.raises(GateRefused) as refused:
        services.releases.promote(workspace.id, broken.number, "test")
    failures = refused.value.details["failures"]  # type: ignore[index]
    assert any(" fell from " in f and "(release 1)" in f for f in failures)  # what fell, from what
    assert refused.value.details["worse_questions"]
    assert services.releases.live(workspace.id).number == good.number  # type: ignore[union-attr]
    assert services.releases.history(workspace.id)[0]["action"] == "refused"


def test_workspace_thresholds_refuse_a_release_below_the_minimum(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    services.releases.set_gate_policy(workspace.id, {"answer_accuracy": 0.99}, None)
    release, _ = services.releases.create(workspace.id, "test", "demo")
    result = services.releases.check(workspace.id, release.number)
    assert not result.passed and "below the minimum 0.990" in result.failures[0]


def test_rollback_returns_to_an_earlier_release_and_answers_say_which_release_answered(
    demo_copy: Demo,
) -> None:
    services, workspace = demo_copy
    one, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, one.number, "test")
    two, _ = services.releases.create(workspace.id, "test", "demo", {"top_k": "6"})
    services.releases.promote(workspace.id, two.number, "test")
    assert services.answerer.answer(workspace.id, "积分的有效期是多久？").release == 2

    assert services.releases.rollback(workspace.id, "test").number == 1
    assert services.answerer.answer(workspace.id, "积分的有效期是多久？").release == 1
    assert services.releases.rollback(workspace.id, "test", 2).number == 2
    with pytest.raises(NotFound):
        services.releases.rollback(workspace.id, "test", 9)
    three, _ = services.releases.create(workspace.id, "test", "demo")
    with pytest.raises(Conflict, match="never been live"):  # the ungated way back never goes forward
        services.releases.rollback(workspace.id, "test", three.number)


def test_answering_never_fails_while_releases_are_promoted_and_rolled_back(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    one, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, one.number, "test")
    two, _ = services.releases.create(workspace.id, "test", "demo", {"top_k": "6"})
    errors: list[BaseException] = []
    seen: set[int | None] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answer = services.answerer.answer(workspace.id, "退货运费谁出？", record=False)
                assert answer.text
                seen.add(answer.release)
            except BaseException as error:
                errors.append(error)
                return

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for thread in askers:
        thread.start()
    for _ in range(5):
        services.releases.promote(workspace.id, two.number, "test")
        time.sleep(0.05)
        services.releases.rollback(workspace.id, "test", one.number)
        time.sleep(0.05)
    stop.set()
    for thread in askers:
        thread.join()
    assert not errors
    assert seen <= {1, 2} and seen


def test_pruning_frees_old_releases_knowledge_but_never_the_live_or_newest(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    for _ in range(3):
        services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, 1, "test")
    chunks_before = services.documents.count_chunks(services.releases.get(workspace.id, 2).knowledge_id)

    assert services.releases.prune(workspace.id, "test", keep=1) == [2]
    assert chunks_before > 0
    assert services.documents.count_chunks(services.releases.get(workspace.id, 2).knowledge_id) == 0
    assert services.answerer.answer(workspace.id, "积分的有效期是多久？").release == 1
    with pytest.raises(InvalidInput, match="pruned"):
        services.releases.rollback(workspace.id, "test", 2)
    with pytest.raises(InvalidInput, match="pruned"):
        services.targets.of_release(services.releases.get(workspace.id, 2))
    assert services.releases.prune(workspace.id, "test", keep=1) == []
    assert services.releases.history(workspace.id)[0]["action"] == "prune"


def test_a_release_with_a_missing_golden_set_or_bad_setting_freezes_nothing(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    with pytest.raises(NotFound):
        services.releases.create(workspace.id, "test", "no-such-set")
    with pytest.raises(InvalidInput, match="top_k"):
        services.releases.create(workspace.id, "test", "demo", {"top_k": "0"})
    with pytest.raises(InvalidInput, match="unknown setting"):
        services.releases.create(workspace.id, "test", "demo", {"fusion": "rrf"})
    assert services.releases.list_releases(workspace.id) == []
