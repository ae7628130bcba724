"""Extractive answering: pick the sentence of the retrieved passages that answers the question.

A sentence scores by the IDF-weighted share of the question's terms found in it or in its headings (the
headings give every sentence its context, so sentences compete on the terms that set them apart), plus a
bonus when the question asks for a kind of quantity (a duration, a price, a distance…) that the sentence
states. Chinese terms match as substrings, robust to segmentation differences; English terms match exactly,
or by a shared five-letter prefix ("swim" finds "swimming", "charger" "charging") at a discount.
A sentence that is itself a question (FAQ-style text) stands for the answer that follows it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from zhiwen.text.normalize import chinese_chars, detect_language
from zhiwen.text.sentences import is_list_item, split_sentences
from zhiwen.text.tokenize import keyword_tokens, names_and_places, read_terms
from zhiwen.types import Hit

PREFIX_CREDIT = 0.8
QUANTITY_BONUS = 0.2

_UNITS = {
    "duration": (
        r"\d[\d.,–-]*\s*(?:个)?(?:秒|分钟|小时|天|周|个月|月|年|工作日"
        r"|seconds?|minutes?|hours?|days?|weeks?|months?|years?|working days?)"
    ),
    "price": r"\d[\d.,–-]*\s*(?:元|yuan|%)|¥\s*\d",
    "distance": r"\d[\d.,–-]*\s*(?:米|公里|厘米|毫米|mm|cm|m|km|metres?|meters?)\b",
    "count": r"\d",
}
_QUESTION_TYPES = [
    (
        "duration",
        r"多久|多长时间|(?:几|多少)(?:个)?(?:天|周|星期|个月|月|年|小时|分钟|工作日)|什么时候|何时"
        r"|\bhow long\b|\bhow often\b|\bwhen\b|\bhow many (?:days|weeks|months|years|hours|minutes)\b",
    ),
    (
        "price",
        r"多少钱|价格|价钱|费用|收费|运费|\bhow much\b|\bcost\b|\bprice\b|\bspend\b|\bshare\b|\bpercent",
    ),
    ("distance", r"多远|多高|多宽|\bhow far\b|\bhow high\b|\bhow wide\b"),
    (
        "count",
        r"多少|几|多大|多重|\bhow many\b|\bhow big\b|\bhow fast\b|\bhow heavy\b|\bminimum\b|\bwhat size\b",
    ),
]
_QUESTION_END = re.compile(r"[?？]$")
_ENDS_SENTENCE = re.compile(r"[。！？；.!?;]$")
_ANY_PUNCTUATION = re.compile(r"[，,：:；;、。.!?！？)）”\"]")
SHORT_CHARS = 25
PASSAGE_CHARS = 420
_TABLE_CELLS = " | "  # how a table's row is written in a chunk
_NUMBERED = re.compile(r"\d{1,3}(?:[.)]\s|、)")
# Not "This Saturday…", "其他城市…", "这里": words that can only point back.
_POINTS_BACK = re.compile(r"(?:it|its|they|their|them|these|those)\b|它|其(?![他它余实次中])", re.IGNORECASE)
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")
_LOWER_WORD = re.compile(r"\b[a-z]{2,}\b")
MIN_ENGLISH_WORDS = 2  # lower-case words; a sentence with fewer is not English prose
BILINGUAL_SHARE = 0.3  # of a passage's characters, in each language: a translation, not a quoted address


def question_type(question: str) -> str | None:
    for name, pattern in _QUESTION_TYPES:
        if re.search(pattern, question, re.IGNORECASE):
            return name
    return None


def asked_type(turns: Sequence[str]) -> str | None:
    """The kind of quantity a conversation asks for now: that of the latest turn (``turns`` start with it)
    that asks for one. "扫地机一次能扫多久" then "那它多少钱？" asks a price, though 多久 comes first."""
    return next((kind for turn in turns if (kind := question_type(turn)) is not None), None)


@dataclass(frozen=True)
class Extract:
    hit: Hit
    text: str  # the sentence that answers best
    score: float
    passage: str = ""  # that sentence first, then the rest of its passage: what the customer reads
    states_quantity: bool = False  # the sentence states the kind of quantity asked for (a price, a duration)


def key_first(
    hit: Hit, key: str, max_chars: int = PASSAGE_CHARS, leave_out: Callable[[str], bool] | None = None
) -> str:
    """The passage of ``hit`` with ``key`` (its best sentence) first and the other sentences after it, in
    order, as far as ``max_chars`` allows, but for those ``leave_out`` says. A customer's question often
    turns on a condition that the key sentence's neighbours state ("paid after 4 pm…", "if the whole order
    is returned…"), so the whole short passage answers better than one sentence; the key sentence leads,
    so the answer still starts with it (a table's row after the table's header)."""
    if hit.chunk.kind == "faq":  # an FAQ's answer, whole; of an entry asked of another case, its sentence
        return hit.chunk.text[:max_chars] if hit.chunk.text.startswith(key) else key
    sentences = pieces(hit.chunk.text)
    # Numbered steps keep their order ("2. … 1. … 3." reads as nonsense) when the passage fits.
    if _NUMBERED.match(key) and len(hit.chunk.text) <= max_chars:
        in_order = [s for s in sentences if leave_out is None or not leave_out(s)]
        if in_order:
            return _joined(in_order)
    # A table's row is read under its header ("设备 | 费用" before "Mesh 子路由 | 10 元/月/台"), and a
    # sentence that starts by pointing back ("It works immediately…") after the one it points at.
    rows = [s for s in sentences if _TABLE_CELLS in s] if _TABLE_CELLS in key else []
    before = (
        [s for s, after in pairwise(sentences) if key.startswith(after)] if _POINTS_BACK.match(key) else []
    )
    lead = rows[0] if rows else before[0] if before and not _own_line(before[0]) else None
    fits = lead is not None and len(lead) + len(key) + 1 <= max_chars
    parts = [lead, key] if lead and fits and lead not in key and key not in lead else [key]
    length = len(" ".join(parts))
    for sentence in sentences:
        if any(sentence in part or part in sentence for part in parts):
            continue
        if leave_out is not None and leave_out(sentence):
            continue
        if length + len(sentence) + 1 > max_chars:
            break
        parts.append(sentence)
        length += len(sentence) + 1
    return _joined(parts)


def _joined(parts: Sequence[str]) -> str:
    """Sentences as one text: English ones after a space, Chinese ones by :func:`_then`, a table's rows
    and a list's items (and what comes before or after one) on lines of their own."""
    english = detect_language(" ".join(parts)) == "en"
    joined = parts[0]
    for previous, part in pairwise(parts):
        if _own_line(previous) or _own_line(part):
            joined = f"{joined}\n{part}"
        else:
            joined = f"{joined} {part}" if english else _then(joined, part)
    return joined


def answers_another(question: str, faq_question: str) -> bool:
    """Is an FAQ entry asked of another place or name than ``question`` is ("Do you ship to the United
    States?" for "Do you ship to Hong Kong?")? Its answer ("Not yet. We ship to Hong Kong, …") is then not
    this question's, though a sentence of it may answer."""
    asked, answered = names_and_places(question), names_and_places(faq_question)
    return bool(asked and answered and not asked & answered)


def _naming(question: str, answer: str) -> list[tuple[str, str]]:
    """The sentences of ``answer`` that name a place or name ``question`` names, as (scored, shown) units."""
    asked = names_and_places(question)
    return [(s, s) for s in pieces(answer) if any(name in s.lower() for name in asked)]


def pieces(text: str) -> list[str]:
    """What a passage is read and shown in: its sentences, but a list's item or a table's row whole (the
    second sentence of "- Qinghe Bank ATM: … . If the money isn't back …" alone reads as if said of
    whichever item it lands next to)."""
    found: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if _own_line(line):
            found.append(line)
        elif line:
            found.extend(split_sentences(line))
    return found


def _own_line(sentence: str) -> bool:
    return _TABLE_CELLS in sentence or is_list_item(sentence)


def _then(first: str, second: str) -> str:
    """``second`` after ``first``: on a line of its own when it is a list's item or a table's row, right
    after a Chinese sentence's end, else after a space (English, and the lines of an unmarked list:
    "北京：… 2 层 上海：…", not "2 层上海：")."""
    if _own_line(second):
        return f"{first}\n{second}"
    chinese_end = not first.isascii() and _ENDS_SENTENCE.search(first)
    return f"{first}{'' if chinese_end else ' '}{second}"


def written_in(sentence: str) -> str | None:
    """The language a sentence is written in, or None for a fragment that belongs to either (a product
    name, a rating scale, an address). English prose has lower-case words ("Family Share 199: 199 yuan a
    month"); a Chinese sentence naming things in Latin letters has few ("支持 EPUB、PDF 和 MOBI 格式")."""
    plain = _ADDRESS.sub(" ", sentence)
    lower_words, chinese = len(_LOWER_WORD.findall(plain)), chinese_chars(plain)
    if lower_words >= MIN_ENGLISH_WORDS and lower_words >= chinese:
        return "en"
    return "zh" if chinese else None


def _bilingual(text: str) -> bool:
    chars = {"zh": 0, "en": 0}
    for sentence in split_sentences(text):
        if (language := written_in(sentence)) is not None:
            chars[language] += len(sentence)
    return min(chars.values()) >= BILINGUAL_SHARE * sum(chars.values()) > 0


def shown_passage(hit: Hit, chosen: Extract, own: Extract | None, language: str | None) -> str:
    """What the customer reads: ``chosen`` first, then the rest of its passage (:func:`key_first`). Of a
    passage that says it in both languages (a bilingual catalogue entry: each carries at least
    :data:`BILINGUAL_SHARE` of it), only the customer's, led by ``own`` (its best sentence in the
    customer's ``language``) unless that is worth less than half of ``chosen``."""
    if language is None or own is None or own.score < 0.5 * chosen.score or not _bilingual(hit.chunk.text):
        return key_first(hit, chosen.text)
    return key_first(hit, own.text, leave_out=lambda s: written_in(s) not in (language, None))


def _prefix_match(term: str, tokens: set[str]) -> bool:
    """Shared five-letter stem ("swim"/"swimming"), or a number with its unit ("5g"/"5ghz")."""
    if term[0].isdigit():
        return any(t.startswith(term) for t in tokens)
    if len(term) < 4:
        return False
    return any(t.startswith(term[:5]) or (len(t) >= 4 and term.startswith(t[:5])) for t in tokens)


class _Matcher:
    def __init__(
        self,
        question: str,
        weights: Mapping[str, float],
        emphasis: Mapping[str, float] | None,
        kind: str | None,
    ) -> None:
        terms = read_terms(keyword_tokens(question), weights)
        default = min(weights.values(), default=1.0)
        emphasis = emphasis or {}
        self.weights = {t: weights.get(t, default) * emphasis.get(t, 1.0) for t in terms}
        self.total = sum(self.weights.values()) or 1.0
        self.units = re.compile(_UNITS[kind], re.IGNORECASE) if kind else None

    def found(self, text: str) -> dict[str, float]:
        """Credit (0–1) for each question term that ``text`` contains."""
        lowered = text.lower()
        tokens = {t for t in keyword_tokens(text) if t.isascii()}
        credit: dict[str, float] = {}
        for term in self.weights:
            if not term.isascii():
                if term in lowered:
                    credit[term] = 1.0
            elif term in tokens:
                credit[term] = 1.0
            elif _prefix_match(term, tokens):
                credit[term] = PREFIX_CREDIT
        return credit

    def credit(self, sentence: str, heading_credit: dict[str, float]) -> dict[str, float]:
        found = self.found(sentence)
        return {**heading_credit, **{t: max(c, heading_credit.get(t, 0.0)) for t, c in found.items()}}

    def states(self, sentence: str) -> bool:
        """Does ``sentence`` state the kind of quantity the question asks for?"""
        return self.units is not None and bool(self.units.search(sentence))

    def score(self, sentence: str, credit: dict[str, float], local: Mapping[str, float]) -> float:
        weights = {t: w * local.get(t, 1.0) for t, w in self.weights.items()}
        score = sum(weights[t] * c for t, c in credit.items()) / (sum(weights.values()) or 1.0)
        return score + (QUANTITY_BONUS if self.states(sentence) else 0.0)


def local_weights(credits: Sequence[dict[str, float]], terms: Sequence[str]) -> dict[str, float]:
    """Within one retrieval, a term found in every candidate sentence tells them apart no better than a
    stop word; one found in few is what picks the answer. log(1 + N / (1 + n)), as in query-focused
    sentence extraction."""
    n = len(credits)
    return {t: math.log(1 + n / (1 + sum(1 for c in credits if t in c))) for t in terms}


def _units(sentences: list[str], headings: str) -> list[tuple[str, str]]:
    """(text to score, text to show) for each sentence worth showing.

    A question ("How long does the battery last?") or a heading-like line ("Swimming") is scored together
    with the sentence after it and shown as that sentence; a very short sentence is shown with its follower.
    A table's row is scored with the table's header ("Branch | Saturday" names what "Community | closed"
    means) and shown alone; a list's item is scored and shown alone.
    """
    units = []
    header = ""
    for i, sentence in enumerate(sentences):
        following = sentences[i + 1] if i + 1 < len(sentences) else ""
        if sentence in headings:
            continue
        if _TABLE_CELLS in sentence:
            units.append((f"{header} {sentence}" if header else sentence, sentence))
            header = header or sentence
            continue
        if is_list_item(sentence):  # an item stands alone, however short
            units.append((sentence, sentence))
            continue
        leads_in = _QUESTION_END.search(sentence) or (
            len(sentence) < 40 and not _ANY_PUNCTUATION.search(sentence)
        )
        if leads_in:
            if following and not _QUESTION_END.search(following):
                units.append((f"{sentence} {following}", following))
            continue
        shown = sentence
        if len(sentence) < SHORT_CHARS and following:
            shown = _then(sentence, following)
        units.append((shown, shown))
    return units


def prefer_language(hits: Sequence[Hit], language: str, window: int) -> list[Hit]:
    """The top ``window`` hits written in the question's language, so answers come back in it; the best
    hit alone when none is."""
    return [h for h in hits[:window] if detect_language(h.chunk.text) == language] or list(hits[:1])


def extracts_by_hit(
    question: str,
    hits: Sequence[Hit],
    weights: Mapping[str, float],
    max_chars: int = 300,
    emphasis: Mapping[str, float] | None = None,
    language: str | None = None,
    turns: Sequence[str] = (),
) -> list[Extract]:
    """The best sentence of each hit, in the hits' order. Terms are weighted across the sentences of all
    the hits (:func:`local_weights`), so a sentence scores by what sets it apart from the other candidates.
    ``emphasis`` scales terms' weights (a follow-up's earlier turns count for less than its own words).
    Which hit answers is for :mod:`zhiwen.services.answers.choice` to decide. ``language``: the customer's,
    which a passage in two languages is shown in (:func:`shown_passage`). ``turns``: a follow-up's turns,
    latest first, which say what kind of quantity is asked (:func:`asked_type`); else the question does."""
    matcher = _Matcher(question, weights, emphasis, asked_type(turns or [question]))
    units: list[tuple[int, str, str, dict[str, float]]] = []
    for index, hit in enumerate(hits):
        if hit.chunk.kind == "faq":
            question_text = hit.chunk.question or ""
            # An entry asked of another place or name answers only in its sentences that name the
            # customer's ("We ship internationally to … Japan", not "Not yet.").
            naming = _naming(question, hit.chunk.text) if answers_another(question, question_text) else []
            for scored, shown in naming or [(question_text, hit.chunk.text)]:
                units.append((index, scored, shown, matcher.credit(scored, {})))
            continue
        headings = f"{hit.document_title} > {hit.chunk.title_path}"
        heading_credit = matcher.found(headings)
        for scored, shown in _units(pieces(hit.chunk.text), headings):
            units.append((index, scored, shown, matcher.credit(scored, heading_credit)))
    local = local_weights([u[3] for u in units], list(matcher.weights))
    best: dict[int, Extract] = {}
    own: dict[int, Extract] = {}  # the best in the customer's language
    for index, scored, shown, credit in units:
        score = matcher.score(scored, credit, local)
        extract = Extract(hits[index], shown[:max_chars], score, states_quantity=matcher.states(shown))
        if index not in best or score > best[index].score:
            best[index] = extract
        mine = language is not None and written_in(shown) == language
        if mine and (index not in own or score > own[index].score):
            own[index] = extract
    extracts = []
    for index, hit in enumerate(hits):
        chosen = best.get(index) or Extract(hit, hit.chunk.text[:max_chars], 0.0)
        passage = shown_passage(hit, chosen, own.get(index), language)
        extracts.append(dataclasses.replace(chosen, passage=passage))
    return extracts
