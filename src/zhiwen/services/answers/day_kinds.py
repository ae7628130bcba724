"""Days of the week in the words policies use for them: documents state rules for the weekend and for
working days (周末, 工作日), rarely for each day, while customers name the day ("周六付的款", "ordered on
Sunday"). A question that names a day is also searched and read with its kind of day."""

from __future__ import annotations

import re

from zhiwen.text.normalize import chinese_chars

# Not "一周一次" (once a week) nor "每周二次" (twice a week): a count follows those.
_WEEKEND = re.compile(r"(?:周|星期|礼拜)[六日天](?![次个])|\b(?:saturday|sunday)s?\b", re.IGNORECASE)
_WORKING_DAY = re.compile(
    r"(?:周|星期|礼拜)[一二三四五](?![次个])|\b(?:monday|tuesday|wednesday|thursday|friday)s?\b",
    re.IGNORECASE,
)
_KIND_WORDS = {
    (_WEEKEND, True): "周末",
    (_WEEKEND, False): "weekend",
    (_WORKING_DAY, True): "工作日",
    (_WORKING_DAY, False): "working day",
}


def with_day_kinds(text: str) -> str:
    """``text`` with the kind of each day it names added at its end, in its language ("周六付的款" →
    "周六付的款 周末"), unless the kind is already there."""
    chinese = chinese_chars(text) > 0
    added = [
        word
        for (pattern, in_chinese), word in _KIND_WORDS.items()
        if in_chinese == chinese and pattern.search(text) and word not in text.lower()
    ]
    return " ".join([text, *added])
