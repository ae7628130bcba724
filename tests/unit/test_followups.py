"""Follow-up questions are read with the conversation's earlier turns; new topics are read on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.services.answers.followup import (
    SHORT_TERMS,
    Understood,
    about_subject,
    content_words,
    in_context,
    may_continue,
    named_instead,
    names_something_unknown,
    read_titles,
    refers_back,
)
from zhiwen.services.lifecycle.golden import load_golden, run_golden
from zhiwen.types import Workspace
from zhiwen.wiring import Services

Demo = tuple[Services, Workspace]


@pytest.mark.parametrize(
    "question",
    ["那它多少钱？", "那充电宝呢？", "and the Watch S2?", "what if I'm a gold member?", "Is it waterproof?"],
)
def test_messages_that_point_back_continue_the_conversation(question: str) -> None:
    assert refers_back(question) and may_continue(question)


@pytest.mark.parametrize(
    "question",
    ["I heard that you ship to Japan, is one week normal for delivery there?", "运费怎么算，满多少包邮"],
)
def test_a_standalone_question_does_not_point_back(question: str) -> None:
    assert not refers_back(question)


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("你们这边收手续费吗", ["收", "手续费"]),  # not 手续 and 续费 again, nor 这边
        ("除夕那天人工几点下班", ["除夕", "人工", "下班"]),  # 那天 and 几点 name no topic
        ("我都七十多了 也收吗", ["收"]),
    ],
)
def test_a_message_naming_few_topic_words_may_continue_the_conversation(
    question: str, words: list[str]
) -> None:
    assert content_words(question) == words and may_continue(question)


def test_a_message_naming_many_topic_words_is_read_on_its_own() -> None:
    question = "信用卡账单分期手续费怎么算"
    assert len(content_words(question)) > SHORT_TERMS and not may_continue(question)


def test_a_longer_message_naming_a_noun_the_knowledge_lacks_asks_a_question_of_its_own() -> None:
    known = {"卖", "充电宝", "金卡", "福利"}
    assert names_something_unknown("你们卖电动汽车吗？", known)  # 卖 电动 汽车 电动汽车: 电动汽车 unknown
    assert not names_something_unknown("你们卖充电宝吗？", known)  # known
    assert not names_something_unknown("电动汽车呢", known)  # short: may be elliptical


def test_an_english_word_inside_another_still_counts() -> None:
    assert content_words("PIN and shipping") == ["pin", "shipping"]


@pytest.mark.parametrize("question", ["对了，积分多久过期？", "By the way, do you ship to Japan?"])
def test_a_message_that_announces_a_new_topic_is_read_on_its_own(question: str) -> None:
    previous = Understood.alone("扫地机器人保修多久？")
    assert in_context(question, previous) is None


def test_earlier_turns_weigh_less_and_are_forgotten_after_two() -> None:
    first = Understood.alone("AuroraBuds Pro 防水吗")
    second = in_context("and the Watch S2?", first)
    third = in_context("那它多少钱？", second)
    assert second is not None and third is not None
    assert [s.weight for s in third.segments] == [1.0, 0.5, 0.25]
    fourth = in_context("黑色的有吗", third)
    assert fourth is not None and [s.text for s in fourth.segments] == [
        "黑色的有吗",
        "那它多少钱？",
        "and the Watch S2?",
    ]
    assert third.emphasis()["watch"] == 0.5


def test_a_stored_turn_that_cannot_be_read_back_is_ignored() -> None:
    assert Understood.from_dict(None) is None
    assert Understood.from_dict([{"text": 3, "weight": "x"}]) is None
    assert Understood.from_dict("<script>") is None


def test_a_follow_up_in_a_conversation_is_answered_about_the_earlier_product(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "扫地机器人的电机保修几年？")
    assert first.understood_as is None
    follow_up = services.answerer.answer(workspace.id, "那充电宝呢？", conversation_id=first.conversation_id)
    assert not follow_up.handoff and "6 个月" in follow_up.text
    assert follow_up.conversation_id == first.conversation_id
    assert follow_up.understood_as == "扫地机器人的电机保修几年？ 那充电宝呢？"


def test_the_same_follow_up_without_the_conversation_is_not_understood_the_same_way(demo: Demo) -> None:
    services, workspace = demo
    alone = services.answerer.answer(workspace.id, "那充电宝呢？")
    assert alone.understood_as is None


def test_a_new_topic_after_a_product_question_is_answered_on_its_own(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "AuroraBuds Pro 开降噪能用多久？")
    second = services.answerer.answer(
        workspace.id, "对了，积分的有效期是多久？", conversation_id=first.conversation_id
    )
    assert second.understood_as is None and "24 个月" in second.text


def test_an_english_follow_up_names_another_product(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "How long does the Watch S2 battery last?")
    second = services.answerer.answer(
        workspace.id,
        "and the AuroraBuds Pro with noise cancelling on?",
        conversation_id=first.conversation_id,
    )
    assert "6 hours" in second.text and second.understood_as


def test_another_workspaces_conversation_cannot_be_continued(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "扫地机器人保修多久？")
    other = services.workspaces.create_workspace("followup-other")
    with pytest.raises(NotFound):
        services.answerer.answer(other.id, "那它多少钱？", conversation_id=first.conversation_id)


def test_golden_conversations_replay_their_turns_and_report_follow_ups(demo: Demo, tmp_path: Path) -> None:
    services, workspace = demo
    path = tmp_path / "conversations.jsonl"
    conversation = {
        "conversation": "c1",
        "category": "followup",
        "turns": [
            {"question": "扫地机器人的电机保修几年？", "expected_answer": "3 年"},
            {"question": "那充电宝呢？", "expected_answer": "6 个月", "follow_up": True},
            {"question": "那它有粉色的吗", "answerable": False, "follow_up": True},
        ],
    }
    path.write_text(json.dumps(conversation, ensure_ascii=False) + "\n", encoding="utf-8")
    items = load_golden(path)
    assert [i.context for i in items] == [
        (),
        ("扫地机器人的电机保修几年？",),
        ("扫地机器人的电机保修几年？", "那充电宝呢？"),
    ]
    assert {i.conversation for i in items} == {"c1"}
    report = run_golden(services.answerer, workspace.id, items)
    assert report.follow_ups == 2 and report.conversations == 1
    assert report.results[1].right and report.results[1].understood_as


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"turns": []}', "non-empty list"),
        ('{"turns": ["扫地机器人保修多久？"]}', "turn 1 must be an object"),
        ('{"turns": [{"question": "a", "expected_answer": "b", "follow_up": "yes"}]}', "follow_up"),
        ('{"turns": [' + ",".join(['{"question": "q", "expected_answer": "a"}'] * 21) + "]}", "at most 20"),
    ],
)
def test_a_broken_conversation_line_names_the_problem(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=problem):
        load_golden(path)


def test_a_second_reading_keeps_of_earlier_turns_only_the_subject_the_titles_name() -> None:
    titles = [
        "极光扫地机器人 R7 使用指南",
        "极光平板 T10 使用说明",
        "极光 Air 14 使用指南",
        "极光 X1 使用说明",
        "International Shipping",
    ]
    understood = in_context("那它多少钱？", Understood.alone("扫地机一次能扫多久啊"))
    assert understood is not None
    subject = about_subject(understood, titles)
    assert subject is not None and subject.text == "扫地 地机 扫地机 扫 那它多少钱？"  # search-mode segments
    shipping = in_context(
        "how long does it take", Understood.alone("which places outside china do you ship to")
    )
    assert shipping is not None
    assert about_subject(shipping, titles).text == "ship how long does it take"  # type: ignore[union-attr]
    generic = in_context(
        "多少钱？", Understood.alone("极光怎么使用")
    )  # the brand and "使用" name no one subject
    assert generic is not None and about_subject(generic, titles) is None
    assert about_subject(Understood.alone("扫地机多少钱"), titles) is None


def test_a_follow_up_whose_earlier_turn_asked_something_else_finds_the_new_attribute(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "扫地机器人一次能扫多久？")
    price = services.answerer.answer(workspace.id, "那它多少钱？", conversation_id=first.conversation_id)
    assert (
        price.understood_as is not None and "多久" not in price.understood_as
    )  # searched: the product, the price
    assert "扫地" in price.understood_as and price.understood_as.endswith("那它多少钱？")


SHOP_TITLES = [
    "极光扫地机器人 R7 使用指南",
    "Aurora Watch S2 智能手表 使用手册",
    "极光平板 T10 使用说明",
    "AuroraBuds Pro 无线降噪耳机 使用说明书",
    "Aurora Phone X1 User Guide",
    "Aurora Watch S2 User Guide",
    "AuroraBuds Pro User Guide",
    "Aurora Router AX3000 Setup Guide",
    "Warranty Policy",
    "保修政策",
]


@pytest.mark.parametrize(
    ("earlier", "message", "understood"),
    [
        ("扫地机器人多少钱", "那手表呢", "多少钱 那手表呢"),  # another product
        ("手表防水吗", "耳机呢？", "防水吗 耳机呢？"),
        # The product makes way; the warranty, a topic's title, stays.
        (
            "what's the warranty on the Phone X1",
            "what about the Watch S2?",
            "what's the warranty on the what about the Watch S2?",
        ),
        ("金卡有啥福利", "铂金卡呢", "有啥福利 铂金卡呢"),  # the same head: 卡
        ("分12期有利息吗", "6期呢", "分期有利息吗 6期呢"),  # another number
        ("how much is the X1 with 512gb", "and the 256?", "how much is the X1 with gb and the 256?"),
        ("铂金卡会员有啥好处", "那黑钻卡呢", "会员有啥好处 那黑钻卡呢"),  # the same last character
        ("银卡要什么条件", "铂金卡呢", "要什么条件 铂金卡呢"),  # … inside jieba's guess 银卡要
        ("北京的售后网点在哪", "深圳的呢", "的售后网点在哪 深圳的呢"),  # a place for a place
        ("春节初二营业厅开门吗", "那大年初一呢", "营业厅开门吗 那大年初一呢"),  # a day for a day
        ("周五下午5点付款什么时候发货", "周六呢", "下午5点付款什么时候发货 周六呢"),  # the time of day stays
        ("寄到Japan要几天", "那Germany呢", "寄到 要几天 那Germany呢"),  # a name beside Chinese
        ("do you ship to Japan?", "and to Germany?", "do you ship to? and to Germany?"),  # a name
        (
            "can I use eSIM on my Galaxy S20?",
            "ok what about my Pixel 6",
            "can I use eSIM on my? ok what about my Pixel 6",
        ),
        ("Aurora Phone X1多少钱", "Watch S2呢", "Aurora 多少钱 Watch S2呢"),  # a Latin word beside Chinese
        ("分16期有利息吗", "6期呢", "分期有利息吗 6期呢"),  # 6 is not 16
    ],
)
def test_a_message_that_only_names_another_thing_asks_the_earlier_question_of_it(
    earlier: str, message: str, understood: str
) -> None:
    contextual = in_context(message, Understood.alone(earlier))
    assert contextual is not None
    instead = named_instead(contextual, SHOP_TITLES)
    assert instead is not None and instead.text == understood and instead.question == message


@pytest.mark.parametrize(
    ("earlier", "message"),
    [
        ("扫地机器人多少钱", "那它呢"),  # points at the earlier subject
        ("扫地机器人多少钱", "带自动集尘的那款呢"),
        ("how much is the tablet", "and the keyboard for it"),
        ("扫地机器人多少钱", "手表防水吗"),  # not only a name
        ("买东西送积分吗", "我是金卡的话呢"),  # a condition: nothing earlier of its kind
        ("运费怎么算 ？", "我在新疆呢"),  # nothing replaced, though the earlier turn's spaces could be
        ("所有产品都包邮吗", "还有呢"),  # asks for more; names nothing
        ("运费怎么算", "and" + " " * 2_000 + "x"),  # too long to be a name (and no regex backtracking)
    ],
)
def test_a_message_that_points_back_or_adds_a_condition_replaces_nothing(earlier: str, message: str) -> None:
    contextual = in_context(message, Understood.alone(earlier))
    assert contextual is not None and named_instead(contextual, SHOP_TITLES) is None


def test_a_follow_up_naming_another_product_is_answered_about_that_product(demo: Demo) -> None:
    services, workspace = demo
    first = services.answerer.answer(workspace.id, "扫地机器人多少钱")
    watch = services.answerer.answer(workspace.id, "那手表呢", conversation_id=first.conversation_id)
    assert not watch.handoff and "1,299" in watch.text
    assert watch.understood_as == "多少钱 那手表呢"
    # "laptop" is in no document's title, only in the catalogue's row "极光 Air 14 笔记本电脑 / … laptop".
    phone = services.answerer.answer(workspace.id, "how much is the Phone X1")
    laptop = services.answerer.answer(workspace.id, "and the laptop?", conversation_id=phone.conversation_id)
    assert not laptop.handoff and "5,999 yuan" in laptop.text


def test_titles_are_looked_up_by_word_start_and_chinese_substring() -> None:
    index = read_titles(
        ["International Shipping", "Shipping Policy", "配送说明", "极光扫地机器人 R7 使用指南"]
    )
    assert index.holding("ship") == (0, 1) and index.holding("shipping") == (0, 1)
    assert index.holding("sh") == () and index.holding("policy") == (1,)
    assert index.holding("扫地机") == (3,) and index.holding("说") == (2,) and index.holding("配送指南") == ()
    assert index.names_subject("ship") and not index.names_subject("guide")
