"""What the customer reads of a passage: its best sentence first, and of a bilingual entry only the
customer's language."""

from __future__ import annotations

import pytest

from zhiwen.services.answers.extract import (
    answers_another,
    asked_type,
    extracts_by_hit,
    question_type,
    written_in,
)
from zhiwen.text.tokenize import keyword_tokens
from zhiwen.types import Chunk, Hit

WATCH = (
    "Aurora Watch S2 售价 1,299 元，有 46mm 一个尺寸，提供黑色氟橡胶表带和棕色真皮表带两个版本。"
    "The Aurora Watch S2 costs 1,299 yuan in one 46 mm size, with a black fluororubber strap or a brown"
    " leather strap."
)
COMPLAINTS = (
    "邮件 complaints@starlink-mobile.example客服热线 400-886-1000（人工服务每天 8:00–22:00）。"
    "每个投诉都会生成工单号，并通过短信发送给您，请妥善保存。"
)
READER = (
    "Paper 7 支持 EPUB、PDF、MOBI、AZW3、TXT 和 DOCX 格式。通过 USB 数据线或 App 无线传书均可导入电子书。"
)


def shown(text: str, question: str, language: str) -> str:
    hit = Hit(Chunk("c1", "w", "d", 0, "商品", text), 1.0, document_title="products")
    weights = dict.fromkeys(keyword_tokens(question), 1.0)
    (extract,) = extracts_by_hit(question, [hit], weights, language=language)
    return extract.passage


@pytest.mark.parametrize(
    ("question", "language", "first", "absent"),
    [
        ("how much is the Watch S2", "en", "The Aurora Watch S2 costs 1,299 yuan", "售价"),
        ("Watch S2 多少钱", "zh", "Aurora Watch S2 售价 1,299 元", "costs"),
    ],
)
def test_a_bilingual_entry_is_shown_in_the_customers_language_only(
    question: str, language: str, first: str, absent: str
) -> None:
    passage = shown(WATCH, question, language)
    assert passage.startswith(first) and absent not in passage


def test_chinese_passages_naming_things_in_latin_letters_are_shown_whole() -> None:
    assert "EPUB" in shown(READER, "阅读器支持什么格式", "zh")
    complaints = shown(COMPLAINTS, "what's the email for complaints", "en")
    assert "complaints@starlink-mobile.example" in complaints and "工单号" in complaints


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("The Aurora Watch S2 costs 1,299 yuan.", "en"),
        ("家庭共享 199 / Family Share 199 (monthly plan): 199 yuan a month, 150GB shared data.", "en"),
        ("家庭共享 199 / Family Share 199（月套餐）：月费 199 元，流量 150GB shared。", "zh"),
        ("Paper 7 支持 EPUB、PDF、MOBI 和 DOCX 格式。", "zh"),
        ("邮件 complaints@starlink-mobile.example", "zh"),
        ("C3 Balanced : R1–R3", None),
        ("", None),
    ],
)
def test_the_language_a_sentence_is_written_in(sentence: str, language: str | None) -> None:
    assert written_in(sentence) == language


@pytest.mark.parametrize(
    ("question", "asks_for"),
    [
        ("价格保护多少天", "duration"),  # not a price: 价格 names the policy
        ("退款几个工作日到账", "duration"),
        ("how many days do I have to return it", "duration"),
        ("扫地机器人多少钱", "price"),
        ("how many earbuds come in the box", "count"),
        ("客服电话", None),
    ],
)
def test_the_kind_of_quantity_asked_is_read_from_how_it_is_asked(question: str, asks_for: str | None) -> None:
    assert question_type(question) == asks_for


def test_a_follow_up_asks_the_kind_of_quantity_of_its_latest_turn_that_asks_one() -> None:
    # Read together, "多久" of the earlier turn comes first; the customer now asks a price.
    assert question_type("扫地机一次能扫多久啊 那它多少钱？") == "duration"
    assert asked_type(["那它多少钱？", "扫地机一次能扫多久啊"]) == "price"
    assert asked_type(["那白色的呢", "扫地机一次能扫多久啊"]) == "duration"
    assert asked_type(["客服电话"]) is None


def test_a_lists_lines_stay_apart_and_chinese_sentences_follow_each_other() -> None:
    centres = "北京：朝阳区建国路 88 号 2 层\n上海：徐汇区漕溪北路 18 号 1 层\n广州：天河区天河路 208 号 5 层"
    passage = shown(centres, "上海的售后网点在哪", "zh")
    assert "2 层 上海：" in passage and "1 层 广州：" in passage, "not glued into 2 层上海"
    assert shown(READER, "阅读器支持什么格式", "zh") == READER, "no space after a Chinese sentence's end"


@pytest.mark.parametrize(
    ("table", "question", "language"),
    [
        (
            "设备 | 费用\n光猫 | 免费借用\nWi-Fi 6 路由器 | 5 元/月\nMesh 子路由 | 10 元/月/台，最多 3 台",
            "Mesh 子路由每月多少钱",
            "zh",
        ),
        (
            "Branch | Saturday | Sunday\nFlagship | 09:00–17:30 | 09:00–17:30\nCommunity | closed | closed",
            "is the community one closed",
            "en",
        ),
    ],
)
def test_a_tables_row_is_shown_under_its_header_one_row_a_line(
    table: str, question: str, language: str
) -> None:
    header, *rows = table.split("\n")
    passage = shown(table, question, language)
    assert passage.split("\n")[:2] == [header, rows[-1]], "the header, then the row that answers"
    assert sorted(passage.split("\n")) == sorted(table.split("\n")), "every row kept, each on its own line"


def test_a_lists_item_is_shown_whole_on_its_own_line() -> None:
    atm = (
        "If an ATM took your money:\n"
        "- Qinghe Bank ATM: we refund you within 1 working day. If it is not back in 2 days, call 95377.\n"
        "- Another bank's ATM: call 95377 to report it. Refunds take up to 7 working days."
    )
    passage = shown(atm, "refund from another bank's ATM takes how long", "en")
    assert (
        passage.split("\n")[0]
        == "- Another bank's ATM: call 95377 to report it. Refunds take up to 7 working days."
    )
    assert "- Qinghe Bank ATM: we refund you within 1 working day. If it is not back in 2 days" in passage


def test_a_decimal_is_not_a_list_number_and_other_is_not_pointing_back() -> None:
    plans = "Our plans are simple. Each plan includes calls. 3.5 GB of data is included in the Basic plan."
    assert shown(plans, "how much data in the basic plan", "en").startswith("3.5 GB of data")
    stores = (
        "我们的门店遍布全国三十多个城市，营业时间以各门店公告为准。其他城市的用户可以在官方 App 在线补卡。"
    )
    assert shown(stores, "其他城市怎么补卡", "zh").startswith("其他城市")


def test_numbered_steps_keep_their_order() -> None:
    steps = (
        "过期后：\n1. 15 天内单向停机。\n2. 随后 30 天双向停机，号码仍然保留。\n3. 超过 45 天号码将被回收。"
    )
    assert shown(steps, "号码保留多久", "zh") == steps


@pytest.mark.parametrize(
    ("text", "question", "language"),
    [
        (
            "Gift cards are valid for 3 years from activation. They cannot be replaced when lost or stolen.",
            "can it be replaced if stolen",
            "en",
        ),
        (
            "礼品卡自激活之日起 3 年内有效，全国所有门店和官方商城通用。它遗失后不能补办，也不能兑换现金。",
            "遗失能补办吗",
            "zh",
        ),
    ],
)
def test_a_sentence_that_points_back_follows_the_one_it_points_at(
    text: str, question: str, language: str
) -> None:
    assert shown(text, question, language) == text


@pytest.mark.parametrize(
    ("question", "faq_question", "another"),
    [
        ("Do you ship to Japan?", "Do you ship to the United States?", True),
        ("可以寄到日本吗", "可以寄到美国吗？", True),
        ("ship to the US? i'm in LA", "Do you ship to the United States?", False),  # no name in common form
        ("Do you ship to the United States?", "Do you ship to the United States?", False),
        ("运费多少", "可以寄到美国吗？", False),  # names nothing
    ],
)
def test_an_faq_entry_asked_of_another_place_is_told_apart(
    question: str, faq_question: str, another: bool
) -> None:
    assert answers_another(question, faq_question) is another


def test_an_faq_entry_asked_of_another_place_answers_only_with_its_sentence_that_names_this_one() -> None:
    faq = "Not yet. We ship internationally to Hong Kong, Singapore and Japan."
    hit = Hit(
        Chunk("c1", "w", "d", 0, "", faq, kind="faq", question="Do you ship to the United States?"), 1.0
    )
    for question, passage in [
        ("Do you ship to Japan?", "We ship internationally to Hong Kong, Singapore and Japan."),
        ("Do you ship to Germany?", faq),  # no sentence names it: the entry, whole
        ("Do you ship to the United States?", faq),
    ]:
        (extract,) = extracts_by_hit(
            question, [hit], dict.fromkeys(keyword_tokens(question), 1.0), language="en"
        )
        assert extract.passage == passage, question
