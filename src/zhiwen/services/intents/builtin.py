"""The intents every workspace starts with (``builtin_intents.yaml``), editable like its own. Its
"knowledge" intent teaches the model what an ordinary question looks like: most messages are those, and
they must not be pulled into an intent because greetings and questions share words."""

from __future__ import annotations

from functools import cache
from importlib import resources

from zhiwen.services.intents.definitions import Intent, read_intents

KNOWLEDGE = "knowledge"  # the built-in intent whose action is "answer": the knowledge base replies
BUILTIN_FILE = "builtin_intents.yaml"


@cache
def _builtin() -> tuple[Intent, ...]:
    data = resources.files("zhiwen.services.intents").joinpath(BUILTIN_FILE).read_bytes()
    return tuple(read_intents(BUILTIN_FILE, data))


def builtin_intents() -> list[Intent]:
    return list(_builtin())
