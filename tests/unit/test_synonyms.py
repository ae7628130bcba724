"""A company's synonyms: the customer's word is searched as the documents' word, releases freeze them, and a
table of them is read whole or refused by row."""

from __future__ import annotations

import pytest

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.services.answers.synonyms import checked, in_documents_words, occurs, synonyms_from_file
from zhiwen.types import Workspace
from zhiwen.wiring import Services

Demo = tuple[Services, Workspace]
SHOP = checked(
    {
        "白金会员": "铂金卡",
        "白金": "铂金",
        "扫地机": "扫地机器人",
        "价保": "价格保护",
        "fapiao": "invoice",
        "gold card": "Gold",
        "c++": "C plus plus",
        "café": "coffee",
    }
)


@pytest.mark.parametrize(
    ("asked", "searched"),
    [
        ("白金会员包邮吗", "铂金卡包邮吗"),  # the longer word wins over "白金"
        ("我是白金的", "我是铂金的"),
        ("扫地机器人和扫地机", "扫地机器人和扫地机器人"),  # the documents' word is left alone
        ("Can I get a FAPIAO?", "Can I get a invoice?"),
        ("fapiaos please", "fapiaos please"),  # Latin words match whole
        ("my GOLD  card", "my Gold"),
        ("能价保吗", "能价格保护吗"),
        ("评价保存多久", "评价保存多久"),  # not across a word of the dictionary (评价, 保存)
        ("Ｆａｐｉａｏ？", "invoice？"),  # full-width letters, as keyword search reads them
        ("learn c++ now", "learn C plus plus now"),  # regular-expression characters are plain letters
        ("cafés or a café", "cafés or a coffee"),
        ("白金会员卡怎么办", "铂金卡卡怎么办"),
        ("白金卡丢了", "铂金卡丢了"),  # 白金会员 is not here, so 白金 is
        ("my gold cards", "my gold cards"),
        ("", ""),
    ],
)
def test_the_customers_words_become_the_documents_words(asked: str, searched: str) -> None:
    assert in_documents_words(asked, SHOP) == searched


@pytest.mark.parametrize(
    ("synonyms", "named"),
    [
        ({"": "铂金卡"}, "empty"),
        ({"白金": "  "}, "empty"),
        ({"铂金": "铂金"}, "the same"),
        ({"x" * 51: "y"}, "at most 50"),
        ({f"w{i}": "x" for i in range(2001)}, "at most 2,000"),
        ({"白金": 3}, "text"),
        ({"白金卡": "铂金卡", "铂金卡": "platinum"}, "also the documents' word"),
        ({"Gold": "金卡", "gold": "黄金"}, "means both"),
        ({"白金, 白金卡": "铂金卡"}, "may not hold"),
        ({"白金": "铂=金"}, "may not hold"),
        ({"-": "减"}, "needs a letter"),
        ({"白金": "铂金\n卡"}, "on one line"),
    ],
)
def test_a_synonym_that_cannot_be_one_is_refused_by_name(synonyms: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        checked(synonyms)
    with pytest.raises(InvalidInput, match=named):
        AnswerConfig(synonyms=synonyms).validate()


def test_a_word_is_whole_along_any_word_search_reads_and_no_other() -> None:
    assert occurs("运费", "退货运费由买家承担"), "jieba reads 退/货运费, search mode also 运费"
    assert occurs("保修", "保修期内免费维修")
    assert not occurs("价保", "评价保存"), "across 评价 and 保存"
    assert occurs("Phone X1", "新 PHONE  X1 多少钱") and not occurs("X1", "X10")


def test_a_table_of_synonyms_is_read_in_any_encoding_or_refused_by_row() -> None:
    table = "同义词,标准词\n白金会员|白金卡,铂金卡\n价保、保价,价格保护\n"
    for encoding in ("utf-8", "gbk", "utf-8-sig"):
        assert synonyms_from_file("synonyms.csv", table.encode(encoding)) == {
            "白金会员": "铂金卡",
            "白金卡": "铂金卡",
            "价保": "价格保护",
            "保价": "价格保护",
        }
    english = b'{"said": "Fapiao", "written": "invoice"}\n'
    assert synonyms_from_file("s.jsonl", english) == {"fapiao": "invoice"}
    with pytest.raises(InvalidInput, match="row 3: expected the customer's word"):
        synonyms_from_file("s.csv", "said,written\n白金,铂金\n价保,\n".encode())
    with pytest.raises(InvalidInput, match="row 2: expected"):
        synonyms_from_file("s.csv", b"question,answer\na,b\n")
    with pytest.raises(InvalidInput, match="empty"):
        synonyms_from_file("s.csv", b"")
    with pytest.raises(InvalidInput, match="row 2"):
        synonyms_from_file("s.jsonl", b'{"said": "a", "written": "b"}\n{broken\n')
    with pytest.raises(InvalidInput, match="the same"):
        synonyms_from_file("s.csv", b"said,written\nGold,gold\n")


def test_a_customers_word_finds_the_passage_once_the_company_names_it(demo_copy: Demo) -> None:
    services, workspace = demo_copy
    question = "白金会员包邮吗"  # the membership page says 铂金卡：…全年免运费
    before = services.answerer.answer(workspace.id, question, record=False)
    assert before.handoff, "the customer's word alone is not understood"
    assert before.understood_as is None
    services.targets.add_synonyms(workspace.id, ["白金会员", "白金卡"], "铂金卡")
    after = services.answerer.answer(workspace.id, question, record=False)
    assert not after.handoff and "免运费" in after.text
    assert after.question == question, "the customer's own words are kept"
    assert after.understood_as == "铂金卡包邮吗", "…and told how they were read"
    call = "请打 13800138000 问白金会员包邮吗"  # contact details are searched without, but not shown so
    assert (
        services.answerer.answer(workspace.id, call, record=False).understood_as
        == "请打 13800138000 问铂金卡包邮吗"
    )
    assert after.citations[0].source == "membership-zh.md"

    release, _ = services.releases.create(workspace.id, "test", "demo")
    assert AnswerConfig.from_dict(release.config).synonyms == {"白金会员": "铂金卡", "白金卡": "铂金卡"}
    services.targets.remove_synonyms(workspace.id, ["白金会员", "白金卡"])
    assert services.targets.synonyms(workspace.id) == {}
    frozen = services.answerer.answer(
        workspace.id, question, record=False, target=services.targets.of_release(release)
    )
    assert not frozen.handoff, "a release keeps the synonyms it froze"
    with pytest.raises(NotFound, match="白金会员"):
        services.targets.remove_synonyms(workspace.id, ["白金会员"])
    services.targets.add_synonyms(workspace.id, ["Platinum Member"], "铂金卡")
    replaced = services.targets.add_synonyms(workspace.id, ["platinum  member"], "黑钻卡")
    assert replaced == {"platinum member": "黑钻卡"}, "the same word, written otherwise, is replaced"
    assert services.targets.remove_synonyms(workspace.id, ["PLATINUM MEMBER"]) == {}
