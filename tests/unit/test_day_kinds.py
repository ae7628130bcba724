"""A question that names a day of the week is also searched with its kind of day, which policies name."""

from __future__ import annotations

import pytest

from zhiwen.services.answers.day_kinds import with_day_kinds
from zhiwen.types import Workspace
from zhiwen.wiring import Services


@pytest.mark.parametrize(
    ("question", "searched"),
    [
        ("周六付的款 什么时候能发货", "周六付的款 什么时候能发货 周末"),
        ("星期天想去办业务", "星期天想去办业务 周末"),
        ("今天周二 下午三点付的款", "今天周二 下午三点付的款 工作日"),
        (
            "ordered on Sunday morning, when will it ship?",
            "ordered on Sunday morning, when will it ship? weekend",
        ),
        ("open on tuesdays?", "open on tuesdays? working day"),
        ("周末发货吗", "周末发货吗"),  # the kind is already there
        ("what about weekends, Saturday included?", "what about weekends, Saturday included?"),
        ("周期多长", "周期多长"),  # 周 alone names no day
        ("建议一周一次清理吗", "建议一周一次清理吗"),  # once a week, not Monday
        ("每周二次", "每周二次"),
        ("", ""),
    ],
)
def test_a_day_of_the_week_brings_its_kind_of_day(question: str, searched: str) -> None:
    assert with_day_kinds(question) == searched


def test_a_weekend_order_is_answered_with_the_weekend_rule(demo: tuple[Services, Workspace]) -> None:
    services, workspace = demo
    answer = services.answerer.answer(
        workspace.id, "I paid on Saturday morning, when will it ship?", record=False
    )
    assert not answer.handoff and "weekends" in answer.text
    assert answer.understood_as is None, "what was added to the search is not what the customer said"
