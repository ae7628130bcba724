"""Personal data in customer messages: find it, count it, redact it.

China's PIPL and the EU's GDPR both ask that personal information be kept to what a purpose needs
(minimisation) and protected where it is stored and shown: transcripts, logs, exports, analytics and text
sent to an LLM should not carry a customer's phone number, ID number or card number when they need not.
This module finds those items so that callers can redact or count them; it decides nothing about policy.

Each kind is a precompiled regular expression followed, where the kind has one, by the check its issuer
defined. The checks are what make the numbers reliable: an 18-digit PRC resident ID carries a GB 11643 check
character (1 in 11 random numbers pass) and a real birth date, and a card number carries a Luhn digit. The
Luhn check alone passes about 10% of random numbers, so a long order number would often look like a card;
a card must also start with a known issuer prefix (UnionPay 62, Visa 4, Mastercard 51-55 and 2221-2720,
…) and have that issuer's length. Numbers are matched only whole: a lookaround on each side rejects a
digit run that continues (an 11-digit run inside an order number is not a phone).

``RELIABLE_KINDS`` (phone, id_number, bank_card, email) are the default. ``address`` and ``name`` are best
effort: Chinese is written without spaces, so where an address or a name starts is guessed from province
names, administrative suffixes (省, 市, 区, 路, 号, …) and cue words ("寄到", "我叫", "收件人", "my name
is"), and both miss forms they were not written for. ``benchmarks/pii.py`` measures every kind.

Full-width characters (１３８…, ＠) are folded with NFKC before matching, one character to one, so the
offsets of a :class:`PiiMatch` refer to the caller's original text. The patterns avoid nested unbounded
repetition, so a long adversarial input (a megabyte of digits, of ``@`` or of spaces) takes linear time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

__all__ = ["PII_KINDS", "RELIABLE_KINDS", "PiiMatch", "find_pii", "pii_counts", "redact_pii"]

PII_KINDS: tuple[str, ...] = ("phone", "id_number", "bank_card", "email", "address", "name")
RELIABLE_KINDS: tuple[str, ...] = ("phone", "id_number", "bank_card", "email")


@dataclass(frozen=True)
class PiiMatch:
    kind: str
    start: int
    end: int
    text: str  # as written in the original text (full-width digits stay full-width)


# --- folding ------------------------------------------------------------------------------------------------

# NFKC, restricted to characters it maps to exactly one character, so offsets survive. The blocks are where
# the forms that matter live: no-break and en spaces, full-width ASCII (１, ＠, （) and the ideographic space.
_FOLD_BLOCKS = ((0x00A0, 0x0100), (0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFFF0))


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for first, last in _FOLD_BLOCKS:
        for code in range(first, last):
            folded = unicodedata.normalize("NFKC", chr(code))
            if len(folded) == 1 and folded != chr(code):
                table[code] = folded
    return table


_FOLD = _fold_table()
_FOLDABLE = re.compile("[" + "".join(map(chr, _FOLD)) + "]")


def _fold(text: str) -> str:
    """The text with full-width and compatibility characters made plain, the same length as the input."""
    return _FOLDABLE.sub(lambda m: _FOLD[ord(m[0])], text)


# --- shared pieces of pattern -------------------------------------------------------------------------------

# Each pattern that opens with lookbehinds first looks ahead at one character: the regex engine then skips
# most positions cheaply instead of evaluating the lookbehinds everywhere.
#
# A number starts where no letter, digit or number-ish sign is just before it (not inside "A1029384756",
# "¥1380000", "#20241105", "R7-3000" or "v13.8"; "Tel.138…" is fine), and ends where no letter or digit
# follows, nor a decimal point, colon or dash with more digits ("13:45", "2024-11-05"), nor "@" (a mailbox
# named by a number). A slash may separate two numbers ("138…/139…").
_START = r"(?<![0-9A-Za-z_@+#$¥£€])(?<![0-9A-Za-z]-)(?<![0-9]\.)"
_END = r"(?![0-9A-Za-z_@])(?![.:-][0-9])"
_HAN = "\u4e00-\u9fff"

# --- phone --------------------------------------------------------------------------------------------------

_CN_PREFIX = r"(?:(?:\+|00)86[ -]?|\(\+?86\) ?)"
_MOBILE = re.compile(r"(?=[+0(1])" + _START + _CN_PREFIX + r"?1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _END)
# Area codes are 010, 02x or 0 and three digits; a local number (7 or 8 digits) never starts with 0 (real
# ones start with 2-8, but "010-12345678" is how people write an example). Extensions are optional.
_AREA_CODE = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    r"(?=[0(])"
    + _START
    + rf"(?:\({_AREA_CODE}\)|{_AREA_CODE})[ -]?[1-9][0-9]{{6,7}}"
    + r"(?:(?:-|转|ext\.? ?|x)[0-9]{1,5})?"
    + _END
)
# "+44 20 7946 0958", "+1 (415) 555-0132": a country code, then runs of digits (possessive, so a long
# digit string costs one pass) separated by single spaces or dashes; 8 to 15 digits in all (E.164).
_INTERNATIONAL = re.compile(
    r"(?=\+)" + _START + r"\+[1-9][0-9]*+(?:[ -]?(?:\([0-9]++\)|[0-9]++)){0,6}+" + _END
)
# North American "(415) 555-0132" and "415-555-0132"; 400 and 800 are toll-free business lines (in China
# too), not anyone's personal number.
_NORTH_AMERICAN = re.compile(
    r"(?=[(2-9])"
    + _START
    + r"(?![(]?[48]00)(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[-.])[2-9][0-9]{2}[-.][0-9]{4}"
    + _END
)


def _e164_length(text: str) -> bool:
    return 8 <= sum(c.isdigit() for c in text) <= 15


# --- id_number ----------------------------------------------------------------------------------------------

_ID18 = re.compile(r"(?=[1-8])(?<![0-9A-Za-z])[1-8][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_ID15 = re.compile(r"(?=[1-8])(?<![0-9A-Za-z])[1-8][0-9]{14}(?![0-9A-Za-z])")
# The two-digit province codes of GB/T 2260: the first digit is the region, the second the province in it
# (Taiwan 71, Hong Kong 81 and Macao 82 included).
_PROVINCES = frozenset(
    f"{region}{n}"
    for region, numbers in {
        1: "12345",
        2: "123",
        3: "1234567",
        4: "123456",
        5: "01234",
        6: "12345",
        7: "1",
        8: "12",
    }.items()
    for n in numbers
)
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
# A 15-digit number has no check digit, so about 1 in 70 random ones would pass: it needs a cue just before.
_ID15_CUE = re.compile(r"(?:身份证|证件|身份|[Ii][Dd]\b|identity)[^0-9]{0,8}$")


def _real_birth_date(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _valid_id18(number: str) -> bool:
    """Province code, birth date and the GB 11643 check character (mod 11, 10 written X) must all agree."""
    if number[:2] not in _PROVINCES:
        return False
    if not _real_birth_date(int(number[6:10]), int(number[10:12]), int(number[12:14])):
        return False
    remainder = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True)) % 11
    return "10X98765432"[remainder] == number[17].upper()


def _valid_id15(number: str) -> bool:
    """The first-generation number: province code and a 19YYMMDD birth date; it has no check digit."""
    if number[:2] not in _PROVINCES:
        return False
    return _real_birth_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))


# --- bank_card ----------------------------------------------------------------------------------------------

# 13-19 digits in one run, or groups of four split by one space or dash used throughout (the last group
# may be short), or Amex's 4-6-5. A grouped number must not go on with another group.
_CARD = re.compile(
    r"(?=[2-69])"
    + _START
    + r"(?:[0-9]{13,19}"
    + r"|[0-9]{4}(?P<sep>[ -])[0-9]{4}(?:(?P=sep)[0-9]{4}){1,2}(?:(?P=sep)[0-9]{1,4})?(?!(?P=sep)[0-9])"
    + r"|3[47][0-9]{2}(?P<amex>[ -])[0-9]{6}(?P=amex)[0-9]{5}(?!(?P=amex)[0-9]))"
    + _END
)
# (first digits, lowest, highest, allowed lengths): the issuers a customer here is likely to hold.
_ISSUERS: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    (2, 62, 62, frozenset(range(16, 20))),  # UnionPay, most Chinese cards
    (2, 60, 60, frozenset(range(16, 20))),  # Chinese banks' older 60xxxx prefixes
    (1, 4, 4, frozenset({13, 16, 19})),  # Visa
    (2, 51, 55, frozenset({16})),  # Mastercard
    (4, 2221, 2720, frozenset({16})),  # Mastercard 2-series
    (2, 34, 34, frozenset({15})),  # American Express
    (2, 37, 37, frozenset({15})),
    (4, 3528, 3589, frozenset(range(16, 20))),  # JCB
    (4, 6011, 6011, frozenset(range(16, 20))),  # Discover
    (3, 644, 649, frozenset(range(16, 20))),
    (2, 65, 65, frozenset(range(16, 20))),
    (2, 36, 36, frozenset(range(14, 20))),  # Diners Club
    (3, 300, 305, frozenset(range(14, 20))),
    (4, 9558, 9559, frozenset({16, 19})),  # ICBC and ABC cards issued before UnionPay's 62
)


def _luhn(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _valid_card(text: str) -> bool:
    """Luhn alone passes one random number in ten, so an issuer's prefix and that issuer's length must fit."""
    number = re.sub(r"[^0-9]", "", text)
    issuer_fits = any(
        low <= int(number[:width]) <= high and len(number) in lengths
        for width, low, high, lengths in _ISSUERS
    )
    return issuer_fits and _luhn(number)


# --- email --------------------------------------------------------------------------------------------------

# local@domain.tld, ASCII only (\w would take Chinese text around the address into it). The local part
# starts after a character that cannot be in it, so a long run is tried once, not from every position.
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)

# --- address (best effort) ----------------------------------------------------------------------------------

_PROVINCE_NAMES = (
    "北京市|天津市|上海市|重庆市|河北省|山西省|辽宁省|吉林省|黑龙江省|江苏省|浙江省|安徽省|福建省|江西省|"
    "山东省|河南省|湖北省|湖南省|广东省|海南省|四川省|贵州省|云南省|陕西省|甘肃省|青海省|台湾省|"
    "内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区|新疆维吾尔自治区|香港特别行政区|澳门特别行政区"
)
_PROVINCE_INITIALS = "".join(sorted({name[0] for name in _PROVINCE_NAMES.split("|")}))
# A character of a place name: Chinese, but not one of the words that lead up to an address (寄到, 我在,
# 地址是, 改为, 送给…), which would otherwise be taken as the start of the first place name.
_LEAD_UP = "到在址是为往给住改我你他的了寄送"
_PLACE_CHAR = rf"(?:(?![{_LEAD_UP}])[{_HAN}])"
# An administrative unit: a few characters and the suffix that names the level. Atomic and lazy: the unit
# ends at the first suffix and is never re-split, so the work per starting point is bounded.
_UNIT = rf"(?>{_PLACE_CHAR}{{1,6}}?(?:省|市|区|县|旗|州|盟|镇|乡|街道))"
_ROAD = rf"(?>(?:{_PLACE_CHAR}|[0-9]){{1,8}}?(?:大道|大街|路|街|道|巷|弄|胡同))"
_STREET_NUMBER = r"[0-9]{1,5}(?:弄[0-9]{1,4})?号(?:院)?"
_PREMISES = (
    rf"(?:[{_HAN}]{{2,8}}(?:小区|大厦|花园|公寓|广场|中心|大楼|家园|科学园|园|苑|城|府|村))?"
    r"(?:[0-9A-Za-z]{1,4}(?:号楼|栋|幢|座)(?:[0-9]{1,2}单元)?(?:[0-9]{1,3}(?:楼|层))?(?:[0-9]{1,5}室?(?![0-9]))?"
    r"|(?:[0-9]{1,3}(?:楼|层))?[0-9]{1,5}室)?"
)
# Starts after a character that is not Chinese, after a word that leads up to an address, or at a
# province name (its first character is checked first: that is cheaper than trying every name).
_ADDRESS_ZH = re.compile(
    rf"(?:(?<![{_HAN}])|(?<=[到在址是为往成给住])|(?=[{_PROVINCE_INITIALS}])(?={_PROVINCE_NAMES}))"
    rf"(?:{_PROVINCE_NAMES})?{_UNIT}{{0,3}}{_ROAD}{_STREET_NUMBER}{_PREMISES}"
)
# What every Chinese street address holds: a road suffix, a number and 号 ("路1号"). The full pattern is
# tried only around these, so ordinary text costs one quick scan.
_ADDRESS_CORE = re.compile(r"(?:大道|大街|路|街|道|巷|弄|胡同)[0-9]{1,5}(?:弄[0-9]{1,4})?号")
_ADDRESS_REACH = 48  # a province, three units and a road name fit in this many characters


def _is_place_char(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" and char not in _LEAD_UP


_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Parkway|Pkwy|Terrace|Court|Ct|Place|Pl|"
    "Square|Sq|Highway|Hwy|Crescent|Close"
)
# "221B Baker Street", "1600 Amphitheatre Parkway, Mountain View, CA 94043": a number, one to three
# capitalised words and a street type; then a flat, a city and a US state and ZIP when they follow.
_ADDRESS_EN = re.compile(
    r"(?=[0-9])(?<![0-9A-Za-z.,-])[0-9]{1,5}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}"
    rf"(?:{_STREET_TYPES})(?![A-Za-z])"
    r"(?:,? (?:Apt|Apartment|Suite|Unit|Flat|#) ?[0-9]{1,5}[A-Za-z]?)?"
    r"(?:, [A-Z][a-z]+(?: [A-Z][a-z]+){0,2}(?![A-Za-z]))?"
    r"(?:,? [A-Z]{2} [0-9]{5}(?:-[0-9]{4})?(?![0-9]))?"
)

# --- name (best effort) -------------------------------------------------------------------------------------

# 百家姓: the hundred or so most common single-character surnames, and the common double ones.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_DOUBLE_SURNAMES = "欧阳|司马|上官|诸葛|东方|皇甫|尉迟|公孙|慕容|令狐|长孙|宇文|司徒|夏侯|轩辕|端木|独孤|南宫"
# Characters that follow a name in a sentence far more often than they end one (我是李四想问…).
_NOT_GIVEN = "的了是在和啊呀吧呢哦哈想要说我你他她也就还都来去把被给跟与收先"
_GIVEN = rf"(?:(?![{_NOT_GIVEN}])[{_HAN}])"
# A surname and a title ("王经理", "李老师") names a role, not a person.
_TITLES = "经理|老师|先生|女士|小姐|师傅|总|医生|律师|主任|同学|阿姨"
# Only after an explicit cue, and only when punctuation, a space, a digit, a particle or the end follows:
# "我是黄金会员" and "我是江苏的" stop nowhere a name could end.
_NAME_ZH = re.compile(
    r"(?:我叫|我是|本人是?|名字[叫是]|(?:姓名|收件人|收货人|联系人|户名|持卡人)[:是]?) ?"
    rf"(?P<value>(?:{_DOUBLE_SURNAMES}|[{_SURNAMES}])(?!{_TITLES}){_GIVEN}{{1,2}})"
    r"(?=[\s,.;:!?，。；：！？、)\]0-9]|[啊呀哈]|$)"
)
_NAME_EN = re.compile(
    r"(?=[MmTtIiNnRrCc])(?i:\b(?:my name is|my name's|this is|i am|i'm|name:|recipient:|contact:)) "
    r"(?P<value>[A-Z][a-z]+(?: [A-Z][a-z]+)?)(?![A-Za-z])"
)

# --- rules and their priority -------------------------------------------------------------------------------

_Spans = Iterator[tuple[int, int]]


@dataclass(frozen=True)
class _Rule:
    kind: str
    rank: int  # where two matches overlap, the lower rank wins
    find: Callable[[str], _Spans]  # spans in the folded text


def _matches(
    pattern: re.Pattern[str], accept: Callable[[str], bool] | None = None
) -> Callable[[str], _Spans]:
    """Spans of ``pattern``'s matches (of its group ``value`` where it has one) that ``accept`` accepts."""

    def find(folded: str) -> _Spans:
        for match in pattern.finditer(folded):
            if accept is None or accept(match[0]):
                yield match.span("value") if "value" in pattern.groupindex else match.span()

    return find


def _find_emails(folded: str) -> _Spans:
    return _matches(_EMAIL)(folded) if "@" in folded else iter(())


def _find_old_ids(folded: str) -> _Spans:
    """15-digit IDs, only where a word such as 身份证 or ID comes just before."""
    for match in _ID15.finditer(folded):
        cue = _ID15_CUE.search(folded, max(0, match.start() - 16), match.start())
        if cue and _valid_id15(match[0]):
            yield match.span()


def _find_zh_addresses(folded: str) -> _Spans:
    """Addresses around each "路…号" core, tried from where the place-name characters before it begin."""
    done = 0
    for core in _ADDRESS_CORE.finditer(folded):
        if core.start() < done:
            continue  # part of the address just found
        start = core.start()
        while start > max(done, core.start() - _ADDRESS_REACH) and _is_place_char(folded[start - 1]):
            start -= 1
        for match in _ADDRESS_ZH.finditer(folded, start, min(len(folded), core.end() + _ADDRESS_REACH)):
            if match.start() <= core.start() and core.end() <= match.end():
                yield match.span()
                done = match.end()
                break


# An 18-digit number with a valid ID checksum is an ID even if it also passes Luhn with a card prefix; a
# card beats the old 15-digit ID, whose evidence (a date) is weaker than Luhn's.
_RULES: tuple[_Rule, ...] = (
    _Rule("id_number", 0, _matches(_ID18, _valid_id18)),
    _Rule("bank_card", 1, _matches(_CARD, _valid_card)),
    _Rule("id_number", 2, _find_old_ids),
    _Rule("email", 3, _find_emails),
    _Rule("phone", 4, _matches(_MOBILE)),
    _Rule("phone", 4, _matches(_LANDLINE)),
    _Rule("phone", 4, _matches(_INTERNATIONAL, _e164_length)),
    _Rule("phone", 4, _matches(_NORTH_AMERICAN)),
    _Rule("address", 5, _find_zh_addresses),
    _Rule("address", 5, _matches(_ADDRESS_EN)),
    _Rule("name", 6, _matches(_NAME_ZH)),
    _Rule("name", 6, _matches(_NAME_EN)),
)


@dataclass(frozen=True)
class _Candidate:
    rank: int
    start: int
    end: int
    kind: str


def _check_kinds(kinds: Collection[str]) -> frozenset[str]:
    unknown = sorted(set(kinds) - set(PII_KINDS))
    if unknown:
        raise ValueError(
            f"unknown PII kind(s) {', '.join(map(repr, unknown))}; known: {', '.join(PII_KINDS)}"
        )
    return frozenset(kinds)


def _candidates(folded: str, kinds: frozenset[str]) -> list[_Candidate]:
    return [
        _Candidate(rule.rank, start, end, rule.kind)
        for rule in _RULES
        if rule.kind in kinds
        for start, end in rule.find(folded)
    ]


def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep non-overlapping matches, higher-priority kinds first, then leftmost; linear after sorting."""
    chosen: list[_Candidate] = []
    for rank in sorted({c.rank for c in candidates}):
        blocking, index, last_end, taken = chosen, 0, -1, []
        for candidate in sorted((c for c in candidates if c.rank == rank), key=lambda c: (c.start, -c.end)):
            while index < len(blocking) and blocking[index].end <= candidate.start:
                index += 1
            if index < len(blocking) and blocking[index].start < candidate.end:
                continue  # inside a match of a kind that wins
            if candidate.start < last_end:
                continue  # overlaps an earlier match of this rank
            taken.append(candidate)
            last_end = candidate.end
        chosen = sorted([*blocking, *taken], key=lambda c: c.start)
    return chosen


def find_pii(text: str, kinds: Collection[str] = RELIABLE_KINDS) -> list[PiiMatch]:
    """The personal data in ``text`` of the given kinds: non-overlapping, in order of position.

    The reliable kinds are always looked for, so that what is reported for one kind does not depend on
    the others asked for (an ID number that also passes as a card stays an ID, even when only cards are
    asked for). Raises ValueError for a kind not in :data:`PII_KINDS`.
    """
    wanted = _check_kinds(kinds)
    if not wanted or not text:
        return []
    folded = _fold(text)
    resolved = _resolve(_candidates(folded, wanted | set(RELIABLE_KINDS)))
    return [PiiMatch(c.kind, c.start, c.end, text[c.start : c.end]) for c in resolved if c.kind in wanted]


def redact_pii(text: str, kinds: Collection[str] = RELIABLE_KINDS) -> str:
    """``text`` with each match replaced by its kind in brackets ("[phone]"); everything else unchanged."""
    return redacted_with_matches(text, kinds)[0]


def without_pii(text: str, kinds: Collection[str] = RELIABLE_KINDS) -> str:
    """``text`` with each match replaced by a space: what a question asks, without the contact details
    that came with it (a phone number is a word no passage holds)."""
    return _replaced(text, find_pii(text, kinds), lambda _: " ")


def redacted_with_matches(text: str, kinds: Collection[str] = RELIABLE_KINDS) -> tuple[str, list[PiiMatch]]:
    """:func:`redact_pii` and what it removed, from one search (ingestion reports what it redacted)."""
    matches = find_pii(text, kinds)
    return _replaced(text, matches, lambda match: f"[{match.kind}]"), matches


def _replaced(text: str, matches: Sequence[PiiMatch], replacement: Callable[[PiiMatch], str]) -> str:
    parts, position = [], 0
    for match in matches:
        parts += [text[position : match.start], replacement(match)]
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def pii_counts(text: str, kinds: Collection[str] = RELIABLE_KINDS) -> dict[str, int]:
    """How many matches of each asked-for kind ``text`` holds, zero included, in :data:`PII_KINDS` order."""
    wanted = _check_kinds(kinds)
    counts = dict.fromkeys((k for k in PII_KINDS if k in wanted), 0)
    for match in find_pii(text, wanted):
        counts[match.kind] += 1
    return counts
