"""A workspace's desk settings (the workspace setting ``desk``): hours, widget texts, when to hand off."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zhiwen.errors import InvalidInput
from zhiwen.services.desk.hours import BusinessHours

MAX_TEXT = 500
MAX_SUGGESTIONS = 8
MAX_TITLE = 40
FIELDS = ("hours", "welcome", "suggestions", "failed_answers", "teams", "routing", "look")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_LOOK: dict[str, Any] = {"color": "#0b6e4f", "position": "right", "title": {}}

DEFAULT_WELCOME = {
    "zh": "您好，我是智能客服，可以回答商品、订单、售后等问题。需要人工时直接说“转人工”。",
    "en": "Hi! I answer questions about products, orders and after-sales. Say “agent” to talk to a person.",
}


@dataclass(frozen=True)
class DeskSettings:
    hours: BusinessHours | None = None
    welcome: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_WELCOME))
    suggestions: dict[str, list[str]] = field(default_factory=dict)
    failed_answers: int = 2  # disliked answers in one conversation before it goes to people
    teams: list[str] = field(default_factory=list)
    # In order, the first that matches wins: {"team": "after-sales", "keywords": ["保修", "warranty"]}
    routing: list[dict[str, Any]] = field(default_factory=list)
    # The chat widget's look: its colour, which corner, and its title per language (empty: the default)
    look: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_LOOK))

    def team_for(self, text: str) -> str:
        """The team whose keywords the customer's words contain first; "" when no rule matches."""
        lowered = text.lower()
        for rule in self.routing:
            if any(word.lower() in lowered for word in rule["keywords"]):
                return str(rule["team"])
        return ""

    @classmethod
    def parse(cls, value: Any) -> DeskSettings:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise InvalidInput("desk settings: expected a JSON object")
        unknown = set(value) - set(FIELDS)
        if unknown:
            raise InvalidInput(
                f"desk settings: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}"
            )
        welcome = {**DEFAULT_WELCOME, **_texts(value.get("welcome", {}), "welcome")}
        suggestions_in = value.get("suggestions", {})
        if not isinstance(suggestions_in, dict):
            raise InvalidInput('suggestions: expected {"zh": ["…"], "en": ["…"]}')
        suggestions: dict[str, list[str]] = {}
        for language, items in suggestions_in.items():
            if language not in ("zh", "en") or not isinstance(items, list):
                raise InvalidInput(f"suggestions.{language}: expected a list of questions under zh or en")
            if len(items) > MAX_SUGGESTIONS:
                raise InvalidInput(f"suggestions.{language}: at most {MAX_SUGGESTIONS} questions")
            suggestions[language] = [_text(q, f"suggestions.{language}") for q in items]
        failed = value.get("failed_answers", 2)
        if not isinstance(failed, int) or isinstance(failed, bool) or not 1 <= failed <= 10:
            raise InvalidInput("failed_answers: a whole number from 1 to 10")
        teams = value.get("teams", [])
        if not isinstance(teams, list) or len(teams) > 50:
            raise InvalidInput("teams: a list of at most 50 team names")
        team_names = [_text(t, "teams") for t in teams]
        return cls(
            BusinessHours.parse(value.get("hours")),
            welcome,
            suggestions,
            failed,
            team_names,
            _routing(value.get("routing", []), team_names),
            _look(value.get("look", DEFAULT_LOOK)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": self.hours.to_dict() if self.hours else None,
            "welcome": self.welcome,
            "suggestions": self.suggestions,
            "failed_answers": self.failed_answers,
            "teams": self.teams,
            "routing": self.routing,
            "look": self.look,
        }


def _look(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - set(DEFAULT_LOOK):
        raise InvalidInput('look: expected {"color": "#0b6e4f", "position": "right", "title": {"zh": "…"}}')
    colour = value.get("color", DEFAULT_LOOK["color"])
    if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
        raise InvalidInput(f"look.color: {colour!r} is not a colour like #0b6e4f")
    position = value.get("position", "right")
    if position not in ("right", "left"):
        raise InvalidInput(f"look.position: {position!r}; use right or left")
    titles = _texts(value.get("title", {}), "look.title")
    for language, title in titles.items():
        if len(title) > MAX_TITLE:
            raise InvalidInput(f"look.title.{language}: at most {MAX_TITLE} characters")
    return {"color": colour.lower(), "position": position, "title": titles}


def _routing(value: Any, teams: list[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > 50:
        raise InvalidInput('routing: a list of at most 50 rules like {"team": "sales", "keywords": ["价格"]}')
    rules = []
    for number, rule in enumerate(value, start=1):
        if not isinstance(rule, dict) or set(rule) != {"team", "keywords"}:
            raise InvalidInput(f'routing rule {number}: expected {{"team": "…", "keywords": ["…"]}}')
        team = _text(rule["team"], f"routing rule {number}.team")
        if team not in teams:
            raise InvalidInput(f"routing rule {number}: team {team!r} is not in teams {teams}")
        words = rule["keywords"]
        if not isinstance(words, list) or not 1 <= len(words) <= 100:
            raise InvalidInput(f"routing rule {number}.keywords: a list of 1 to 100 words")
        rules.append({"team": team, "keywords": [_text(w, f"routing rule {number}.keywords") for w in words]})
    return rules


def _texts(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"zh", "en"}:
        raise InvalidInput(f'{name}: expected {{"zh": "…", "en": "…"}}')
    return {language: _text(text, f"{name}.{language}") for language, text in value.items()}


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name}: expected non-empty text")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{name}: at most {MAX_TEXT} characters")
    return value.strip()
