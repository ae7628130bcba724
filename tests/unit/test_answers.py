from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import zhiwen
from tests import files
from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.adapters.llm import LocalGGUFLLM, OpenAICompatibleLLM
from zhiwen.config import Settings
from zhiwen.errors import InvalidInput
from zhiwen.sample_kb import build_sample_kb, golden_path
from zhiwen.services.answers.choice import default_choice
from zhiwen.services.answers.confidence import FEATURES
from zhiwen.services.answers.service import HANDOFF_MESSAGES, AnswerLimits, AnswerService, cited_title
from zhiwen.services.knowledge.languages import knowledge_language_means
from zhiwen.services.lifecycle.evaluate import select_split
from zhiwen.services.lifecycle.golden import (
    MIN_CHOICE_QUESTIONS,
    answer_is_right,
    calibrate,
    load_golden,
    run_golden,
)
from zhiwen.text.normalize import detect_language
from zhiwen.types import Answer, Chunk, Hit, Workspace
from zhiwen.wiring import Services, build_llm, build_services

Demo = tuple[Services, Workspace]
TELECOM = Path(zhiwen.__file__).parent / "sample_telecom"


def test_a_chinese_question_gets_a_cited_chinese_answer(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "扫地机器人的电机保修几年？")
    assert not answer.handoff and answer.language == "zh"
    assert "3 年" in answer.text
    assert answer.citations[0].source == "warranty-zh.md"
    assert "[1]" in answer.text
    assert 0.5 <= answer.confidence <= 1


def test_an_english_question_gets_an_english_answer_from_the_english_document(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "How long is the warranty on a robot vacuum?")
    assert answer.language == "en" and "2 years" in answer.text
    assert answer.citations[0].source == "warranty-en.md"


def test_a_duration_asked_of_a_policy_named_for_prices_gets_the_duration(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "价格保护多少天", record=False)
    assert not answer.handoff and "15 天" in answer.text, "价格 names the policy; 多少天 asks how long"


def test_an_faq_entry_about_another_country_is_not_given_whole(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "Do you ship to Japan?", record=False)
    assert not answer.handoff and "Japan" in answer.text
    assert not answer.text.startswith("Not yet"), "the entry asked of the United States says 'Not yet'"


def test_a_strong_faq_match_returns_the_curated_answer(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "客服热线是多少？")
    assert answer.mode == "faq"
    assert answer.text.startswith("极光数码客服热线 400-820-1234")
    assert answer.text.endswith(" [1]"), "marked with its citation, as extracted answers are"
    assert answer.citations[0].document_title == "客服热线是多少？", "not the file's name, faq zh"


def test_a_source_without_a_title_of_its_own_is_cited_by_its_entry() -> None:
    def hit(source: str, document_title: str, title_path: str, question: str | None = None) -> Hit:
        kind = "faq" if question else "passage"
        chunk = Chunk("c", "w", "d", 0, title_path, "…", kind=kind, question=question)
        return Hit(chunk, 1.0, document_title=document_title, document_source=source)

    row = hit("products.jsonl", "products", "Aurora Watch S2 智能手表 / Aurora Watch S2 smartwatch")
    assert cited_title(row, "zh") == "Aurora Watch S2 智能手表"
    assert cited_title(row, "en") == "Aurora Watch S2 smartwatch"
    faq = hit("faq-en.csv", "faq en", "faq en", question="Do you ship abroad?")
    assert cited_title(faq, "en") == "Do you ship abroad?"
    headed = hit("warranty-zh.md", "保修政策", "保修政策 > 保修期限")
    assert cited_title(headed, "zh") == "保修政策"
    plain = hit("camera-c1-en.txt", "camera c1 en", "camera c1 en")
    assert cited_title(plain, "en") == "camera c1 en"


@pytest.mark.parametrize("question", ["你们卖电动汽车吗？", "What is the capital of Australia?"])
def test_questions_the_knowledge_cannot_answer_are_handed_off_politely(demo: Demo, question: str) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, question)
    assert answer.handoff and answer.citations == ()
    assert answer.text == HANDOFF_MESSAGES[answer.language]


def test_answers_are_confident_before_background_embedding_has_run(services: Services) -> None:
    """Right after an upload only keyword search is ready; the answer must not collapse into a handoff."""
    workspace = services.workspaces.create_workspace("fresh")
    folder = build_sample_kb(services.settings.data_dir.parent / "kb")
    services.ingest.ingest_paths(
        workspace.id, [folder / "warranty-zh.md", folder / "returns-zh.md"], base=folder
    )
    assert services.vectors.count(workspace.id) == 0
    answer = services.answerer.answer(workspace.id, "扫地机器人的电机保修几年？")
    assert not answer.handoff and "3 年" in answer.text


def test_every_answer_is_recorded_for_feedback(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "积分的有效期是多久？")
    record = services.answers.get_answer(workspace.id, answer.id)
    assert record["answer"]["text"] == answer.text  # type: ignore[index]
    assert record["retrieved"]


@pytest.mark.parametrize("question", ["", "   ", "问" * 1001])
def test_empty_and_overlong_questions_are_refused(demo: Demo, question: str) -> None:
    services, workspace = demo
    with pytest.raises(InvalidInput):
        services.answerer.answer(workspace.id, question)


def test_the_shipped_models_hold_on_held_out_questions_in_customers_words(demo: Demo) -> None:
    """Floors under what the bundled models measured on the held-out halves none of them learned from
    (docs/answers.md, 2026-12-07: accuracy 0.695, ECE 0.076, 0 of 53 confident answers wrong; the
    knowledge-worded set 0.952). A change that loses more than noise fails here."""
    services, workspace = demo
    customers = select_split(load_golden(golden_path().with_name("customers.jsonl")), "held_out")
    report = run_golden(services.answerer, workspace.id, customers)
    assert report.questions >= 250 and report.unanswerable >= 60
    assert report.answer_accuracy >= 0.65
    assert report.expected_calibration_error <= 0.09
    assert report.confident_wrong <= 0.05
    worded = run_golden(services.answerer, workspace.id, select_split(load_golden(golden_path()), "held_out"))
    assert worded.answer_accuracy >= 0.90 and worded.handoff_recall >= 0.80


@pytest.fixture(scope="module")
def telecom(tmp_path_factory: pytest.TempPathFactory, embedder: BundledE5Embedder) -> Iterator[Demo]:
    """The telecom help centre: a knowledge base in another domain. The chooser and the confidence were
    never fitted on it; the question adapter learned from its tuning half."""
    services = build_services(
        Settings(data_dir=tmp_path_factory.mktemp("telecom") / "data"), embedder=embedder
    )
    workspace = services.workspaces.create_workspace("default")
    folder = TELECOM / "docs"
    results = services.ingest.ingest_paths(workspace.id, sorted(folder.iterdir()), base=folder)
    assert all(r.status == "added" for r in results)
    services.embedding_worker.run_until_done()
    yield services, workspace
    services.close()


def test_the_shipped_chooser_and_confidence_generalise_to_another_domain(telecom: Demo) -> None:
    """Floors under the telecom figures in docs/answers.md (held-out half of its customer questions,
    2026-12-07: accuracy 0.613, handoff recall 0.806, ECE 0.048, 9.4 % of 64 confident answers wrong)."""
    services, workspace = telecom
    report = run_golden(
        services.answerer, workspace.id, select_split(load_golden(TELECOM / "customers.jsonl"), "held_out")
    )
    assert report.questions >= 350 and report.unanswerable >= 80
    assert report.answer_accuracy >= 0.56
    assert report.handoff_recall >= 0.7
    assert report.expected_calibration_error <= 0.1
    assert report.confident_wrong <= 0.2


def test_a_fact_only_the_other_languages_documents_state_is_answered_from_them(telecom: Demo) -> None:
    """The telecom operator's phone insurance is written in English only. Asked in Chinese, the Chinese
    passages gave no sure answer (confidence 0.12); the English ones, searched with the question moved to
    their language, answer it, cited."""
    services, workspace = telecom
    question = "手机被偷了 用手机保险理赔要自付多少钱"
    assert services.retriever.other_language(workspace.id, "zh") == "en"
    english = services.retriever.retrieve(workspace.id, question, k=5, language="en")
    assert all(detect_language(h.chunk.text) == "en" for h in english.hits)
    assert english.hits[0].document_source == "phone-insurance-en.md"
    answer = services.answerer.answer(workspace.id, question)
    assert not answer.handoff and "theft 499 yuan" in answer.text
    assert answer.citations[0].source == "phone-insurance-en.md"


def test_a_passage_in_the_other_language_must_name_the_model_asked_about(demo: Demo) -> None:
    """Only the tablet T10's Chinese guide speaks of microSD cards; asked of the phone X1, its passage is
    surer than the English ones but names another model, so the question is handed off."""
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "can I put a microSD card in the X1")
    assert answer.handoff


def test_the_language_means_wait_for_every_sampled_passages_vector(
    embedder: BundledE5Embedder, tmp_path: Path
) -> None:
    services = build_services(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    try:
        workspace = services.workspaces.create_workspace("default")
        folder = TELECOM / "docs"
        services.ingest.ingest_paths(workspace.id, sorted(folder.glob("*.md")), base=folder)
        waiting = knowledge_language_means(services.documents, services.vectors, workspace.id)
        assert not waiting.complete and waiting.means == {}
        services.embedding_worker.run_until_done()
        embedded = knowledge_language_means(services.documents, services.vectors, workspace.id)
        assert embedded.complete and set(embedded.means) == {"zh", "en"}
    finally:
        services.close()


def test_a_word_written_beside_another_is_still_found(telecom: Demo) -> None:
    """Jieba reads "银卡要什么条件" as 银卡要 / 条件: the documents' 银卡 was lost, and the question handed
    off at 0.47."""
    services, workspace = telecom
    target = services.answerer.targets.working(workspace.id)
    answer, draft = services.answerer.answer_with_draft(
        workspace.id, "银卡要什么条件", record=False, target=target
    )
    assert "银卡" in draft.retrieval.term_weights
    assert dict(zip(FEATURES, draft.features, strict=True))["coverage"] > 0.3, "0 when 银卡要 was a term"
    assert not answer.handoff and "银卡：在网满 2 年" in answer.text


def test_words_that_name_no_topic_do_not_count_as_missing_from_the_knowledge(telecom: Demo) -> None:
    """The documents never write 一个月 (they say 月费): counted as a word the knowledge lacks, it made
    "1000M宽带多少钱一个月" look like a question about something the knowledge does not cover."""
    services, workspace = telecom
    target = services.answerer.targets.working(workspace.id)
    answer, draft = services.answerer.answer_with_draft(
        workspace.id, "1000M宽带多少钱一个月", record=False, target=target
    )
    assert "一个月" not in draft.retrieval.term_weights
    assert dict(zip(FEATURES, draft.features, strict=True))["unknown_terms"] == 0.0
    assert not answer.handoff and "139 元" in answer.text


def test_a_follow_up_with_a_new_word_beside_its_question_words_is_read_in_context(telecom: Demo) -> None:
    """ "除夕那天人工几点下班" had four terms, too many to be elliptical, so it was read alone and handed
    off; 除夕 and 那天 name no topic, and the earlier turns say that 人工 is the hotline's."""
    services, workspace = telecom
    target = services.answerer.targets.working(workspace.id)
    previous = services.answerer.understand(target, ["客服电话晚上几点以后就没人工了", "那半夜网断了找谁啊"])
    answer, draft = services.answerer.answer_with_draft(
        workspace.id, "除夕那天人工几点下班", record=False, target=target, previous=previous
    )
    assert draft.understood.is_follow_up
    assert not answer.handoff and "除夕 8:00" in answer.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("退款退到银行卡要多久？", "3–7 个工作日"),
        ("下单后多久之内要付款？", "30 分钟"),
        ("旧手机开不了机还能以旧换新吗？", "无法开机的设备也可回收"),
    ],
)
def test_the_passage_that_states_the_answer_is_chosen_over_a_higher_ranked_one(
    demo: Demo, question: str, expected: str
) -> None:
    services, workspace = demo
    target = services.answerer.targets.working(workspace.id)
    answer, draft = services.answerer.answer_with_draft(workspace.id, question, record=False, target=target)
    assert not answer.handoff and expected in answer.text
    assert draft.choice is not None and draft.choice.best > 0, "retrieval ranked another passage first"
    assert answer.citations[0].chunk_id == draft.choice.chosen.extract.hit.chunk.id


def test_the_readmes_example_gets_the_warranty_not_the_maintenance_schedule(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(workspace.id, "扫地机器人保修多久？", record=False)
    assert not answer.handoff and "整机保修 2 年" in answer.text


def test_calibration_generalises_to_the_held_out_half(demo: Demo) -> None:
    services, workspace = demo
    result = calibrate(services.answerer, workspace.id, load_golden(golden_path()))
    assert result.held_out_ece <= 0.15
    assert result.held_out_answers["handoff_recall"] >= 0.8
    assert result.held_out_answers["answer_accuracy"] >= 0.85
    assert not result.choice_refitted, f"fewer than {MIN_CHOICE_QUESTIONS} answerable tuning questions"
    assert result.choice_model.to_dict() == default_choice().to_dict()


def test_calibration_fits_the_chooser_from_enough_questions(demo: Demo) -> None:
    services, workspace = demo
    result = calibrate(
        services.answerer, workspace.id, load_golden(golden_path().with_name("customers.jsonl"))
    )
    assert result.choice_refitted and result.choice_model.form == "pairwise"
    assert result.choice_model.fitted_on_ > result.tune_choice_model.fitted_on_ >= 5 * MIN_CHOICE_QUESTIONS
    assert result.held_out_answers["answer_accuracy"] >= 0.55 and result.held_out_ece <= 0.1


def test_a_golden_line_with_only_an_expected_document_counts_a_cited_answer_as_right(
    demo: Demo, tmp_path: Path
) -> None:
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        '{"question": "扫地机器人的电机保修几年？", "expected_document": "warranty-zh.md"}\n'
        '{"question": "Is liquid damage covered by the warranty?", "expected_document": "nowhere.md"}\n',
        encoding="utf-8",
    )
    report = run_golden(demo[0].answerer, demo[1].id, load_golden(golden))
    assert [r.right for r in report.results] == [True, False]


def test_answer_matching_ignores_case_width_and_punctuation() -> None:
    assert answer_is_right("退款 1–3 个工作日内到账", ["1-3个工作日"])
    assert not answer_is_right("Refunds take 5 working days.", ["3 working days"])
    assert answer_is_right("Within 3 WORKING days.", ["3 working days"])
    assert answer_is_right("费用为８％", ["8%"])


def _sse(pieces: list[str]) -> bytes:
    """A chat-completions stream as OpenAI-compatible servers send it."""
    chunks = [{"choices": [{"delta": {"role": "assistant"}}]}]
    chunks += [{"choices": [{"delta": {"content": p}}]} for p in pieces]
    lines = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def _llm_answering(reply: str, status: int = 200) -> OpenAICompatibleLLM:
    def server(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert "[1]" in body["messages"][1]["content"]  # passages are numbered for citation
        if body.get("stream") and status == 200:
            words = reply.split(" ")
            pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
            return httpx.Response(200, content=_sse(pieces), headers={"content-type": "text/event-stream"})
        return httpx.Response(status, json={"choices": [{"message": {"content": reply}}]})

    return OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(server))


def _with_llm(demo: Demo, reply: str, status: int = 200) -> AnswerService:
    services, _ = demo
    return AnswerService(
        services.retriever,
        services.answers,
        services.targets,
        AnswerLimits(),
        _llm_answering(reply, status),
    )


def test_an_llm_answer_keeps_only_the_citations_it_makes(demo: Demo) -> None:
    answerer = _with_llm(demo, "扫地机器人整机保修 2 年 [1]，电机 3 年 [2]。[9]")
    answer = answerer.answer(demo[1].id, "扫地机器人保修多久？")
    assert answer.mode == "llm" and [c.number for c in answer.citations] == [1, 2]


@pytest.mark.parametrize("reply", ["The warranty is 2 years.", "NO_ANSWER"])
def test_an_llm_answer_without_grounding_becomes_a_handoff(demo: Demo, reply: str) -> None:
    answer = _with_llm(demo, reply).answer(demo[1].id, "How long is the warranty on a robot vacuum?")
    assert answer.handoff and answer.mode == "handoff"


def test_a_follow_up_asks_the_llm_once_for_the_reading_it_chose(demo: Demo) -> None:
    services, workspace = demo
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["messages"][1]["content"])
        return httpx.Response(200, json={"choices": [{"message": {"content": "配件保修 6 个月 [1]。"}}]})

    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(server))
    answerer = AnswerService(services.retriever, services.answers, services.targets, AnswerLimits(), llm)
    first = answerer.answer(workspace.id, "扫地机器人的电机保修几年？")
    asked.clear()
    follow_up = answerer.answer(workspace.id, "那充电宝呢？", conversation_id=first.conversation_id)
    assert follow_up.mode == "llm" and len(asked) == 1
    assert "扫地机器人的电机保修几年？ 那充电宝呢？" in asked[0]


def test_contact_details_in_a_question_are_not_taken_for_what_it_asks(demo: Demo) -> None:
    services, workspace = demo
    answer = services.answerer.answer(
        workspace.id, "我手机13912345678，邮箱 wei@example.com，扫地机器人保修多久？"
    )
    assert not answer.handoff and "整机保修 2 年" in answer.text
    assert answer.question.startswith("我手机13912345678")  # the record keeps what the customer wrote


def test_the_llm_never_reads_the_customers_personal_data(demo: Demo) -> None:
    services, workspace = demo
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content)["messages"][1]["content"])
        return httpx.Response(200, json={"choices": [{"message": {"content": "整机保修 2 年 [1]。"}}]})

    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(server))
    answerer = AnswerService(services.retriever, services.answers, services.targets, AnswerLimits(), llm)
    answer = answerer.answer(workspace.id, "我手机13912345678，邮箱 wei@example.com，扫地机器人保修多久？")
    assert answer.mode == "llm" and len(asked) == 1
    assert "13912345678" not in asked[0] and "wei@example.com" not in asked[0]
    assert "我手机[phone]，邮箱 [email]，扫地机器人保修多久？" in asked[0]


def test_an_unreachable_llm_falls_back_to_the_extractive_answer(demo: Demo) -> None:
    answer = _with_llm(demo, "", status=503).answer(demo[1].id, "How long is the warranty on a robot vacuum?")
    assert answer.mode == "extractive" and "2 years" in answer.text


def test_an_llm_answer_streams_as_its_tokens_come_and_keeps_its_citations(demo: Demo) -> None:
    answerer = _with_llm(demo, "The robot vacuum has a 2-year warranty [1], the motor 3 years [1].")
    *pieces, answer = answerer.stream(demo[1].id, "How long is the warranty on a robot vacuum?")
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert isinstance(answer, Answer) and answer.mode == "llm"
    assert "".join(str(p) for p in pieces) == answer.text and answer.citations[0].number == 1


@pytest.mark.parametrize("reply", ["NO_ANSWER", "The warranty is 2 years."])
def test_a_streamed_llm_reply_without_grounding_ends_as_a_handoff(demo: Demo, reply: str) -> None:
    *pieces, answer = _with_llm(demo, reply).stream(demo[1].id, "How long is the warranty on a robot vacuum?")
    assert isinstance(answer, Answer) and answer.handoff
    if reply == "NO_ANSWER":
        assert pieces == []  # held back: the customer never sees the marker


def test_a_stream_from_an_unreachable_llm_falls_back_to_the_extractive_answer(demo: Demo) -> None:
    *pieces, answer = _with_llm(demo, "", status=503).stream(
        demo[1].id, "How long is the warranty on a robot vacuum?"
    )
    assert pieces == [] and isinstance(answer, Answer) and answer.mode == "extractive"


@pytest.mark.slow
def test_the_local_gguf_model_streams_its_reply(tmp_path: Path) -> None:
    path = files.smollm2_gguf()
    assert path is not None
    llm = build_llm(Settings(data_dir=tmp_path, llm_gguf=path))
    assert isinstance(llm, LocalGGUFLLM)
    pieces = list(llm.stream([{"role": "user", "content": "Say hello in three words."}], max_tokens=12))
    assert len(pieces) >= 2 and "".join(pieces).strip()


@pytest.mark.slow
def test_the_local_gguf_path_answers_with_citations_or_hands_off(demo: Demo, tmp_path: Path) -> None:
    """ZHIWEN_LLM_GGUF runs llama.cpp in-process; whatever SmolLM2 writes, only a cited answer gets out."""
    path = files.smollm2_gguf()
    assert path is not None
    services, workspace = demo
    llm = build_llm(Settings(data_dir=tmp_path, llm_gguf=path))
    assert isinstance(llm, LocalGGUFLLM)
    answerer = AnswerService(
        services.retriever, services.answers, services.targets, AnswerLimits(llm_max_tokens=60), llm
    )
    answer = answerer.answer(workspace.id, "How long is the warranty on a robot vacuum?")
    assert answer.mode in ("llm", "handoff", "faq")
    if answer.mode == "llm":
        assert answer.citations and all(1 <= c.number <= 5 for c in answer.citations)
    else:
        assert answer.handoff == (answer.mode == "handoff")
