"""Follow-up questions: understand "那它多少钱？" or "and the Watch S2?" from the conversation so far.

Without an LLM to rewrite the question, a follow-up is understood as the earlier turns' questions plus
this one, each earlier turn weighing half as much as the one after it. Retrieval searches the whole
understood text (the product of the first turn finds its manual, the price asked now finds the price);
extraction weighs each term by its turn, so the subject just named ("the Watch S2") beats the one it
replaces. The earlier turns' other words can drown the new question ("扫地机一次能扫多久" then
"那它多少钱？" searches for run time), so a second reading keeps of them only their subject: the words
that name a product or topic of the knowledge (they occur in a document's title). Whether a message
continues the conversation or opens a new topic is decided by its words (pronouns, "and…?", "那…呢？") and,
for short messages that could be either, by which reading the answer is more confident in.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from zhiwen.text.tokenize import (
    capitalised_names,
    guessed,
    inner_words,
    is_noun,
    keyword_tokens,
    names_a_topic,
    places_and_times,
    read_terms,
)

DECAY = 0.5  # each earlier turn weighs half as much as the turn after it
MIN_WEIGHT = 0.2  # turns below this weight are forgotten (the third turn back is)
MAX_SEGMENT_CHARS = 300
SHORT_TERMS = 3  # a message with at most this many keyword terms may be elliptical
GENERIC_TITLES = 3  # a word in more titles than this ("使用", "guide", the brand) names no one subject

# Words that point back at something said before: pronouns and demonstratives, "and …?", "what if …",
# "那…", "…呢" (a question particle that asks "and what about…").
_REFERS_BACK = re.compile(
    r"^\s*(?:那|那么|那如果|如果是|要是|还有|换成|换个|同样|也)"
    r"|它|它们|这个|这款|这台|这种|那个|那款|那台|那种|该产品|同款"
    r"|呢\s*[?？]?\s*$"
    r"|^\s*(?:and|what about|how about|what if|and if|also|same)\b"
    r"|\b(?:it|its|it's|they|them|their|that one|this one|the same)\b",
    re.IGNORECASE,
)
# A message that only names something ("那手表呢", "铂金卡呢？", "and the Watch S2?", "what about 6 months?"):
# the earlier question is asked again of it.
# Matched on the message with its spaces collapsed, and only when it is short (NAMING_CHARS).
_ONLY_NAMES = re.compile(
    r"^(?:那么?|还有)? ?(?P<zh>[^，,。；;？?！! ][^，,。；;？?！!]{0,11}?) ?呢 ?[?？]?$"
    r"|^(?:(?:ok|okay|oh|and)[,，]? )?(?:and|what about|how about) (?:the |a |an |my )?"
    r"(?P<en>[^,，.?？! ](?:[^,，.?？!]{0,38}[^,，.?？! ])?) ?[?？]?$",
    re.IGNORECASE,
)
NAMING_CHARS = 60  # longer messages say more than a name
# Words that name nothing: "还有呢" asks for more, not about 所有.
_FILLER = frozenset({"还有", "然后", "其他", "其它", "别的", "那么", "else", "more", "other", "then"})
# … unless it points at the earlier subject ("那它呢", "带自动集尘的那款呢", "and the keyboard for it").
_POINTS_AT_IT = re.compile(
    r"它|这个|这款|这台|这种|那个|那款|那台|那种|同款"
    r"|\b(?:it|its|it's|they|them|their|this|that|these|those|one|ones)\b",
    re.IGNORECASE,
)
_SPACE_BEFORE_MARK = re.compile(r" ([?？,，.。!！;；:：])")
_NUMBER = re.compile(r"(?<![A-Za-z\d.])\d+(?:\.\d+)?")  # not a model's ("X1")
# Words that announce a change of subject.
_NEW_TOPIC = re.compile(
    r"^\s*(?:对了|另外|还想问|另一个问题|顺便问|换个问题|by the way|btw|unrelated|another question|"
    r"different question|also,? (?:a|one) question|one more thing)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Segment:
    text: str
    weight: float


@dataclass(frozen=True)
class Understood:
    """A question as understood in its conversation: this turn's text first, then earlier turns'."""

    segments: tuple[Segment, ...]

    @classmethod
    def alone(cls, question: str) -> Understood:
        return cls((Segment(question, 1.0),))

    @property
    def question(self) -> str:
        return self.segments[0].text

    @property
    def is_follow_up(self) -> bool:
        return len(self.segments) > 1

    @property
    def text(self) -> str:
        """What retrieval searches: the turns in the order they were asked."""
        return " ".join(s.text for s in reversed(self.segments))

    def rewritten(self, rewrite: Callable[[str], str]) -> Understood:
        """Each turn's text through ``rewrite``; turns it leaves blank are kept as they were."""
        return Understood(tuple(Segment(rewrite(s.text).strip() or s.text, s.weight) for s in self.segments))

    def emphasis(self, known: Container[str] = frozenset()) -> dict[str, float]:
        """Each keyword term's weight: that of the latest turn it occurs in; terms read as the ``known``
        words (the knowledge's: :func:`read_terms`)."""
        weights: dict[str, float] = {}
        for segment in self.segments:
            for term in read_terms(keyword_tokens(segment.text), known):
                weights.setdefault(term, segment.weight)
        return weights

    def to_dict(self) -> list[dict[str, object]]:
        return [{"text": s.text, "weight": s.weight} for s in self.segments]

    @classmethod
    def from_dict(cls, data: object) -> Understood | None:
        """The stored form of :meth:`to_dict`; None when it is missing or malformed (an older answer)."""
        if not isinstance(data, list) or not data:
            return None
        segments = []
        for item in data:
            if not isinstance(item, Mapping):
                return None
            text, weight = item.get("text"), item.get("weight")
            if not isinstance(text, str) or not isinstance(weight, int | float):
                return None
            segments.append(Segment(text, float(weight)))
        return cls(tuple(segments))


def opens_new_topic(question: str) -> bool:
    """Does the message announce a change of subject ("对了", "by the way")?"""
    return bool(_NEW_TOPIC.search(question))


def refers_back(question: str) -> bool:
    """Does the message point back at something said before (so it is read as a follow-up)?"""
    return bool(_REFERS_BACK.search(question)) and not opens_new_topic(question)


def may_continue(question: str) -> bool:
    """Could this message continue the conversation? Yes when it points back, or when it is short enough
    to be elliptical ("黑色的有吗", "the Watch S2?"); no when it announces a new topic."""
    if opens_new_topic(question):
        return False
    return bool(_REFERS_BACK.search(question)) or len(content_words(question)) <= SHORT_TERMS


def content_words(question: str) -> list[str]:
    """The words of ``question`` that may name what it asks about (:func:`names_a_topic`), each counted
    once: not the pieces search mode also cuts from a longer Chinese word (手续 and 续费 of 手续费)."""
    terms = list(dict.fromkeys(keyword_tokens(question)))
    return [
        t for t in terms if names_a_topic(t) and (t.isascii() or not any(t != o and t in o for o in terms))
    ]


def names_something_unknown(question: str, known: Container[str]) -> bool:
    """Does a message of more than :data:`SHORT_TERMS` terms name a thing no passage mentions (a Chinese
    noun the ``known`` words lack)? Then it asks a question of its own, and the earlier turns' words would
    only make one the knowledge cannot answer look answered: "你们卖电动汽车吗？" after "那充电宝呢？".
    Shorter messages are elliptical too often ("多少钱", "金卡有啥福利") to be read alone for this."""
    terms = read_terms(keyword_tokens(question), known)
    return len(set(terms)) > SHORT_TERMS and any(t not in known and is_noun(t) for t in terms)


def in_context(question: str, previous: Understood | None) -> Understood | None:
    """``question`` read as a continuation of ``previous`` (the last turn as understood), or None when there
    is no earlier turn or the message cannot continue it."""
    if previous is None or not may_continue(question):
        return None
    return continued(question, previous)


def continued(question: str, previous: Understood) -> Understood:
    """``question`` after ``previous``, whose turns weigh :data:`DECAY` times less each turn back."""
    earlier = [
        Segment(s.text[:MAX_SEGMENT_CHARS], s.weight * DECAY)
        for s in previous.segments
        if s.weight * DECAY >= MIN_WEIGHT
    ]
    return Understood((Segment(question, 1.0), *earlier))


def about_subject(understood: Understood, titles: Sequence[str]) -> Understood | None:
    """``understood`` (a follow-up) with its earlier turns reduced to their subject: the words that occur
    in the titles of at most :data:`GENERIC_TITLES` documents. None when the earlier turns name none, or
    when nothing would change."""
    if not understood.is_follow_up:
        return None
    index = read_titles(titles)
    earlier = []
    for segment in understood.segments[1:]:
        subject = [t for t in dict.fromkeys(keyword_tokens(segment.text)) if index.names_subject(t)]
        if subject:
            earlier.append(Segment(" ".join(subject), segment.weight))
    if not earlier or [s.text for s in earlier] == [s.text for s in understood.segments[1:]]:
        return None
    return Understood((understood.segments[0], *earlier))


def named_instead(understood: Understood, titles: Sequence[str]) -> Understood | None:
    """``understood`` (a follow-up) when its message only names something in place of what an earlier turn
    asked about, with that earlier thing taken out of the earlier turns: "扫地机器人多少钱" then "那手表呢"
    is read as "多少钱 那手表呢", not as a question about both. What it replaces is the first found of:

    - an earlier subject of the same kind as the one the message names: words of titles (documents' or a
      catalogue's rows') that share their frame ("Aurora … User Guide", "… 使用说明") with the titles
      naming the new one, so "Phone X1" makes way for "Watch S2" and "warranty" stays;
    - otherwise, earlier words of the kind the message names (:func:`_without_same_kind`): the same
      Chinese head ("金卡" for "铂金卡"), the same last character ("铂金卡" for "黑钻卡"), a place or a
      time ("北京" for "深圳呢"), a Latin name in no title ("Japan" for "and to Germany?"), a number
      ("12期" → "6期呢", "512gb" → "and the 256?").

    None when the message is not of that form, points at the earlier subject ("那它呢", "the case for
    it"), or replaces nothing of the earlier turns."""
    message = " ".join(understood.question.split())
    if not understood.is_follow_up or len(message) > NAMING_CHARS:
        return None
    match = _ONLY_NAMES.match(message)
    if match is None:
        return None
    named = match.group("zh") or match.group("en") or ""
    if _POINTS_AT_IT.search(named) or not set(keyword_tokens(named)) - _FILLER:
        return None
    index = read_titles(titles)
    new_subject = [t for t in keyword_tokens(named) if not t.isdigit() and index.names_subject(t)]

    def without_what_it_replaces(text: str) -> str:
        without = _without_subject(text, new_subject, index) if new_subject else None
        return without if without is not None else _without_same_kind(named, text, index)

    earlier = [Segment(without_what_it_replaces(s.text), s.weight) for s in understood.segments[1:]]
    if [s.text for s in earlier] == [s.text for s in understood.segments[1:]]:
        return None
    return Understood((understood.segments[0], *(s for s in earlier if keyword_tokens(s.text))))


def _without_subject(text: str, new_subject: Sequence[str], index: TitleIndex) -> str | None:
    """``text`` without the subject words whose titles share a frame (a word of many titles) with those
    naming ``new_subject``; None when it has none."""
    frame = {
        word
        for term in new_subject
        for i in index.holding(term)
        for word in index.words[i]
        if index.titles_with[word] > GENERIC_TITLES
    }
    replaced = [
        term
        for term in dict.fromkeys(keyword_tokens(text))
        if term not in new_subject
        and index.names_subject(term)
        and any(index.words[i] & frame for i in index.holding(term))
    ]
    return _without(text, replaced) if replaced else None


def _without_same_kind(named: str, text: str, index: TitleIndex) -> str:
    """``text`` without its words of the kind ``named`` is, the first of these found:

    - the longest ending (≥ 2 characters) of a Chinese word of ``named`` ("金卡" of "铂金卡");
    - words with the same last character ("铂金卡" for "黑钻卡");
    - places or times ("北京" for "深圳呢", "春节初二" for "大年初一呢");
    - Latin proper names that no title holds ("Japan" for "and to Germany?");
    - numbers, when ``named`` gives one ("12" for "6期呢")."""
    lowered = text.lower()
    own = [t for t in keyword_tokens(named) if not t.isascii() and len(t) > 1]
    heads = [
        term[start:]
        for term in own
        if term not in lowered
        for start in range(1, len(term) - 1)
        if term[start:] in lowered
    ]
    if heads:
        return _without(text, [max(heads, key=len)])
    # A word jieba guessed may have swallowed a neighbour ("银卡要" of "银卡要什么条件"): its pieces count.
    words = [
        w
        for t in keyword_tokens(text)
        for w in (t, *(inner_words(t) if guessed(t) else ()))
        if not w.isascii() and len(w) > 1
    ]
    same_ending = [w for w in words for t in own if w[-1] == t[-1] and w not in t and t not in w]
    if same_ending:
        return _without(text, same_ending)
    kinds = set(places_and_times(named).values())
    if kinds:
        return _without(text, [w for w, kind in places_and_times(text).items() if kind in kinds])
    if _proper_names(f"about {named}", index):  # the name may start the message
        return _without(text, _proper_names(text, index))
    numbers, earlier_numbers = set(_NUMBER.findall(named)), set(_NUMBER.findall(text))
    if numbers and earlier_numbers and not numbers & earlier_numbers:
        return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(_NUMBER.sub("", text).split()))
    return text


def _proper_names(text: str, index: TitleIndex) -> list[str]:
    """Capitalised Latin words not starting a sentence and in no title, with the model words after them:
    "Japan", "Platinum", "Galaxy S20", "寄到Japan"."""
    return [name for name in capitalised_names(text) if not index.holding(name.split()[0].lower())]


def _without(text: str, words: Sequence[str]) -> str:
    """``text`` without ``words``: Chinese ones wherever they are, Latin ones as whole words (beside a
    Chinese character too: "X1多少钱"); ``text`` as it was when there are none."""
    if not words:
        return text
    for word in sorted(set(words), key=len, reverse=True):
        pattern = (
            re.escape(word) if not word.isascii() else rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])"
        )
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(text.split()))


@dataclass(frozen=True)
class TitleIndex:
    """Titles read once (:func:`read_titles`): each one lower-cased with its keyword tokens, how many titles
    hold each word, and where to look up which titles hold a term (a catalogue can have 10,000 rows)."""

    texts: tuple[str, ...]
    words: tuple[frozenset[str], ...]
    titles_with: Counter[str]
    sorted_words: tuple[str, ...]  # every title word, for a prefix's range
    by_word: dict[str, tuple[int, ...]]
    by_pair: dict[str, frozenset[int]]  # each pair of characters (one for a single one): the titles with it

    @classmethod
    def of(cls, titles: Sequence[str]) -> TitleIndex:
        texts = tuple(t.lower() for t in titles)
        words = tuple(frozenset(keyword_tokens(title)) for title in titles)
        by_word: dict[str, list[int]] = {}
        by_pair: dict[str, set[int]] = {}
        for i, (text, title_words) in enumerate(zip(texts, words, strict=True)):
            for word in title_words:
                by_word.setdefault(word, []).append(i)
            for pair in {*text, *(text[j : j + 2] for j in range(len(text) - 1))}:
                by_pair.setdefault(pair, set()).add(i)
        return cls(
            texts,
            words,
            Counter(w for ws in words for w in ws),
            tuple(sorted(by_word)),
            {w: tuple(ids) for w, ids in by_word.items()},
            {pair: frozenset(ids) for pair, ids in by_pair.items()},
        )

    def holding(self, term: str) -> tuple[int, ...]:
        """The titles that hold ``term``: a Chinese term as a substring, a Latin one as a word or a word's
        start of three letters or more ("ship" in "Shipping")."""
        if term.isascii():
            if len(term) < 3:
                return self.by_word.get(term, ())
            found: set[int] = set()
            at = bisect_left(self.sorted_words, term)
            while at < len(self.sorted_words) and self.sorted_words[at].startswith(term):
                found.update(self.by_word[self.sorted_words[at]])
                at += 1
            return tuple(sorted(found))
        pairs = [term[j : j + 2] for j in range(len(term) - 1)] or [term]
        candidates = frozenset.intersection(*(self.by_pair.get(p, frozenset()) for p in pairs))
        return tuple(sorted(i for i in candidates if term in self.texts[i]))

    def names_subject(self, term: str) -> bool:
        """Is ``term`` in a few titles (at most :data:`GENERIC_TITLES`): a product or topic, not the brand?"""
        return 0 < len(self.holding(term)) <= GENERIC_TITLES


@lru_cache(maxsize=16)
def _title_index(titles: tuple[str, ...]) -> TitleIndex:
    return TitleIndex.of(titles)


def read_titles(titles: Sequence[str]) -> TitleIndex:
    """The :class:`TitleIndex` of ``titles``, read once for as long as they stay the same (a catalogue of
    10,000 rows takes seconds to segment)."""
    return _title_index(tuple(titles))


def last_understood(turns: Sequence[object]) -> Understood | None:
    """The latest stored turn that can be read back (``turns`` are stored ``understood`` values)."""
    for stored in reversed(turns):
        understood = Understood.from_dict(stored)
        if understood is not None:
            return understood
    return None
