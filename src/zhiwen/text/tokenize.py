"""Keyword tokens for BM25: jieba for Chinese, lower-cased S-stemmed words for English, numbers kept.

Indexing and querying must tokenise identically, so both go through :func:`keyword_tokens`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Container, Sequence
from functools import lru_cache

import jieba

from zhiwen.text.normalize import normalize
from zhiwen.types import Chunk

jieba.setLogLevel(logging.WARNING)
_init_lock = threading.Lock()

_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_HAS_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_INNER_JOINER = re.compile(r"(?<=[a-z0-9])[-'](?=[a-z0-9])")  # jieba would cut "wi-fi" and "don't"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})  # phones type "don’t"

EN_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "am",
        "any",
        "about",
        "also",
        "just",
        "i'm",
        "it's",
        # Customers' written English: quantifiers, adverbs, pronouns, light verbs and contractions
        # written without their apostrophe. They say nothing of what is asked, and a knowledge base rarely
        # writes them, so left in they count as words it lacks ("how many", "got it 2 weeks ago"). "much"
        # stays a term: "how much" asks a price, and the chooser reads it so on the knowledge-worded set.
        "many",
        "here",
        "ago",
        "till",
        "til",
        "too",
        "even",
        "still",
        "already",
        "actually",
        "really",
        "very",
        "since",
        "thru",
        "instead",
        "anymore",
        "something",
        "anything",
        "someone",
        "anyone",
        "he",
        "she",
        "him",
        "her",
        "his",
        "hers",
        "mine",
        "myself",
        "want",
        "need",
        "got",
        "get",
        "getting",
        "said",
        "say",
        "tell",
        "told",
        "im",
        "ive",
        "i'd",  # folded it would read "id", as in an ID card
        "i'll",
        "you'll",
        "he'll",
        "she'll",
        "we'll",
        "they'll",
        "it'll",
        "hes",
        "shes",
        "youd",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wont",
        "cant",
        "hasnt",
        "havent",
        "lol",
        "rn",
        "hi",
        "hello",
        "ok",
        "okay",
        "thanks",
    ]
)
ZH_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "嘛",
        "我",
        "你",
        "您",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "和",
        "与",
        "及",
        "或",
        "在",
        "就",
        "都",
        "也",
        "还",
        "有",
        "没有",
        "这",
        "那",
        "这个",
        "那个",
        "一个",
        "什么",
        "怎么",
        "怎么样",
        "如何",
        "请问",
        "可以",
        "能",
        "能否",
        "会",
        "要",
        "想",
        "对",
        "把",
        "被",
        "给",
        "让",
        "吗",
        "个",
        "请",
        "一下",
        "哪些",
        "哪个",
        "多少",
        "为什么",
        "哪里",
        "哪儿",
        "哪",
        "几",
        "几点",
        "多久",
        "多长",
        "怎样",
        "是否",
        "呀",
        "嗯",
        "该",
        # Customers' spoken Chinese: question words, particles and discourse words that say nothing of
        # what is asked. Left in, a question written the way people talk ("现在还能退吗 已经过了7天")
        # counted them as words the knowledge lacks, as if it asked of something the documents never name.
        "啥",
        "咋",
        "咋办",
        "怎么办",
        "啥时候",
        "什么时候",
        "时候",
        "多长时间",
        "啦",
        "哦",
        "喔",
        "哈",
        "呗",
        "诶",
        "哎",
        "呃",
        "现在",
        "已经",
        "还是",
        "还要",
        "就是",
        "的话",
        "一些",
        "一直",
        "其实",
        "到底",
        "大概",
        "然后",
        "但是",
        "不过",
        "而且",
        "如果",
        "因为",
        "所以",
        "那么",
        "这么",
        "这种",
        "那种",
        "这样",
        "那样",
        "另外",
        "一般",
    ]
)


def _ensure_jieba() -> None:
    if not jieba.dt.initialized:
        with _init_lock:
            jieba.initialize()


def dictionary_edges(text: str) -> set[int]:
    """Where a word of jieba's dictionary may start or end in ``text``, in any of the ways search mode
    reads it ("退货运费" as 退/货运费 and as 运费), without guessing unknown words: a Chinese word matched
    inside another ("价保" in "评价保存") crosses one."""
    _ensure_jieba()
    edges = {0, len(text)}
    for _, start, end in jieba.tokenize(text, mode="search", HMM=False):
        edges.update((start, end))
    return edges


_PLACE_OR_TIME = {"ns": "place", "t": "day"}  # jieba's part-of-speech tags
# Jieba tags both 周六 and 下午 as times; a customer who says "周六呢" after "下午5点付款" changes the
# day, not the time of day.
_TIMES_OF_DAY = frozenset(
    {
        "上午",
        "下午",
        "中午",
        "晚上",
        "早上",
        "早晨",
        "清晨",
        "凌晨",
        "傍晚",
        "黄昏",
        "夜里",
        "夜间",
        "夜晚",
        "半夜",
        "深夜",
        "午夜",
        "白天",
    }
)


# Jieba's part-of-speech tags of words that never name what a question is about: measures, pronouns
# (自己, 有人), directions (之前, 里面), conjunctions, prepositions, particles, interjections, non-words.
# Numerals (m) and times (t) only in part, below. Adverbs (d), places (s: 国外, 境内) and distinguishing
# words (b: 临时, 长期) often do name it ("境外刷卡要手续费吗", "临时额度怎么提").
_NOT_TOPIC_TAGS = frozenset(
    {"mq", "q", "r", "f", "c", "p", "y", "e", "o", "x", "u", "ud", "ug", "uj", "ul", "uv", "uz"}
)
_NUMERALS_AND_MEASURES = frozenset(
    "零〇一二两三四五六七八九十百千万亿半几多第每个年月天日周号点分秒次张元块岁台件条笔期倍份位只本套部回趟遍"
)
# A time said from the speaker's now (今天, 上个月, 当天, 平时) or a time of day; not a day a policy names
# (生日, 国庆, 周末, 月底).
_RELATIVE_TIME = re.compile(r"^[今昨明前后去上下这本当刚平现将目近]")
_TOPICAL_PRONOUNS = frozenset({"本人", "他人", "别人", "本地"})  # "不是本人可以代办吗"


def names_a_topic(term: str) -> bool:
    """Whether ``term`` may name what a question is about: not a Chinese word that jieba's dictionary tags
    as a function word, a number with its measure (一个月, 几天, 半年), or a time said from the speaker's
    now (下午, 上个月). A question may use such words ("一个月多少钱", "自己能改吗") that a knowledge base
    never writes, without asking of anything it lacks."""
    tag = _dictionary_tag(term)
    if tag == "m":
        return not all(c in _NUMERALS_AND_MEASURES for c in term)
    if tag in ("t", "tg"):
        return not (term in _TIMES_OF_DAY or _RELATIVE_TIME.match(term))
    if tag == "r":
        return term in _TOPICAL_PRONOUNS
    return tag not in _NOT_TOPIC_TAGS


_NOUN_TAGS = frozenset({"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "vn"})


def is_noun(term: str) -> bool:
    """Whether ``term`` is a Chinese noun of two characters or more by jieba's dictionary (电动汽车, 华为,
    地铁)."""
    return len(term) > 1 and _dictionary_tag(term) in _NOUN_TAGS


def _dictionary_tag(term: str) -> str | None:
    """The part of speech jieba's dictionary gives ``term`` (None for a word it lacks); jieba.posseg is
    imported here: it loads its own tables."""
    import jieba.posseg

    _ensure_jieba()
    tag = jieba.posseg.dt.word_tag_tab.get(term)
    return str(tag) if tag is not None else None


def places_and_times(text: str) -> dict[str, str]:
    """The Chinese words of ``text`` that name a place (杭州, 马来西亚), a day (周六, 大年初一) or a time of
    day (下午), with that kind ("place", "day", "time of day"), by jieba's part-of-speech tags (imported
    here: it loads its own tables)."""
    import jieba.posseg

    _ensure_jieba()
    return {
        w.word: "time of day" if w.word in _TIMES_OF_DAY else _PLACE_OR_TIME[w.flag]
        for w in jieba.posseg.cut(text)
        if w.flag in _PLACE_OR_TIME and len(w.word) > 1
    }


# A capitalised name after another word or right after a Chinese character ("寄到Japan"), with the words
# of a model that follow it ("Galaxy S20", "Pixel 6"): not a sentence's first word.
_CAPITALISED = re.compile(
    r"(?:(?<=[A-Za-z0-9,;:'\")] )|(?<=[\u4e00-\u9fff]))"
    r"([A-Z][a-z]+(?: (?:[A-Za-z]*\d[A-Za-z0-9]*|[A-Z][A-Za-z0-9]*))*)(?![A-Za-z0-9])"
)


def capitalised_names(text: str) -> list[str]:
    """The capitalised Latin names in ``text``, with the model words after them: "Japan", "Hong Kong",
    "Galaxy S20" (not "I", nor a sentence's first word)."""
    return [name for match in _CAPITALISED.finditer(text) if (name := match.group(1)) != "I"]


_MODEL_NAME = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+\d+[A-Za-z0-9]*(?![A-Za-z0-9])")


def model_names(text: str) -> set[str]:
    """Letters then digits, as products and standards are named ("X1", "R7", "T10", "IP68", "AX3000"),
    lower-cased: written the same in Chinese and English text."""
    return {name.lower() for name in _MODEL_NAME.findall(normalize(text))}


@lru_cache(maxsize=4096)
def names_and_places(text: str) -> frozenset[str]:
    """The names (:func:`capitalised_names`, lower-cased) and the Chinese place names of ``text``; cached,
    as FAQ entries' questions are read again with every question that retrieves them."""
    places = {word for word, kind in places_and_times(text).items() if kind == "place"}
    return frozenset({name.lower() for name in capitalised_names(text)} | places)


def stem_en(word: str) -> str:
    """Harman's S-stemmer: conservative plural folding that never hurts precision much (Harman, 1991)."""
    if len(word) > 4 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


@lru_cache(maxsize=50_000)
def _english_token(word: str) -> str | None:
    if word in EN_STOPWORDS:
        return None
    token = stem_en(word.replace("'", "").replace("-", ""))  # "Wi-Fi" and "WiFi" are one word
    return None if token in EN_STOPWORDS else token  # "don't" as "dont", "what's" as "what"


def keyword_tokens(text: str) -> list[str]:
    """Tokens of ``text`` for keyword search, stop words removed, in order."""
    text = normalize(text).lower().translate(_APOSTROPHES)
    tokens: list[str] = []
    if not _HAS_CJK.search(text):
        for word in _WORD.findall(text):
            token = _english_token(word)
            if token:
                tokens.append(token)
        return tokens
    _ensure_jieba()
    for piece in jieba.cut_for_search(_INNER_JOINER.sub("", text)):
        piece = piece.strip()
        if not piece or piece in ZH_STOPWORDS or all(c in ZH_STOPWORDS for c in piece):
            continue  # a guess such as 我要 is stop words too
        if _HAS_CJK.search(piece):
            tokens.append(piece)
        else:
            for word in _WORD.findall(piece):
                token = _english_token(word)
                if token:
                    tokens.append(token)
    return tokens


MAX_GUESSED_CHARS = 8  # longer guesses are left whole: splitting them is quadratic in their length


def guessed(term: str) -> bool:
    """Whether ``term`` is a Chinese word jieba guessed (its HMM joins characters its dictionary lacks): it
    often swallows a neighbour, "银卡要" of "银卡要什么条件" where the documents wrote "银卡：…"."""
    _ensure_jieba()
    return 1 < len(term) <= MAX_GUESSED_CHARS and bool(_HAS_CJK.search(term)) and not jieba.dt.FREQ.get(term)


def inner_words(term: str) -> list[str]:
    """Every shorter piece of ``term`` that could be a word: what :func:`read_terms` may split it into."""
    pieces = (term[i:j] for i in range(len(term)) for j in range(i + 1, len(term) + 1))
    return [p for p in dict.fromkeys(pieces) if p != term and p not in ZH_STOPWORDS]


def read_terms(terms: Sequence[str], known: Container[str]) -> list[str]:
    """``terms`` as the knowledge knows them: a word jieba guessed that no document holds is read as the
    known words it is made of ("银卡要" as 银卡, "加副卡" as 加 and 副卡), so a question does not miss the
    passages of a word it wrote beside another. Dictionary words are kept: a word the documents lack is
    a real gap ("折扣" where they say 优惠), not a segmentation slip."""
    read: list[str] = []
    for term in terms:
        if term in known or not guessed(term):
            read.append(term)
        else:
            read.extend(_known_cover(term, known) or [term])
    return list(dict.fromkeys(read))


def _known_cover(term: str, known: Container[str]) -> list[str]:
    """The known words covering most of ``term``'s characters, fewest words on a tie (dynamic programming
    over where each word ends; ``term`` is short)."""
    best: list[tuple[int, int, list[str]]] = [(0, 0, [])]  # per prefix: (covered, -words, words)
    for end in range(1, len(term) + 1):
        covered, fewer, words = best[end - 1]
        options = [(covered, fewer, words)]  # term[end - 1] left out
        for start in range(end):
            piece = term[start:end]
            if piece != term and piece in known:
                c, f, w = best[start]
                options.append((c + end - start, f - 1, [*w, piece]))
        best.append(max(options, key=lambda o: (o[0], o[1])))
    return best[-1][2]


def squeezed(text: str) -> str:
    """Lower case without any whitespace: Chinese and English compared character by character."""
    return "".join(text.lower().split())


def char_bigrams(squeezed_text: str) -> set[str]:
    """Character bigrams: robust to how jieba segments two paraphrases of the same words."""
    return {squeezed_text[i : i + 2] for i in range(len(squeezed_text) - 1)}


def indexed_text(chunk: Chunk) -> str:
    """What keyword search matches a chunk on: FAQ entries their question, passages title path and text."""
    if chunk.kind == "faq" and chunk.question:
        return chunk.question
    return f"{chunk.title_path}\n{chunk.text}"


def indexed_terms(chunk: Chunk) -> str:
    """The chunk's keyword terms, space-separated as the keyword index stores them."""
    return " ".join(keyword_tokens(indexed_text(chunk)))
