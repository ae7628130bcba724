from __future__ import annotations

import itertools

import pytest

from zhiwen.text.pii import PII_KINDS, RELIABLE_KINDS, PiiMatch, find_pii, pii_counts, redact_pii, without_pii

VALID_ID = "11010519491231002X"  # the worked example of GB 11643-1999
ID_THAT_PASSES_LUHN = "620102199003070069"  # a valid ID with a UnionPay-like prefix that also passes Luhn
VISA = "4111111111111111"
UNIONPAY_19 = "6222021234567890128"
AMEX = "378282246310005"


def found(text: str, kinds: tuple[str, ...] = PII_KINDS) -> list[tuple[str, str]]:
    return [(m.kind, m.text) for m in find_pii(text, kinds)]


def id_with_check(first17: str) -> str:
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


# --- phone --------------------------------------------------------------------------------------------------


def test_a_mobile_number_in_chinese_text_is_found_with_its_offsets() -> None:
    text = "我手机号是13812345678，麻烦回个电话"
    assert find_pii(text) == [PiiMatch("phone", 5, 16, "13812345678")]


@pytest.mark.parametrize("number", ["138 1234 5678", "138-1234-5678", "13812345678"])
def test_a_mobile_number_written_with_spaces_or_dashes_is_found(number: str) -> None:
    assert found(f"电话 {number} 谢谢") == [("phone", number)]


@pytest.mark.parametrize(
    "number",
    ["+86 138 1234 5678", "+8613812345678", "0086 13812345678", "(+86)13812345678", "+86-138-1234-5678"],
)
def test_a_mobile_number_with_a_country_prefix_is_found_whole(number: str) -> None:
    assert found(f"call me on {number} please") == [("phone", number)]


@pytest.mark.parametrize(
    "number",
    [
        "010-12345678",
        "0755-1234567",
        "(021)12345678",
        "021 62345678",
        "010-12345678-801",
        "0571-87654321转8021",
    ],
)
def test_a_mainland_landline_is_found_with_its_area_code_and_extension(number: str) -> None:
    assert found(f"公司座机{number}，工作日都有人") == [("phone", number)]


@pytest.mark.parametrize(
    "number", ["+44 20 7946 0958", "+1 (415) 555-0132", "+852 2123 4567", "+81 3-1234-5678"]
)
def test_an_international_number_is_found(number: str) -> None:
    assert found(f"you can reach me at {number}.") == [("phone", number)]


def test_a_north_american_number_is_found_but_a_toll_free_hotline_is_not() -> None:
    assert found("call (415) 555-0132 or 415-555-0199") == [
        ("phone", "(415) 555-0132"),
        ("phone", "415-555-0199"),
    ]
    assert found("客服热线400-820-8820，或者800-810-8888") == []


def test_two_numbers_separated_by_a_slash_and_a_number_after_tel_are_found() -> None:
    assert found("电话 13812345678/13912345678, Tel.010-62345678") == [
        ("phone", "13812345678"),
        ("phone", "13912345678"),
        ("phone", "010-62345678"),
    ]


def test_a_mobile_number_inside_a_longer_digit_run_is_not_found() -> None:
    assert found("订单号 20241105138123456789 查一下") == []
    assert found("流水 913812345678") == []


@pytest.mark.parametrize(
    "text",
    [
        "订单号 20241105123456789，什么时候发货",
        "order #A1029384756 still not shipped",
        "快递单号SF1234567890123，YT1381234567890",
        "页面上写的¥1380000，实付￥13,800.00",
        "我2024-11-05 13:45付的款，20241105那天",
        "App 版本 v13.8.1，内核 13.8.12345",
        "型号 R7-3000 和 X138-12",
        "路由器后台 192.168.1.100 登不进去，10.138.123.45 也不行",
        "时间戳 1730781234 和 1730781234567",
        "编号 12812345678 无效",
        "手机尾号 138****5678",
    ],
)
def test_order_numbers_prices_dates_versions_model_codes_and_ips_are_not_personal_data(text: str) -> None:
    assert found(text) == []


def test_a_mailbox_named_by_a_phone_number_is_an_email_and_not_a_phone() -> None:
    assert found("邮箱13812345678@163.com") == [("email", "13812345678@163.com")]


# --- id_number ----------------------------------------------------------------------------------------------


def test_a_valid_resident_id_is_found() -> None:
    assert found(f"身份证号{VALID_ID}，实名认证失败") == [("id_number", VALID_ID)]


def test_a_lowercase_x_check_character_is_accepted() -> None:
    assert found(f"ID {VALID_ID.lower()}") == [("id_number", VALID_ID.lower())]


def test_an_18_digit_number_with_a_wrong_check_digit_is_not_an_id() -> None:
    assert found("兑换码 110105194912310021 用不了") == []


def test_an_id_with_an_impossible_or_future_birth_date_is_not_an_id() -> None:
    assert found(f"号码 {id_with_check('11010519990230002')}") == []  # 30 February
    assert found(f"号码 {id_with_check('11010530990101002')}") == []  # born in 3099


def test_an_id_with_an_unknown_province_code_is_not_an_id() -> None:
    assert found(f"号码 {id_with_check('19010519491231002')}") == []


def test_an_old_15_digit_id_is_found_only_after_a_cue() -> None:
    assert found("老身份证号 110105491231002") == [("id_number", "110105491231002")]
    assert found("快递单号 110105491231002") == []


# --- bank_card ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        VISA,
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        UNIONPAY_19,
        "6222 0212 3456 7890 128",
        "3782 822463 10005",
    ],
)
def test_a_luhn_valid_card_number_is_found_plain_or_grouped(number: str) -> None:
    assert found(f"my card {number} was charged twice") == [("bank_card", number)]


def test_a_card_prefixed_number_failing_luhn_is_not_a_card() -> None:
    assert found("参考号 4111111111111112") == []


def test_a_luhn_valid_number_without_an_issuer_prefix_is_not_a_card() -> None:
    assert found("退款流水号 7123456789012342") == []


def test_an_issuer_prefix_with_that_issuers_wrong_length_is_not_a_card() -> None:
    assert found(f"编号 {AMEX}0") == []  # Amex is 15 digits; 16 with this prefix is no card


def test_mixed_separators_in_a_card_number_are_not_a_card() -> None:
    assert found("4111 1111-1111 1111") == []


def test_an_id_number_that_also_passes_as_a_card_is_reported_as_an_id() -> None:
    text = f"证件 {ID_THAT_PASSES_LUHN}"
    assert found(text) == [("id_number", ID_THAT_PASSES_LUHN)]
    assert found(text, ("bank_card",)) == []


# --- email --------------------------------------------------------------------------------------------------


def test_an_email_between_chinese_characters_without_spaces_is_found() -> None:
    assert found("邮箱是zhang.san@example.com谢谢") == [("email", "zhang.san@example.com")]


def test_an_email_at_the_end_of_a_sentence_leaves_the_full_stop_out() -> None:
    assert found("Write to j.smith+shop@mail.company.co.uk.") == [
        ("email", "j.smith+shop@mail.company.co.uk")
    ]


def test_an_at_sign_without_a_domain_is_not_an_email() -> None:
    assert found("@客服 你好, user@localhost, a@b") == []


# --- address and name (best effort) -------------------------------------------------------------------------


def test_a_chinese_street_address_is_found_from_the_province_to_the_room() -> None:
    address = "广东省深圳市南山区科技园路1号阳光小区3栋2单元501室"
    assert found(f"快递寄到{address}，谢谢") == [("address", address)]


def test_a_chinese_address_keeps_the_whole_building_name_and_floor() -> None:
    address = "北京市海淀区中关村大街27号中关村大厦10层1001室"
    assert found(f"寄到{address}") == [("address", address)]


def test_a_chinese_address_starting_at_a_district_begins_after_the_lead_up_words() -> None:
    assert found("收货地址改成姑苏区解放路69号") == [("address", "姑苏区解放路69号")]


@pytest.mark.parametrize(
    "address", ["221B Baker Street, London", "1600 Amphitheatre Parkway, Mountain View, CA 94043"]
)
def test_an_english_street_address_is_found_with_its_city(address: str) -> None:
    assert found(f"Please ship it to {address}.") == [("address", address)]


def test_a_place_without_a_street_number_is_not_an_address() -> None:
    assert found("我在北京，深圳市南山区的门店在哪？人民路店还开吗") == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("我叫张三，身份证丢了", "张三"),
        ("收件人：王五\n电话", "王五"),
        ("我是欧阳娜娜啊", "欧阳娜娜"),
        ("我是李四，上周买的", "李四"),
        ("Hi, my name is John Smith and I need help", "John Smith"),
        ("this is Jane from Acme", "Jane"),
    ],
)
def test_a_name_after_an_explicit_cue_is_found(text: str, name: str) -> None:
    assert found(text, ("name",)) == [("name", name)]


@pytest.mark.parametrize(
    "text",
    [
        "我是会员，为什么不能用券",
        "我是黄金会员",
        "我是江苏的",
        "我是王经理",
        "我叫了三次客服",
        "this is ridiculous",
    ],
)
def test_words_after_a_cue_that_are_no_name_are_not_found(text: str) -> None:
    assert found(text, ("name",)) == []


def test_address_and_name_are_not_looked_for_by_default() -> None:
    assert find_pii("我叫张三，寄到广东省深圳市南山区科技园路1号") == []
    assert set(RELIABLE_KINDS) < set(PII_KINDS)


# --- behaviour shared by every kind -------------------------------------------------------------------------


def test_full_width_digits_are_matched_and_offsets_refer_to_the_original_text() -> None:
    text = "（＋８６）１３８ １２３４ ５６７８，邮箱ｚｈａｎｇ＠ｑｑ．ｃｏｍ"
    matches = find_pii(text)
    assert [(m.kind, m.text) for m in matches] == [
        ("phone", "（＋８６）１３８ １２３４ ５６７８"),
        ("email", "ｚｈａｎｇ＠ｑｑ．ｃｏｍ"),
    ]
    assert all(text[m.start : m.end] == m.text for m in matches)


def test_mixed_chinese_and_english_text_finds_every_reliable_kind_in_order() -> None:
    text = f"Hi 客服, 手机13812345678, card {VISA}, 身份证{VALID_ID}, mail me at li.si@163.com 谢谢"
    assert found(text, RELIABLE_KINDS) == [
        ("phone", "13812345678"),
        ("bank_card", VISA),
        ("id_number", VALID_ID),
        ("email", "li.si@163.com"),
    ]


def test_the_empty_string_has_no_personal_data() -> None:
    assert find_pii("", PII_KINDS) == []
    assert redact_pii("") == ""
    assert pii_counts("") == dict.fromkeys(RELIABLE_KINDS, 0)


def test_an_unknown_kind_raises_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'passport'"):
        find_pii("13812345678", ["phone", "passport"])
    with pytest.raises(ValueError, match="'ssn'"):
        pii_counts("x", ["ssn"])


def test_asking_for_no_kinds_finds_nothing() -> None:
    assert find_pii("13812345678", []) == []


def test_one_kind_asked_alone_gives_the_same_matches_as_all_kinds_asked() -> None:
    text = (
        f"收件人王五 13812345678，卡 {VISA}，证件 {ID_THAT_PASSES_LUHN}，寄到北京市朝阳区建国路88号，a@b.cn"
    )
    everything = find_pii(text, PII_KINDS)
    for kind in PII_KINDS:
        assert find_pii(text, [kind]) == [m for m in everything if m.kind == kind]
    assert all(a.end <= b.start for a, b in itertools.pairwise(everything))


def test_redaction_replaces_each_match_by_its_placeholder_and_keeps_the_rest() -> None:
    text = f"电话13812345678，卡号{VISA}，身份证{VALID_ID}，邮箱a.b@qq.com谢谢"
    assert redact_pii(text) == "电话[phone]，卡号[bank_card]，身份证[id_number]，邮箱[email]谢谢"
    assert redact_pii("我叫张三，寄到上海市徐汇区淮海中路999号", PII_KINDS) == "我叫[name]，寄到[address]"


def test_redaction_of_text_without_personal_data_returns_it_unchanged() -> None:
    text = "订单号 20241105123456789 ¥1380 v13.8.1 192.168.1.100\n  两个空格"
    assert redact_pii(text, PII_KINDS) == text


def test_counts_give_every_asked_kind_including_zero() -> None:
    text = "13812345678 或 13912345678，a@b.com"
    assert pii_counts(text) == {"phone": 2, "id_number": 0, "bank_card": 0, "email": 1}
    assert pii_counts(text, ["email"]) == {"email": 1}


MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        "1" * MEGABYTE,
        "@" * MEGABYTE,
        " " * MEGABYTE,
        "a." * (MEGABYTE // 2) + "@",
        "x@" + "a." * (MEGABYTE // 2),
        "1 " * (MEGABYTE // 2),
        "+1 " * (MEGABYTE // 3),
        "区" * MEGABYTE,
    ],
    ids=[
        "digits",
        "at-signs",
        "spaces",
        "dotted-local-part",
        "dotted-domain",
        "spaced-digits",
        "plus-ones",
        "han",
    ],
)
def test_a_megabyte_of_adversarial_input_finishes_and_finds_nothing(text: str) -> None:
    assert find_pii(text, PII_KINDS) == []


def test_personal_data_after_a_megabyte_of_digits_is_still_found_once() -> None:
    text = "9" * MEGABYTE + " 电话13812345678"
    assert [(m.kind, m.start) for m in find_pii(text)] == [("phone", MEGABYTE + 3)]


def test_what_a_question_asks_is_read_without_the_contact_details_that_came_with_it() -> None:
    asked = without_pii("我手机13912345678，邮箱 wei@example.com，扫地机器人保修多久？")
    assert asked == "我手机 ，邮箱  ，扫地机器人保修多久？"
    assert without_pii("订单 20240101123 的发票") == "订单 20240101123 的发票"
