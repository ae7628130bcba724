"""Acting on an intent: a fixed reply, a handoff, asking for a missing slot, or calling a company's HTTP tool.

A tool's failure (timeout, refused connection, an error status, a reply that is not JSON) never reaches the
customer as an error: they read a polite message and the conversation goes to a person, who sees the
failure in the turn's record.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import quote

import httpx

from zhiwen.services.intents.definitions import SECRET_PLACEHOLDER, Intent, Tool, fill
from zhiwen.services.intents.service import IntentService
from zhiwen.types import IntentMatch

log = logging.getLogger(__name__)

SECRET_PREFIX = "ZHIWEN_SECRET_"  # noqa: S105 - a variable name prefix, not a secret
MAX_TOOL_REPLY_BYTES = 1_000_000
_LETTERS = re.compile(r"[^\W\d_]")  # a letter of any script
TOOL_FAILED = {"zh": "抱歉，暂时无法查询到相关信息。", "en": "Sorry, I can't look that up right now."}


@dataclass(frozen=True)
class Routed:
    """What the intent layer decided. ``text`` None: answer from the knowledge base as usual."""

    match: IntentMatch
    text: str | None = None
    mode: Literal["reply", "tool", "handoff"] = "reply"
    language: Literal["zh", "en"] = "zh"  # of the reply: a bare order number keeps the conversation's

    @property
    def handoff(self) -> bool:
        return self.mode == "handoff"


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tool secrets are server settings (``ZHIWEN_SECRET_<NAME>``), never stored in the database."""
    environ = os.environ if environ is None else environ
    return {k[len(SECRET_PREFIX) :]: v for k, v in environ.items() if k.startswith(SECRET_PREFIX)}


class IntentRouter:
    def __init__(
        self,
        intents: IntentService,
        secrets: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        workspace_secrets: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        """``secrets``: the server's (``ZHIWEN_SECRET_*``); ``workspace_secrets``: a workspace's own,
        which win over the server's of the same name."""
        self._intents = intents
        self._secrets = dict(secrets or {})
        self._workspace_secrets = workspace_secrets
        self._client = httpx.Client(transport=transport, follow_redirects=False)

    def route(
        self, workspace_id: str, message: str, language: str, pending: IntentMatch | None
    ) -> Routed | None:
        """None without a live intent model; otherwise the match, and what to say when it is not an
        ordinary question. ``pending`` is the last turn's intent when it asked for a slot: a message
        carrying that value continues it."""
        reply_in: Literal["zh", "en"] = "zh" if language == "zh" else "en"
        if pending is not None and pending.awaiting:
            if not _LETTERS.search(message) and pending.language in ("zh", "en"):
                reply_in = "zh" if pending.language == "zh" else "en"  # "2024113012345" is no language
            continued = self._continue(workspace_id, message, reply_in, pending)
            if continued is not None:
                return continued
        classified = self._intents.classify(workspace_id, message)
        if classified is None:
            return None
        if classified.intent is None or classified.intent.action == "answer":
            return Routed(classified.match, language=reply_in)
        intent = classified.intent
        match = replace(classified.match, slots=_found(intent, message, {}))
        return self._act(workspace_id, intent, match, reply_in)

    def _continue(
        self, workspace_id: str, message: str, language: Literal["zh", "en"], pending: IntentMatch
    ) -> Routed | None:
        intent = next((i for i in self._intents.definitions(workspace_id) if i.name == pending.name), None)
        if intent is None or intent.action == "answer":  # removed or changed since it asked
            return None
        slot = next((s for s in intent.slots if s.name == pending.awaiting), None)
        if slot is None or slot.find(message) is None:
            return None
        slots = _found(intent, message, pending.slots or {})
        return self._act(workspace_id, intent, replace(pending, slots=slots, urgent=intent.urgent), language)

    def _act(
        self, workspace_id: str, intent: Intent, match: IntentMatch, language: Literal["zh", "en"]
    ) -> Routed:
        slots = dict(match.slots or {})
        match = replace(match, language=language, urgent=intent.urgent)
        missing = next((s for s in intent.slots if s.name not in slots), None)
        if missing is not None:
            return Routed(replace(match, awaiting=missing.name), missing.prompt[language], "reply", language)
        match = replace(match, awaiting=None)
        if intent.action == "reply":
            return Routed(match, fill(intent.reply[language], slots), "reply", language)
        if intent.action == "handoff" or intent.tool is None:
            reply = fill(intent.reply[language], slots) if intent.reply else ""
            return Routed(match, reply, "handoff", language)
        try:
            answer = self.call(intent.tool, slots, workspace_id)
        except ToolFailed as failed:
            log.warning("tool of intent %s failed: %s", intent.name, failed)
            return Routed(replace(match, error=str(failed)), TOOL_FAILED[language], "handoff", language)
        return Routed(match, fill(intent.tool.reply[language], {**answer, **slots}), "tool", language)

    def call(
        self, tool: Tool, slots: Mapping[str, str], workspace_id: str | None = None
    ) -> Mapping[str, Any]:
        """The tool's JSON object for these slot values; :class:`ToolFailed` names what went wrong (and
        nothing else escapes: a customer never sees a stack trace)."""
        if any(v.strip() in (".", "..") for v in slots.values()):
            raise ToolFailed("a slot value is a path segment (. or ..)")  # encoded or not, it moves the path
        secrets = self._secrets
        if workspace_id is not None and self._workspace_secrets is not None:
            secrets = {**secrets, **self._workspace_secrets(workspace_id)}
        url = fill(_with_secrets(tool.url, secrets), {k: quote(v, safe="") for k, v in slots.items()})
        headers = {k: fill(_with_secrets(v, secrets), slots) for k, v in tool.headers.items()}
        try:
            with self._client.stream(
                tool.method,
                url,
                headers=headers,
                json=dict(slots) if tool.method == "POST" else None,
                timeout=tool.timeout_s,
            ) as response:
                if response.status_code >= 300:
                    raise ToolFailed(f"the tool answered HTTP {response.status_code}")
                content = b""
                for piece in response.iter_bytes():
                    content += piece
                    if len(content) > MAX_TOOL_REPLY_BYTES:
                        raise ToolFailed(f"the tool's reply is over {MAX_TOOL_REPLY_BYTES:,} bytes")
        except httpx.TimeoutException:
            raise ToolFailed(f"no reply within {tool.timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise ToolFailed(f"cannot reach the tool ({type(error).__name__})") from None
        except (httpx.InvalidURL, UnicodeError, ValueError) as error:  # a header value that is not ASCII…
            raise ToolFailed(f"cannot send the request ({type(error).__name__})") from None
        try:
            body = json.loads(content)
        except ValueError:
            raise ToolFailed("the tool's reply is not JSON") from None
        if not isinstance(body, Mapping):
            raise ToolFailed("the tool's reply is not a JSON object")
        return body

    def close(self) -> None:
        self._client.close()


class ToolFailed(Exception):
    pass


def _with_secrets(text: str, secrets: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            raise ToolFailed(
                f"the secret {name} is not set (`zhiwen secrets set {name}`, or the server setting"
                f" {SECRET_PREFIX}{name})"
            )
        return secrets[name]

    return SECRET_PLACEHOLDER.sub(value, text)


def _found(intent: Intent, message: str, known: Mapping[str, str]) -> dict[str, str]:
    slots = dict(known)
    for slot in intent.slots:
        value = slot.find(message)
        if value is not None and slot.name not in slots:
            slots[slot.name] = value
    return slots
