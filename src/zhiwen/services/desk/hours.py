"""Business hours per workspace: when people can answer, and when they next can.

Stored as the workspace setting ``desk`` → ``hours``: ``{"timezone": "Asia/Shanghai", "weekly":
{"mon": "09:00-18:00", …}}``. A day left out is closed; ``"00:00-24:00"`` is all day. No hours set means
the desk is always open (whether anyone is online is a separate question: presence answers it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zhiwen.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class BusinessHours:
    timezone: str
    weekly: dict[str, tuple[time, time | None]]  # day -> (opens, closes); None closes at midnight

    @classmethod
    def parse(cls, value: object) -> BusinessHours | None:
        """The hours from the setting's JSON; ``None`` (always open) when unset. Refuses what it cannot
        read, naming the field."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidInput(
                'hours: expected {"timezone": "Asia/Shanghai", "weekly": {"mon": "09:00-18:00"}}'
            )
        zone = value.get("timezone", "UTC")
        try:
            if not isinstance(zone, str) or len(zone) > 64:
                raise ValueError(zone)
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InvalidInput(f"hours.timezone: unknown time zone {zone!r} (e.g. Asia/Shanghai)") from None
        weekly_in = value.get("weekly", {})
        if not isinstance(weekly_in, dict):
            raise InvalidInput('hours.weekly: expected {"mon": "09:00-18:00", ...}')
        weekly: dict[str, tuple[time, time | None]] = {}
        for day, span in weekly_in.items():
            if day not in DAYS:
                raise InvalidInput(f"hours.weekly: unknown day {day!r}; use {', '.join(DAYS)}")
            match = _SPAN.match(str(span))
            if match is None:
                raise InvalidInput(f"hours.weekly.{day}: {span!r} is not a span like 09:00-18:00")
            opens = time(int(match[1]), int(match[2]))
            closes = None if match[3] == "24" else time(int(match[3]), int(match[4]))
            if match[3] == "24" and match[4] != "00":
                raise InvalidInput(f"hours.weekly.{day}: {span!r} ends after midnight")
            if closes is not None and closes <= opens:
                raise InvalidInput(f"hours.weekly.{day}: {span!r} closes before it opens")
            weekly[day] = (opens, closes)
        return cls(str(zone), weekly)

    def to_dict(self) -> dict[str, object]:
        return {
            "timezone": self.timezone,
            "weekly": {
                day: f"{opens:%H:%M}-{'24:00' if closes is None else format(closes, '%H:%M')}"
                for day, (opens, closes) in self.weekly.items()
            },
        }

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        span = self.weekly.get(DAYS[local.weekday()])
        if span is None:
            return False
        opens, closes = span
        now = local.time()
        return opens <= now and (closes is None or now < closes)

    def next_opening(self, at: datetime) -> datetime | None:
        """When the desk next opens after ``at`` (``at`` itself if open); ``None`` if it never does."""
        if self.is_open(at):
            return at
        local = at.astimezone(ZoneInfo(self.timezone))
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            span = self.weekly.get(DAYS[day.weekday()])
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=local.tzinfo)
            if opening > local:
                return opening
        return None

    def describe(self, language: str) -> str:
        """The hours as a customer reads them: "周一–周五 09:00-18:00" or "Mon–Fri 09:00-18:00"."""
        names = _DAY_NAMES["zh" if language == "zh" else "en"]
        spans = self.to_dict()["weekly"]
        assert isinstance(spans, dict)
        parts: list[str] = []
        run: list[int] = []
        for index, day in enumerate((*DAYS, None)):
            span = spans.get(day) if day else None
            if run and (span is None or span != spans[DAYS[run[0]]]):
                first, last = names[run[0]], names[run[-1]]
                days = first if len(run) == 1 else f"{first}–{last}"
                parts.append(f"{days} {spans[DAYS[run[0]]]}")
                run = []
            if span is not None:
                run.append(index)
        return ("，" if language == "zh" else ", ").join(parts)
