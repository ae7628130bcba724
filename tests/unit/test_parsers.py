from __future__ import annotations

import json

import pytest

from tests import files
from zhiwen.errors import CorruptFile, EmptyDocument, EncryptedFile, InvalidInput, UnsupportedFormat
from zhiwen.parsers import parse

MANUAL_ZH = (
    "# 极光耳机说明书\n\n## 续航\n\n开启降噪时单次续航 6 小时。"
    "\n\n## 恢复出厂设置\n\n长按按键 15 秒即可恢复出厂设置。"
)


def test_chinese_pdf_text_is_extracted_with_headings_and_page_numbers() -> None:
    parsed = parse("manual.pdf", files.pdf(MANUAL_ZH))
    assert parsed.title == "极光耳机说明书"
    assert [s.title_path for s in parsed.sections] == [
        "极光耳机说明书 > 续航 · p.1",
        "极光耳机说明书 > 恢复出厂设置 · p.1",
    ]
    assert "长按按键 15 秒" in parsed.sections[1].text


def test_password_protected_pdf_is_refused_clearly() -> None:
    with pytest.raises(EncryptedFile, match="password"):
        parse("locked.pdf", files.encrypted_pdf(MANUAL_ZH))


def test_corrupt_pdf_is_refused_clearly() -> None:
    with pytest.raises(CorruptFile, match=r"broken\.pdf"):
        parse("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")


def test_docx_headings_become_the_title_path() -> None:
    parsed = parse(
        "guide.docx", files.docx("# Router Guide\n\n## Setup\n\nPlug it in.\n\n### Mesh\n\nPress Mesh.")
    )
    assert [(s.title_path, s.text) for s in parsed.sections] == [
        ("Router Guide > Setup", "Plug it in."),
        ("Router Guide > Setup > Mesh", "Press Mesh."),
    ]


def test_a_file_that_is_not_really_a_docx_is_refused() -> None:
    with pytest.raises(CorruptFile):
        parse("fake.docx", b"PK\x03\x04 not really a zip")


def test_xlsx_faq_rows_become_entries_and_bad_rows_are_reported() -> None:
    rows = [
        ["问题", "答案"],
        ["可以开发票吗？", "可以。"],
        ["", "没有问题的答案"],
        ["怎么退货？", "在我的订单申请。"],
    ]
    parsed = parse("faq.xlsx", files.xlsx(rows))
    assert [(e.question, e.answer) for e in parsed.faq] == [
        ("可以开发票吗？", "可以。"),
        ("怎么退货？", "在我的订单申请。"),
    ]
    assert parsed.warnings == ["faq.xlsx: row 3 skipped: question is empty"]


def test_gbk_encoded_csv_faq_is_read() -> None:
    data = "问题,答案\n运费多少？,满99元免运费。\n".encode("gbk")
    parsed = parse("faq.csv", data)
    assert [(e.question, e.answer) for e in parsed.faq] == [("运费多少？", "满99元免运费。")]


def test_unquoted_commas_in_the_last_answer_column_are_kept_and_reported() -> None:
    parsed = parse("faq.csv", "问题,答案\n怎么成为金卡会员？,累计消费满 2,000 元即可。\n".encode())
    assert [e.answer for e in parsed.faq] == ["累计消费满 2,000 元即可。"]
    assert parsed.warnings == ["faq.csv: row 2 has unquoted commas; read them as part of the answer"]


def test_csv_without_question_and_answer_columns_names_what_is_missing() -> None:
    with pytest.raises(InvalidInput, match="no question and answer column"):
        parse("faq.csv", b"title,body\na,b\n")


def test_html_boilerplate_is_stripped() -> None:
    html = b"""<html><head><title>T</title><script>track()</script></head><body>
    <nav>Home | Shop</nav><div class="cookie-banner">Accept cookies?</div>
    <h1>Router</h1><p>Hold RESET for 5 seconds.</p><footer>(c) 2026</footer></body></html>"""
    parsed = parse("page.html", html)
    text = " ".join(s.text for s in parsed.sections)
    assert text == "Hold RESET for 5 seconds."
    assert parsed.title == "Router"


def test_markdown_sections_follow_headings() -> None:
    parsed = parse("doc.md", b"# Returns\n\nIntro.\n\n## Refunds\n\nWithin 3 days.")
    assert [(s.title_path, s.text) for s in parsed.sections] == [
        ("Returns", "Intro."),
        ("Returns > Refunds", "Within 3 days."),
    ]


def test_plain_text_headings_written_without_markup_become_the_title_path() -> None:
    text = (
        "LOST OR STOLEN CARDS\nQinghe Bank Help Centre\n\n"
        "STEP 1: LOCK YOUR CARD\n\n"
        "Report it by phone\nCall 95377 and press 1.\n\n"
        "STEP 2: GET A NEW CARD\n\n"
        "Fees: 10 yuan, free for Gold customers.\n\n"
        "How long does it take?\nOn the spot if you remember your PIN."
    )
    parsed = parse("lost-card.txt", text.encode())
    assert parsed.title == "LOST OR STOLEN CARDS · Qinghe Bank Help Centre"
    assert [(s.title_path.removeprefix(f"{parsed.title} > "), s.text) for s in parsed.sections] == [
        ("STEP 1: LOCK YOUR CARD > Report it by phone", "Call 95377 and press 1."),
        ("STEP 2: GET A NEW CARD", "Fees: 10 yuan, free for Gold customers."),
        ("STEP 2: GET A NEW CARD > How long does it take?", "On the spot if you remember your PIN."),
    ]


def test_chinese_plain_text_keeps_lines_of_text_and_lists_as_text() -> None:
    items = "每次充值都会顺延：\n- 充值 30 元：顺延 90 天\n- 充值 50 元：\n顺延 180 天"
    lines = "广州：天河路 208 号\n深圳：深南大道 9966 号"
    parsed = parse("prepaid.txt", f"预付费充值\n\n一、充值方式\n{items}\n\n{lines}".encode("gbk"))
    assert parsed.title == "预付费充值"
    assert [(s.title_path, s.text.split("\n\n")) for s in parsed.sections] == [
        (
            "预付费充值 > 一、充值方式",
            ["每次充值都会顺延：", "- 充值 30 元：顺延 90 天", "- 充值 50 元：\n顺延 180 天", lines],
        )
    ], "an item per paragraph, wrapped lines kept with their item"


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        ("满99元免运费。", [("notes 2026", "满99元免运费。")]),
        ("Thanks for your order\n\n", [("notes 2026", "Thanks for your order")]),
        ("Hi, all\n\nsome text.", [("notes 2026", "Hi, all\n\nsome text.")]),
        ("A question?\n\nIts answer.", [("notes 2026 > A question?", "Its answer.")]),
    ],
)
def test_plain_text_without_a_title_block_is_titled_by_its_file_name(
    text: str, sections: list[tuple[str, str]]
) -> None:
    parsed = parse("notes-2026.txt", text.encode())
    assert parsed.title == "notes 2026"
    assert [(s.title_path, s.text) for s in parsed.sections] == sections


def test_jsonl_lines_can_be_faq_entries_or_passages() -> None:
    lines = [{"question": "Q?", "answer": "A."}, {"title": "Note", "text": "Some passage."}]
    parsed = parse("kb.jsonl", "\n".join(json.dumps(x) for x in lines).encode())
    assert [(e.question, e.answer) for e in parsed.faq] == [("Q?", "A.")]
    assert [(s.title_path, s.text) for s in parsed.sections] == [("Note", "Some passage.")]


def test_jsonl_passages_without_a_title_key_take_the_file_title_and_empty_titles_stay_empty() -> None:
    parsed = parse("products.jsonl", b'{"text": "A."}\n{"title": "", "text": "B."}')
    assert [s.title_path for s in parsed.sections] == ["products", ""]


def test_jsonl_names_the_broken_line() -> None:
    with pytest.raises(InvalidInput, match="line 2 is not valid JSON"):
        parse("kb.jsonl", b'{"text": "ok"}\n{broken\n')


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("empty.md", b"", EmptyDocument),
        ("blank.txt", b"   \n\n  ", EmptyDocument),
        ("tags.html", b"<html><body><script>x()</script></body></html>", EmptyDocument),
        ("image.png", b"\x89PNG\r\n\x1a\n", UnsupportedFormat),
        ("noext", b"hello", UnsupportedFormat),
        ("binary.txt", b"\x00\x00\x00\x01binary", CorruptFile),
    ],
)
def test_unusable_files_get_a_specific_error(name: str, data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse(name, data)


def test_hostile_office_files_are_refused_by_name() -> None:
    good = files.docx("# Guide\n\nPlug it in.")
    laughs = files.with_member(good, "word/document.xml", files.BILLION_LAUGHS)
    with pytest.raises(CorruptFile, match=r"lol\.docx"):
        parse("lol.docx", laughs)
    bomb = files.with_member(good, "word/document.xml", b" " * (30 * 1024 * 1024))
    with pytest.raises(CorruptFile, match="zip bomb"):
        parse("bomb.docx", bomb)
    sheet_bomb = files.with_member(
        files.xlsx([["q", "a"]]), "xl/worksheets/sheet1.xml", b" " * (30 * 1024 * 1024)
    )
    with pytest.raises(CorruptFile, match="zip bomb"):
        parse("bomb.xlsx", sheet_bomb)


@pytest.mark.parametrize(
    "text",
    [
        "Store guide\n\nOpening hours\n\nMonday to Friday 9-18\n\nSaturday 10am-4pm\n\nClosed on holidays.",
        "退货说明\n\n支持七天无理由退货\n\n运费由买家承担\n\n请保留好包装。",
        "Returns\n\nWe accept returns within 30 days of purchase if the item is unused and\nin its box.",
    ],
)
def test_short_lines_of_text_are_kept_as_text_not_taken_for_headings(text: str) -> None:
    parsed = parse("guide.txt", text.encode())
    shown = "\n".join(s.text for s in parsed.sections)
    lines = [line for line in text.split("\n") if line]
    assert [line for line in lines[1:] if line not in shown] == [], "every line but the title is text"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (
            "<p><b>失卡保障</b>：挂失前\n48 小时</p>",
            "失卡保障：挂失前 48 小时",
        ),  # inline runs on; a source line break is a space
        ("<ul><li>Fruit<ul><li>Apple</li><li>Pear</li></ul></li></ul>", "- Fruit\nApple\nPear"),
        ("<blockquote><p>One.</p><p>Two.</p></blockquote>", "One.\nTwo."),
        ("<ol start='3'><li>Same</li><li>Other</li><li>Same</li></ol>", "3. Same\n\n4. Other\n\n5. Same"),
        (
            "<table><tr><th>Plan</th><th>Fee</th></tr><tr><td>Basic<br>plan</td><td>5</td></tr></table>",
            "Plan | Fee\n\nBasic plan | 5",
        ),
    ],
)
def test_html_text_is_laid_out_as_a_browser_would(html: str, text: str) -> None:
    assert [s.text for s in parse("page.html", html.encode()).sections] == [text]
