"""When a conversation goes to people, and what the customer is told then.

A customer asks for a person in many words (转人工, 找个真人, "talk to a human", "agent please"); the
patterns below catch the ways seen in customer-service logs and leave alone the words that only look
alike (人工智能 is artificial intelligence, "human error" is no request). What the customer is told is
the truth: a place in the queue and an expected wait while someone is online, otherwise a request to
leave a message and a contact, with the time the desk opens again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_ASKS_FOR_HUMAN = re.compile(
    r"转人工|转接人工|人工客服|人工服务|人工坐席|接人工|找人工|要人工|换人工|人工[吧呢啊呀！!]|^\s*人工\s*$"
    r"|真人|活人|客服人员|客服小姐姐|客服妹子|找(?:个|一下)?客服|叫(?:个|一下)?客服|联系客服"
    r"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|the\s+|some\s*one\s+|your\s+)?"
    r"(?:real\s+|live\s+)?(?:human|person|agent|representative|rep|operator|someone|somebody|people)\b"
    r"|\b(?:human|agent|operator|representative|real person|live agent)\s*(?:please|pls|plz)\b"
    r"|\b(?:get|want|need)\s+(?:me\s+)?(?:a\s+|an\s+)?(?:real\s+|live\s+)?"
    r"(?:human|person|agent|representative|operator)\b"
    r"|^\s*(?:human|agent|operator|representative)\s*[.!?]*\s*$"
    r"|\b(?:live|real)\s+(?:agent|person|human|support)\b",
    re.IGNORECASE,
)


def asks_for_human(message: str) -> bool:
    """Whether the customer asks to talk to a person."""
    return bool(_ASKS_FOR_HUMAN.search(message.replace("人工智能", "")))


_HUMAN_WORDS = re.compile(
    r"转人工|人工客服|人工|客服|真人|我要|找|\b(?:please|pls|i want|i need|can i|let me|talk|speak|to|with"
    r"|a|an|the|human|agent|person|real|live|operator|representative)\b",
    re.IGNORECASE,
)


def says_more_than_asking_for_a_person(question: str) -> bool:
    """Whether a question says more than "转人工" (only those are worth an answer in the knowledge)."""
    rest = re.sub(r"[\s\W_]+", "", _HUMAN_WORDS.sub("", question))
    return len(rest) >= 4


@dataclass(frozen=True)
class Availability:
    """Whether someone can pick a conversation up now, and if not, when."""

    agents_online: int
    open_now: bool
    next_opening: datetime | None
    hours: str  # as the customer reads them; empty when the desk keeps no hours

    @property
    def staffed(self) -> bool:
        return self.open_now and self.agents_online > 0


def queued_notice(language: str, availability: Availability, position: int, wait_minutes: int) -> str:
    """What the customer reads when the conversation goes to people."""
    zh = language == "zh"
    if availability.staffed:
        if zh:
            return (
                f"已为您转接人工客服，您前面还有 {position - 1} 位，预计约 {wait_minutes} 分钟内回复。"
                "您可以继续在这里补充情况。"
            )
        ahead = (
            "nobody is"
            if position == 1
            else f"{position - 1} {'person is' if position == 2 else 'people are'}"
        )
        return (
            f"A person from our team will reply here; {ahead} ahead of you, and the expected wait is "
            f"about {wait_minutes} minute{'s' if wait_minutes != 1 else ''}. You can add details meanwhile."
        )
    when = _when(language, availability)
    if zh:
        hours = f"（服务时间：{availability.hours}）" if availability.hours else ""
        return f"现在没有客服在线{hours}。请留下您的问题和联系方式（手机或邮箱），我们会在{when}回复您。"
    hours = f" (our hours: {availability.hours})" if availability.hours else ""
    return (
        f"No one from our team is online right now{hours}. Leave your question and a phone number or "
        f"e-mail, and we will reply {when}."
    )


def _when(language: str, availability: Availability) -> str:
    zh = language == "zh"
    if availability.open_now:  # within hours, but nobody is online
        return "有客服上线后尽快" if zh else "as soon as someone is online"
    opening = availability.next_opening
    if opening is None:
        return "尽快" if zh else "as soon as we can"
    if zh:
        return f"周{'一二三四五六日'[opening.weekday()]} {opening:%H:%M} 上班后尽快"
    return f"after we open on {opening:%A} at {opening:%H:%M}"


def resolved_notice(language: str) -> str:
    if language == "zh":
        return "本次服务已结束。如果还有问题，直接在这里留言即可；欢迎为这次服务打分。"
    return "This conversation is closed. Write here if there is anything else, and please rate how we did."
