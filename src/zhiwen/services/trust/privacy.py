"""A workspace's privacy rules: which personal data is redacted where, and how long customers' data is kept.

Personal data (phone, ID and bank card numbers, e-mail addresses; addresses and names on request, found by
:mod:`zhiwen.text.pii`) is always redacted from a customer's words before they leave Zhiwen: the question an
LLM reads, the messages a webhook carries. Redacting what is *stored* (conversations, answers) and what is
*ingested* (documents) is the workspace's choice: a shop that calls customers back needs the number it
was given, a bank may not keep it. The customer's own reply still shows what they typed; the record does
not. Retention deletes conversations and behaviour events older than a number of days.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from zhiwen.errors import InvalidInput
from zhiwen.ports import WorkspaceStore
from zhiwen.text.pii import PII_KINDS, RELIABLE_KINDS, redact_pii
from zhiwen.text.strings import map_strings

SETTING = "privacy"
MAX_DAYS = 36500


def outward(text: str) -> str:
    """A customer's words as they may leave Zhiwen (to an LLM server, a webhook) where no workspace's
    rules apply: the reliable kinds of personal data redacted. :meth:`PrivacyPolicy.outward` adds the
    workspace's own kinds."""
    return redact_pii(text, RELIABLE_KINDS)


@dataclass(frozen=True)
class PrivacySettings:
    redact_stored: bool = False  # conversations and answers are stored with personal data redacted
    redact_ingested: bool = False  # documents are indexed with personal data redacted
    kinds: tuple[str, ...] = RELIABLE_KINDS  # what counts (addresses and names are best effort)
    keep_conversations_days: int | None = None  # None: keep until erased
    keep_events_days: int | None = None

    @classmethod
    def parse(cls, value: Any) -> PrivacySettings:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise InvalidInput("privacy settings: expected a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(value) - names
        if unknown:
            raise InvalidInput(
                f"privacy settings: unknown field(s) {', '.join(sorted(unknown))};"
                f" known: {', '.join(sorted(names))}"
            )
        for flag in ("redact_stored", "redact_ingested"):
            if flag in value and not isinstance(value[flag], bool):
                raise InvalidInput(f"{flag}: true or false")
        kinds = value.get("kinds", list(RELIABLE_KINDS))
        if not isinstance(kinds, list) or not kinds or any(k not in PII_KINDS for k in kinds):
            raise InvalidInput(f"kinds: a non-empty list of {', '.join(PII_KINDS)}")
        for days in ("keep_conversations_days", "keep_events_days"):
            number = value.get(days)
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_DAYS
            ):
                raise InvalidInput(f"{days}: a whole number of days from 1 to {MAX_DAYS}, or null to keep")
        return cls(
            redact_stored=value.get("redact_stored", False),
            redact_ingested=value.get("redact_ingested", False),
            kinds=tuple(dict.fromkeys(kinds)),
            keep_conversations_days=value.get("keep_conversations_days"),
            keep_events_days=value.get("keep_events_days"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "kinds": list(self.kinds)}

    def cutoffs(self, now: datetime) -> tuple[str | None, str | None]:
        """The oldest time kept, for conversations and for events (ISO 8601, as stored)."""

        def before(days: int | None) -> str | None:
            return None if days is None else (now - timedelta(days=days)).isoformat(timespec="milliseconds")

        return before(self.keep_conversations_days), before(self.keep_events_days)


class PrivacyPolicy:
    def __init__(self, workspaces: WorkspaceStore) -> None:
        self._workspaces = workspaces

    def settings(self, workspace_id: str) -> PrivacySettings:
        return PrivacySettings.parse(self._workspaces.get_setting(workspace_id, SETTING))

    def update(self, workspace_id: str, changes: dict[str, Any]) -> PrivacySettings:
        """Change some fields; the others keep their values."""
        merged = PrivacySettings.parse({**self.settings(workspace_id).to_dict(), **changes})
        self._workspaces.put_setting(workspace_id, SETTING, merged.to_dict())
        return merged

    def stored(self, workspace_id: str, text: str) -> str:
        """``text`` as it may be stored in this workspace's conversations and answers."""
        rules = self.settings(workspace_id)
        return redact_pii(text, rules.kinds) if rules.redact_stored else text

    def stored_values(self, workspace_id: str, value: Any) -> Any:
        """A record (answer, its understanding) as it may be stored in this workspace."""
        rules = self.settings(workspace_id)
        if not rules.redact_stored:
            return value
        return map_strings(value, lambda text: redact_pii(text, rules.kinds))

    def outward(self, workspace_id: str, text: str) -> str:
        """A customer's words as they may leave Zhiwen: always without the reliable kinds of personal
        data, and without the workspace's own kinds (addresses, names) when it chose them."""
        kinds = set(RELIABLE_KINDS) | set(self.settings(workspace_id).kinds)
        return redact_pii(text, kinds)

    def outward_values(self, workspace_id: str, value: Any, keep: Collection[str] = ()) -> Any:
        """:meth:`outward` on every string of a JSON-like ``value`` but the values of ``keep``."""
        kinds = set(RELIABLE_KINDS) | set(self.settings(workspace_id).kinds)
        return map_strings(value, lambda text: redact_pii(text, kinds), keep)

    def ingested_kinds(self, workspace_id: str) -> tuple[str, ...]:
        """The kinds to redact from documents at ingestion (none unless the workspace asked)."""
        rules = self.settings(workspace_id)
        return rules.kinds if rules.redact_ingested else ()
