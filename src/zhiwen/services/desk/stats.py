"""The desk's figures per day, agent or release: how much the bot handled, how fast people answered, and
how satisfied customers were.

- handoff rate: conversations that went to people, of all conversations with a customer message;
- containment: conversations the bot handled alone — never handed to people and no answer disliked;
- CSAT: the share of ratings that are 4 or 5 (the usual definition), with the mean score beside it;
- first response and resolution: medians, in minutes, from entering the queue.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from zhiwen.types import ConversationRating, DeskConversation

GroupBy = Literal["day", "agent", "release"]


@dataclass(frozen=True)
class DeskFigures:
    group: str
    conversations: int
    handed_off: int
    handoff_rate: float | None
    containment: float | None
    ratings: int
    csat: float | None
    mean_score: float | None
    first_response_minutes: float | None  # median
    resolution_minutes: float | None  # median


def _minutes(start: str | None, end: str | None) -> float | None:
    if not start or not end or end < start:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 60


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def desk_figures(
    conversations: Sequence[DeskConversation],
    ratings: Sequence[ConversationRating],
    releases: Mapping[str, int | None],
    by: GroupBy,
) -> list[DeskFigures]:
    """Figures per group; ``releases`` maps a conversation to the release of its last bot answer."""

    def group_of(conversation: DeskConversation) -> str:
        if by == "day":
            return conversation.created_at[:10]
        if by == "agent":
            return conversation.assignee or "bot"
        release = releases.get(conversation.id)
        return "working" if release is None else f"release {release}"

    groups: dict[str, list[DeskConversation]] = defaultdict(list)
    for conversation in conversations:
        groups[group_of(conversation)].append(conversation)
    rated = {r.conversation_id: r for r in ratings}
    figures = []
    for group, members in sorted(groups.items()):
        handed = [c for c in members if c.queued_at]
        contained = sum(1 for c in members if not c.queued_at and c.failed_answers == 0)
        scores = [rated[c.id].score for c in members if c.id in rated]
        figures.append(
            DeskFigures(
                group=group,
                conversations=len(members),
                handed_off=len(handed),
                handoff_rate=_share(len(handed), len(members)),
                containment=_share(contained, len(members)),
                ratings=len(scores),
                csat=_share(sum(1 for s in scores if s >= 4), len(scores)),
                mean_score=round(statistics.fmean(scores), 2) if scores else None,
                first_response_minutes=_median([_minutes(c.queued_at, c.first_response_at) for c in handed]),
                resolution_minutes=_median([_minutes(c.queued_at, c.resolved_at) for c in handed]),
            )
        )
    return figures
