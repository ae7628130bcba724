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
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from zhiwen.text.tokenize import keyword_tokens, proper_words

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
_ONLY_NAMES = re.compile(
    r"^\s*(?:那么?|还有)?\s*(?P<zh>[^，,。；;？?！!\s][^，,。；;？?！!]{0,11}?)\s*呢\s*[?？]?\s*$"
    r"|^\s*(?:(?:ok|okay|oh|and)[,，]?\s+)?(?:and|what about|how about)\s+(?:the\s+|a\s+|an\s+|my\s+)?"
    r"(?P<en>[^,，.?？!]{1,40}?)\s*[?？]?\s*$",
    re.IGNORECASE,
)
# … unless it points at the earlier subject ("那它呢", "带自动集尘的那款呢", "and the keyboard for it").
_POINTS_AT_IT = re.compile(
    r"它|这个|这款|这台|这种|那个|那款|那台|那种|同款"
    r"|\b(?:it|its|it's|they|them|their|this|that|these|those|one|ones)\b",
    re.IGNORECASE,
)
# A name after another word, with the words of a model that follow it ("Galaxy S20", "Pixel 6").
_CAPITALISED = re.compile(r"(?<=[A-Za-z0-9,;:'\")] )([A-Z][a-z]+(?: (?:[A-Za-z]*\d\w*|[A-Z]\w*))*)\b")
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

    def emphasis(self) -> dict[str, float]:
        """Each keyword term's weight: that of the latest turn it occurs in."""
        weights: dict[str, float] = {}
        for segment in self.segments:
            for term in keyword_tokens(segment.text):
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
    return bool(_REFERS_BACK.search(question)) or len(set(keyword_tokens(question))) <= SHORT_TERMS


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
    title_terms = [(title.lower(), set(keyword_tokens(title))) for title in titles]
    earlier = []
    for segment in understood.segments[1:]:
        subject = [t for t in dict.fromkeys(keyword_tokens(segment.text)) if _names_subject(t, title_terms)]
        if subject:
            earlier.append(Segment(" ".join(subject), segment.weight))
    if not earlier or [s.text for s in earlier] == [s.text for s in understood.segments[1:]]:
        return None
    return Understood((understood.segments[0], *earlier))


def named_instead(understood: Understood, titles: Sequence[str]) -> Understood | None:
    """``understood`` (a follow-up) when its message only names something in place of what an earlier turn
    asked about, with that earlier thing taken out of the earlier turns: "扫地机器人多少钱" then "那手表呢"
    is read as "多少钱 那手表呢", not as a question about both. What it replaces is, in this order:

    - an earlier subject of the same kind as the one the message names: words of documents' titles that
      share their frame ("Aurora … User Guide", "… 使用说明") with the titles naming the new one, so "Phone
      X1" makes way for "Watch S2" and "warranty" stays;
    - an earlier word with the same Chinese head ("金卡" for "铂金卡", "金卡客户" for "白金客户");
    - an earlier number, when the message gives another ("12期" → "6期呢", "512gb" → "and the 256?").

    None when the message is not of that form, points at the earlier subject ("那它呢", "the case for
    it"), or replaces nothing of the earlier turns."""
    match = _ONLY_NAMES.match(understood.question)
    if not understood.is_follow_up or match is None:
        return None
    named = match.group("zh") or match.group("en") or ""
    if _POINTS_AT_IT.search(named):
        return None
    title_terms = [(title.lower(), set(keyword_tokens(title))) for title in titles]
    new_subject = [t for t in keyword_tokens(named) if not t.isdigit() and _names_subject(t, title_terms)]

    def replaced(text: str) -> str:
        without = _without_subject(text, new_subject, title_terms) if new_subject else None
        return without if without is not None else _without_same_kind(named, text, title_terms)

    earlier = [Segment(replaced(s.text), s.weight) for s in understood.segments[1:]]
    if [s.text for s in earlier] == [s.text for s in understood.segments[1:]]:
        return None
    return Understood((understood.segments[0], *(s for s in earlier if keyword_tokens(s.text))))


def _without_subject(
    text: str, new_subject: Sequence[str], titles: Sequence[tuple[str, set[str]]]
) -> str | None:
    """``text`` without the subject words whose titles share a frame (a word of many titles) with those
    naming ``new_subject``; None when it has none."""
    frequent = Counter(word for _, words in titles for word in words)
    frame = {
        word
        for text_, words in titles
        if any(_in_title(t, text_, words) for t in new_subject)
        for word in words
        if frequent[word] > GENERIC_TITLES
    }
    replaced = [
        term
        for term in dict.fromkeys(keyword_tokens(text))
        if term not in new_subject
        and _names_subject(term, titles)
        and any(_in_title(term, text_, words) and words & frame for text_, words in titles)
    ]
    return _without(text, replaced) if replaced else None


def _without_same_kind(named: str, text: str, titles: Sequence[tuple[str, set[str]]]) -> str:
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
    earlier = [t for t in keyword_tokens(text) if not t.isascii() and len(t) > 1]
    same_ending = [e for e in earlier for t in own if e[-1] == t[-1] and e not in t and t not in e]
    if same_ending:
        return _without(text, same_ending)
    kinds = set(proper_words(named).values())
    if kinds:
        return _without(text, [w for w, kind in proper_words(text).items() if kind in kinds])
    if _proper_names(f"about {named}", titles):  # the name may start the message
        return _without(text, _proper_names(text, titles))
    if _NUMBER.search(named) and not any(n in text for n in _NUMBER.findall(named)):
        return " ".join(_NUMBER.sub("", text).split())
    return text


def _proper_names(text: str, titles: Sequence[tuple[str, set[str]]]) -> list[str]:
    """Capitalised Latin words not starting a sentence and in no title, with the model words after them:
    "Japan", "Platinum", "Galaxy S20"."""
    names = []
    for match in _CAPITALISED.finditer(text):
        word = match.group(1)
        first = word.split()[0].lower()
        if word != "I" and not any(_in_title(first, t, words) for t, words in titles):
            names.append(word)
    return names


def _without(text: str, words: Sequence[str]) -> str:
    """``text`` without ``words``: Chinese ones wherever they are, Latin ones as whole words."""
    for word in sorted(set(words), key=len, reverse=True):
        pattern = re.escape(word) if not word.isascii() else rf"\b{re.escape(word)}\b"
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return _SPACE_BEFORE_MARK.sub(r"\1", " ".join(text.split()))


def _names_subject(term: str, titles: Sequence[tuple[str, set[str]]]) -> bool:
    """Is ``term`` in a few titles: a Chinese term as a substring, a Latin one as a word or a word's
    start of three letters or more ("ship" in "Shipping")?"""
    found = sum(1 for text, words in titles if _in_title(term, text, words))
    return 0 < found <= GENERIC_TITLES


def _in_title(term: str, text: str, words: set[str]) -> bool:
    if term.isascii():
        return any(w == term or (len(term) >= 3 and w.startswith(term)) for w in words)
    return term in text


def last_understood(turns: Sequence[object]) -> Understood | None:
    """The latest stored turn that can be read back (``turns`` are stored ``understood`` values)."""
    for stored in reversed(turns):
        understood = Understood.from_dict(stored)
        if understood is not None:
            return understood
    return None
