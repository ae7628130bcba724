"""Golden sets, evaluation runs, reports and comparisons, tuning and the learned re-ranker."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from zhiwen.adapters.llm import OpenAICompatibleLLM
from zhiwen.errors import InvalidInput, NotFound, TooLarge
from zhiwen.services.answers.service import AnswerLimits, AnswerService
from zhiwen.services.knowledge.rerank import Reranker
from zhiwen.services.lifecycle import report
from zhiwen.services.lifecycle.evaluate import (
    EvalService,
    exact_match,
    handoff_curve,
    retrieval_scores,
    summarise,
    token_f1,
)
from zhiwen.services.lifecycle.golden import split_of
from zhiwen.services.lifecycle.golden_sets import MAX_GOLDEN_BYTES
from zhiwen.stores.sqlite.evals import SqliteEvalStore
from zhiwen.types import EvalRun, Workspace
from zhiwen.wiring import Services

Demo = tuple[Services, Workspace]
CSV = (
    "question,expected_answer,expected_document,answerable,category\n"
    "积分的有效期是多久？,12 个月|一年,points-zh.md,true,points\n"
    "你们卖二手车吗？,,,false,out-of-scope\n"
)


def test_golden_sets_import_from_jsonl_and_csv_version_and_export_round_trip(services: Services) -> None:
    workspace = services.workspaces.create_workspace("shop")
    first = services.golden.import_bytes(workspace.id, "faq", "g.csv", CSV.encode("utf-8"))
    second = services.golden.import_bytes(workspace.id, "faq", "g.csv", CSV.encode("gbk"))  # GBK decodes too
    assert (first.version, second.version, second.size) == (1, 2, 2)
    exported = services.golden.export(workspace.id, "faq", 1, "jsonl")
    again = services.golden.import_bytes(workspace.id, "faq", "again.jsonl", exported.encode())
    _, items = services.golden.items(workspace.id, "faq", again.version)
    assert items[0].expected_answers == ("12 个月", "一年") and not items[1].answerable
    assert (
        services.golden.export(workspace.id, "faq", None, "csv")
        .splitlines()[1]
        .startswith("积分的有效期是多久？")
    )


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("g.jsonl", b'{"question": "a", "expected_answer": "b"}\n{"question": ', "g.jsonl:2: invalid JSON"),
        ("g.jsonl", b'{"expected_answer": "b"}\n', "needs a 'question'"),
        ("g.jsonl", b'{"question": "a", "answerable": true}\n', "needs an expected_answer"),
        ("g.jsonl", b'{"question": "a", "answerable": "yes"}\n', "must be true or false"),
        ("g.jsonl", b"\n\n", "has no questions"),
        ("g.csv", b"q,a\nx,y\n", "needs a 'question' column"),
        ("g.csv", b"question,answerable\nx,maybe\n", "answerable must be true or false"),
        ("g.txt", b"question", "are .jsonl or .csv"),
        ("g.jsonl", b'{"question": "' + b"x" * 2000 + b'", "answerable": false}', "over 1000 characters"),
    ],
)
def test_a_broken_golden_file_is_refused_by_line_and_stores_nothing(
    services: Services, name: str, data: bytes, message: str
) -> None:
    workspace = services.workspaces.create_workspace("shop")
    with pytest.raises(InvalidInput, match=message):
        services.golden.import_bytes(workspace.id, "faq", name, data)
    assert services.golden.versions(workspace.id) == []


def test_huge_golden_files_and_bad_names_are_refused(services: Services) -> None:
    workspace = services.workspaces.create_workspace("shop")
    with pytest.raises(TooLarge):
        services.golden.import_bytes(workspace.id, "faq", "g.jsonl", b" " * (MAX_GOLDEN_BYTES + 1))
    with pytest.raises(InvalidInput, match="golden set name"):
        services.golden.import_bytes(workspace.id, "../etc", "g.csv", CSV.encode())
    with pytest.raises(NotFound):
        services.golden.items(workspace.id, "missing")


def test_the_tuning_and_held_out_split_is_deterministic_and_about_half() -> None:
    questions = [f"question {i}" for i in range(1000)]
    splits = [split_of(q) for q in questions]
    assert splits == [split_of(q) for q in questions]
    assert 450 < splits.count("held_out") < 550


def test_answer_and_retrieval_metrics_follow_their_definitions() -> None:
    assert exact_match("12 个月 [1]", ["12个月"]) and not exact_match("有效期 12 个月", ["12个月"])
    assert token_f1("有效期为12个月", ["12个月"]) == pytest.approx(2 * (3 / 7) * 1 / (3 / 7 + 1))
    assert token_f1("Refunds take 3 days", ["3 working days"]) == pytest.approx(
        2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
    )
    assert token_f1("anything", []) == 0.0
    scores = retrieval_scores(["a.md", "b.md", "a.md", "c.md"], ["b.md", "c.md"], k=5)
    assert scores["recall"] == 1.0 and scores["rr"] == 0.5
    assert scores["ndcg"] == pytest.approx((1 / 1.585 + 1 / 2) / (1 + 1 / 1.585), rel=1e-3)


def test_an_evaluation_run_is_stored_with_per_question_results_and_reports_with_plots(
    demo_copy: Demo,
) -> None:
    services, workspace = demo_copy
    run = services.evaluator.run(services.targets.working(workspace.id), "demo", split="held_out")
    stored, results = services.evaluator.get(workspace.id, run.id)
    assert stored.summary["questions"] == len(results) > 50
    assert stored.summary["answer_accuracy"] > 0.85 and stored.summary["ndcg_at_k"] > 0.9
    assert {"right", "exact", "f1", "cited_right", "recall", "rr", "ndcg", "latency_ms"} <= set(results[0])
    assert all(split_of(r["question"]) == "held_out" for r in results)

    page = report.html_report(stored, results)
    assert page.count("data:image/png;base64,") == 3 and "answer accuracy" in page
    text = report.markdown(stored, results, image_dir="plots")
    assert "![reliability.png](plots/reliability.png)" in text and "| answer accuracy |" in text


def test_two_runs_compare_question_by_question(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    good = services.evaluator.run(services.targets.working(workspace.id), "demo")
    services.targets.save_working_config(
        workspace.id, services.targets.working_config(workspace.id).with_overrides({"handoff_below": "0.9"})
    )
    cautious = services.evaluator.run(services.targets.working(workspace.id), "demo")
    result = services.evaluator.compare(workspace.id, good.id, cautious.id)
    assert result["worse"] and result["metrics"]["answer_accuracy"]["delta"] < 0
    assert result["shared_questions"] == good.summary["questions"]


def _mini_golden(services: Services, workspace: Workspace) -> str:
    """Every third demo question (both splits, both kinds): enough to exercise tuning, quick to run."""
    _, items = services.golden.items(workspace.id, "demo")
    services.golden.save(workspace.id, "mini", items[::3], "test")
    return "mini"


def test_tune_proposes_a_calibrated_release_judged_on_the_held_out_split(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    result = services.tuner.tune(workspace.id, _mini_golden(services, workspace), "test", trials=3)
    release = services.releases.get(workspace.id, result["release"])
    assert (
        release.config["confidence_model"] is not None and release.eval_run_id == result["eval_runs"]["tuned"]
    )
    assert set(result["held_out"]) == {"untuned", "tuned"}
    assert 0.0 <= result["calibration"]["ece"] <= 1.0 and result["calibration"]["reliability"]
    assert json.dumps(result)  # the CLI's --json and the API's job result


def test_tune_says_what_to_add_when_every_tuning_question_is_answered_right(demo_copy: Demo) -> None:
    """Six easy answerable questions leave nothing to contrast: tuning used to fail with n_splits=0."""
    services, workspace = demo_copy
    _, items = services.golden.items(workspace.id, "demo")
    easy = [i for i in items if i.answerable][:6]
    services.golden.save(workspace.id, "easy", easy, "test")
    releases = len(services.releases.list_releases(workspace.id))
    with pytest.raises(InvalidInput, match="add unanswerable questions"):
        services.tuner.tune(workspace.id, "easy", "test", trials=1)
    assert len(services.releases.list_releases(workspace.id)) == releases


def test_the_reranker_trains_on_the_tuning_split_and_is_frozen_into_the_next_release(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    golden = _mini_golden(services, workspace)
    trained = services.tuner.train_reranker(workspace.id, golden)
    assert trained["pairs"] > 15
    release, run = services.releases.create(workspace.id, "test", golden)
    assert release.config["reranker"]["fingerprint"] == trained["fingerprint"]
    assert run is not None and run.summary["answer_accuracy"] > 0.8

    stored = Reranker.from_dict(release.config["reranker"])
    answer = services.answerer.answer(
        workspace.id, "扫地机器人保修多久？", target=services.targets.of_release(release)
    )
    assert answer.text and stored.fingerprint_ == trained["fingerprint"]


def _grading_llm() -> OpenAICompatibleLLM:
    """Stands in for an LLM server: answers with the first passage; grades by looking for the reference."""

    def server(request: httpx.Request) -> httpx.Response:
        messages = json.loads(request.content)["messages"]
        prompt = messages[-1]["content"]
        if messages[0]["role"] == "system":  # answering: quote passage [1]
            passage = re.search(r"\[1\] \([^)]*\) (.*?)(?:\n\n\[2\]|\n\nQuestion:)", prompt, re.S)
            reply = (passage.group(1)[:200] if passage else "NO_ANSWER") + " [1]"
        else:  # grading
            reference = re.search(r"Reference: (.*)\nAnswer: (.*)", prompt, re.S)
            assert reference is not None
            wanted = [r.strip() for r in reference.group(1).split(" / ")]
            reply = "YES" if any(w in reference.group(2) for w in wanted) else "NO"
        return httpx.Response(200, json={"choices": [{"message": {"content": reply}}]})

    return OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(server))


def test_with_an_llm_configured_an_llm_judge_grades_each_answered_question(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    answerer = AnswerService(
        services.retriever, services.answers, services.targets, AnswerLimits(), _grading_llm()
    )
    judged = EvalService(answerer, services.golden, SqliteEvalStore(services.db), _grading_llm())
    run = judged.run(services.targets.working(workspace.id), "demo")
    _, results = judged.get(workspace.id, run.id)
    graded = [r for r in results if r["judge"] is not None]
    assert graded and run.summary["judge_accuracy"] == sum(r["judge"] for r in graded) / len(graded)
    assert all(r["mode"] in ("llm", "faq", "handoff") for r in results)
    assert all(r["judge"] is None for r in results if r["handoff"] or not r["answerable"])


def test_the_handoff_curve_moves_only_the_answers_the_threshold_decides() -> None:
    run = EvalRun("run_1", "ws", "gs", "working", "held_out", {"settings": {"handoff_below": 0.5}}, "t")

    def result(
        confidence: float, applies: bool, handoff: bool, right: bool, answerable: bool
    ) -> dict[str, object]:
        return {
            "confidence": confidence,
            "threshold_applies": applies,
            "handoff": handoff,
            "right": right,
            "composed_right": right,
            "answerable": answerable,
        }

    results = [
        result(0.8, True, False, True, True),  # confident and right
        result(0.3, True, True, False, True),  # unsure and wrong: handed off at 0.5
        result(0.0, False, True, True, False),  # nothing found: handed off whatever the threshold
        result(1.0, False, False, True, True),  # a curated answer: answered whatever the threshold
    ]
    points = {p["threshold"]: p for p in handoff_curve(run, results, steps=10)["points"]}
    assert points[0.0]["handoff_share"] == 0.25 and points[0.0]["answered_accuracy"] == 2 / 3
    assert points[0.5]["handoff_share"] == 0.5 and points[0.5]["answer_accuracy"] == 2 / 3
    assert points[1.0]["handoff_share"] == 0.75 and points[1.0]["answered_accuracy"] == 1.0


def test_a_category_of_unanswerable_questions_has_no_answer_accuracy_rather_than_zero() -> None:
    def result(category: str, answerable: bool, right: bool, handoff: bool) -> dict[str, object]:
        return {
            "question": category,
            "category": category,
            "answerable": answerable,
            "right": right,
            "handoff": handoff,
            "confidence": 0.5,
            "composed_right": right,
            "expected_documents": [],
            "judge": None,
            "cited_right": False,
            "exact": False,
            "f1": 0.0,
            "latency_ms": 1.0,
        }

    summary = summarise([result("policy", True, True, False), result("unanswerable", False, True, True)], 5)
    assert summary["by_category"]["policy"]["answer_accuracy"] == 1.0
    assert summary["by_category"]["unanswerable"]["answer_accuracy"] is None
    run = EvalRun("run_1", "ws", "gs", "working", "held_out", summary, "t")
    assert "| unanswerable | 1 | – | 1 |" in report.markdown(run, [])
