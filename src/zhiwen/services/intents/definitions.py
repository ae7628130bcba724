"""What a workspace's intents are: a name, example messages, and the action to take. Built-in intents, their
validation, and YAML/CSV import and export.

An intent's action is one of:

* ``answer``: answer from the knowledge base (what every message that matches no intent gets);
* ``handoff``: put the conversation in the desk's queue;
* ``reply``: a fixed reply in the customer's language;
* ``tool``: call a company's HTTP endpoint and fill a reply template with its JSON.

``reply``, ``tool`` and ``handoff`` may name slots (an order number, a phone number, a date): while one is
missing the customer is asked for it, and the next message that contains it completes the intent.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import yaml

from zhiwen.errors import InvalidInput
from zhiwen.text.normalize import decode

Action = Literal["answer", "handoff", "reply", "tool"]
ACTIONS: tuple[Action, ...] = ("answer", "handoff", "reply", "tool")
LANGUAGES = ("zh", "en")
MAX_INTENTS = 200
MAX_EXAMPLES = 5000  # per intent
MAX_EXAMPLE_CHARS = 500
MAX_TEMPLATE_CHARS = 2000
MAX_TIMEOUT_S = 30.0
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SECRET = re.compile(r"^secret:([A-Z][A-Z0-9_]{0,63})$")
SECRET_PLACEHOLDER = re.compile(r"\{secret:([A-Z][A-Z0-9_]{0,63})\}")
MAX_DESCRIPTION_CHARS = 500
MAX_SLOTS = 10
MAX_HEADERS = 20
MAX_URL_CHARS = 2000

# Patterns a slot can name instead of writing its own regular expression.
SLOT_PATTERNS = {
    # 10-20 digits, but not a mainland mobile number (11 digits starting 13-19)
    "order_number": r"(?<!\d)(?!1[3-9]\d{9}(?!\d))\d{10,20}(?!\d)",
    "phone": r"(?<![\d])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![\d])|\+\d{7,15}",
    "date": r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}月\d{1,2}[日号]",
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
}


@dataclass(frozen=True)
class Slot:
    """A value the action needs, found in the message by a pattern; ``prompt`` asks for it."""

    name: str
    pattern: str  # a key of SLOT_PATTERNS or a regular expression
    prompt: Mapping[str, str]

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(SLOT_PATTERNS.get(self.pattern, self.pattern))

    def find(self, message: str) -> str | None:
        """The value in ``message``, full-width digits and letters read as ASCII (Chinese keyboards type
        "２０２４…")."""
        found = self.regex.search(unicodedata.normalize("NFKC", message))
        return None if found is None else found.group(0)


@dataclass(frozen=True)
class Tool:
    """A company endpoint. ``url`` and ``headers`` may use slots (``{order_number}``) and secrets
    (``{secret:ORDERS_TOKEN}``, read from the server's ``ZHIWEN_SECRET_ORDERS_TOKEN``); ``reply`` fills
    fields of the JSON reply (``{status}``, ``{delivery.eta}``) and slots into text per language."""

    url: str
    reply: Mapping[str, str]
    method: Literal["GET", "POST"] = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0


@dataclass(frozen=True)
class Intent:
    name: str
    examples: tuple[str, ...]
    action: Action = "answer"
    reply: Mapping[str, str] = field(default_factory=dict)  # for "reply"; before a handoff, optional
    slots: tuple[Slot, ...] = ()
    tool: Tool | None = None
    description: str = ""
    urgent: bool = False  # a handoff goes before conversations that waited longer (complaints)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "action": self.action}
        if self.description:
            data["description"] = self.description
        if self.urgent:
            data["urgent"] = True
        if self.reply:
            data["reply"] = dict(self.reply)
        if self.slots:
            data["slots"] = [
                {"name": s.name, "pattern": s.pattern, "prompt": dict(s.prompt)} for s in self.slots
            ]
        if self.tool is not None:
            data["tool"] = {
                "method": self.tool.method,
                "url": self.tool.url,
                "headers": dict(self.tool.headers),
                "timeout_s": self.tool.timeout_s,
                "reply": dict(self.tool.reply),
            }
        data["examples"] = list(self.examples)
        return data


def _texts(value: object, where: str, required: bool) -> dict[str, str]:
    """A text per language: a mapping {zh, en}, or one string used for both."""
    if value is None or value == "" or value == {}:
        if required:
            raise InvalidInput(f"{where}: give a text for zh and en")
        return {}
    if isinstance(value, str):
        value = {language: value for language in LANGUAGES}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected a text or {{zh: ..., en: ...}}, got {type(value).__name__}")
    texts = {str(k): v for k, v in value.items()}
    unknown = sorted(set(texts) - set(LANGUAGES))
    if unknown:
        raise InvalidInput(f"{where}: unknown language(s) {', '.join(unknown)}; use zh and en")
    for language, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"{where}.{language}: expected a non-empty text")
        if len(text) > MAX_TEMPLATE_CHARS:
            raise InvalidInput(f"{where}.{language}: at most {MAX_TEMPLATE_CHARS} characters")
    if len(texts) == 1:  # one language given: the other falls back to it
        only = next(iter(texts.values()))
        texts = {language: texts.get(language, only) for language in LANGUAGES}
    return {language: texts[language].strip() for language in LANGUAGES}


def _slot(value: object, where: str) -> Slot:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected {{name, pattern, prompt}}")
    name = str(value.get("name", ""))
    if not _NAME.match(name):
        raise InvalidInput(f"{where}.name: {name!r} must be lower-case letters, digits and _")
    pattern = str(value.get("pattern") or "")
    if not pattern and name in SLOT_PATTERNS:
        pattern = name
    if not pattern:
        raise InvalidInput(f"{where}.pattern: one of {', '.join(SLOT_PATTERNS)} or a regular expression")
    try:
        re.compile(SLOT_PATTERNS.get(pattern, pattern))
    except re.error as error:
        raise InvalidInput(f"{where}.pattern: not a regular expression ({error})") from None
    if pattern not in SLOT_PATTERNS and len(pattern) > 200:
        raise InvalidInput(f"{where}.pattern: at most 200 characters")
    return Slot(name, pattern, _texts(value.get("prompt"), f"{where}.prompt", required=True))


def _tool(value: object, where: str, slots: Sequence[Slot]) -> Tool:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected {{method, url, headers, timeout_s, reply}}")
    url = str(value.get("url", "")).strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"{where}.url: at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{where}.url: {url!r} is not an http(s) URL")
    if "{" in parts.scheme + parts.netloc:  # a customer's message must never choose the host
        raise InvalidInput(f"{where}.url: slots and secrets may fill the path and query, not the host")
    method = str(value.get("method", "GET")).upper()
    if method not in ("GET", "POST"):
        raise InvalidInput(f"{where}.method: GET or POST, not {method}")
    headers = value.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidInput(f"{where}.headers: expected a mapping of header names to texts")
    if len(headers) > MAX_HEADERS or any(len(v) > MAX_TEMPLATE_CHARS for v in headers.values()):
        raise InvalidInput(f"{where}.headers: at most {MAX_HEADERS}, of {MAX_TEMPLATE_CHARS} characters each")
    try:
        timeout = float(value.get("timeout_s", 5.0))
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}.timeout_s: expected seconds") from None
    if not 0 < timeout <= MAX_TIMEOUT_S:
        raise InvalidInput(f"{where}.timeout_s: between 0 and {MAX_TIMEOUT_S:g} seconds")
    names = {s.name for s in slots}
    for text in (url, *headers.values()):
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder not in names and not _SECRET.match(placeholder):
                known = ", ".join(sorted(names)) or "none"
                raise InvalidInput(
                    f"{where}: {{{placeholder}}} is neither a slot of this intent ({known})"
                    " nor a secret ({secret:NAME})"
                )
    reply = _texts(value.get("reply"), f"{where}.reply", required=True)
    return Tool(url, reply, cast(Any, method), {str(k): v for k, v in headers.items()}, timeout)


def parse_intent(value: object, where: str = "intent") -> Intent:
    """One intent from its dict form, checked; errors name the field."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where}: expected a mapping with name, action and examples")
    name = str(value.get("name", ""))
    if not _NAME.match(name):
        raise InvalidInput(f"{where}.name: {name!r} must start with a letter; lower-case letters, digits, _")
    where = f"intent {name}"
    action = str(value.get("action", "answer"))
    if action not in ACTIONS:
        raise InvalidInput(f"{where}.action: {action!r} is not one of {', '.join(ACTIONS)}")
    raw_examples = value.get("examples") or []
    if isinstance(raw_examples, str) or not isinstance(raw_examples, Sequence):
        raise InvalidInput(f"{where}.examples: expected a list of messages")
    if not all(isinstance(e, str | int | float) for e in raw_examples):
        raise InvalidInput(f"{where}.examples: each example is a text")
    examples = tuple(dict.fromkeys(str(e).strip() for e in raw_examples if str(e).strip()))
    if not examples:
        raise InvalidInput(f"{where}: give at least one example message")
    if len(examples) > MAX_EXAMPLES:
        raise InvalidInput(f"{where}: {len(examples)} examples; at most {MAX_EXAMPLES}")
    long = next((e for e in examples if len(e) > MAX_EXAMPLE_CHARS), None)
    if long is not None:
        raise InvalidInput(f"{where}: an example is over {MAX_EXAMPLE_CHARS} characters ({long[:40]}…)")
    raw_slots = value.get("slots") or []
    if not isinstance(raw_slots, Sequence) or isinstance(raw_slots, str):
        raise InvalidInput(f"{where}.slots: expected a list")
    if len(raw_slots) > MAX_SLOTS:
        raise InvalidInput(f"{where}.slots: at most {MAX_SLOTS}")
    slots = tuple(_slot(s, f"{where}.slots[{n}]") for n, s in enumerate(raw_slots))
    if len({s.name for s in slots}) < len(slots):
        raise InvalidInput(f"{where}.slots: two slots have the same name")
    tool = None if value.get("tool") is None else _tool(value["tool"], f"{where}.tool", slots)
    if action == "tool" and tool is None:
        raise InvalidInput(f"{where}: the action 'tool' needs a tool (url, reply)")
    reply = _texts(value.get("reply"), f"{where}.reply", required=action == "reply")
    for language, text in reply.items():
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder not in {s.name for s in slots}:
                raise InvalidInput(
                    f"{where}.reply.{language}: {{{placeholder}}} is not a slot of this intent"
                )
    description = str(value.get("description") or "")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"{where}.description: at most {MAX_DESCRIPTION_CHARS} characters")
    urgent = value.get("urgent", False)
    if not isinstance(urgent, bool):
        raise InvalidInput(f"{where}.urgent: true or false")
    return Intent(name, examples, action, reply, slots, tool, description, urgent)


def parse_intents(values: object) -> list[Intent]:
    if isinstance(values, Mapping) and "intents" in values:
        values = values["intents"]
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise InvalidInput("expected a list of intents (or {intents: [...]})")
    intents = [parse_intent(v, f"intents[{n}]") for n, v in enumerate(values)]
    if len(intents) > MAX_INTENTS:
        raise InvalidInput(f"{len(intents)} intents; at most {MAX_INTENTS}")
    names = [i.name for i in intents]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"intent(s) {', '.join(repeated)} appear twice")
    return intents


def read_intents(filename: str, data: bytes, known: Sequence[Intent] = ()) -> list[Intent]:
    """Intents from a YAML file (the whole definition) or a CSV of ``intent,example[,action]`` rows. A CSV
    carries examples: an intent in ``known`` keeps its reply, slots and tool and gets the file's examples.
    Any encoding the text detector recognises (GBK too)."""
    text = decode(data, filename)
    if filename.lower().endswith(".csv"):
        return _csv_intents(text, filename, {i.name: i for i in known})
    if not filename.lower().endswith((".yaml", ".yml", ".json")):
        raise InvalidInput(f"{filename}: intents come as .yaml, .yml, .json or .csv")
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidInput(f"{filename}: not valid YAML ({str(error).splitlines()[0]})") from None
    return parse_intents(loaded)


def _csv_intents(text: str, filename: str, known: Mapping[str, Intent]) -> list[Intent]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"intent", "example"} <= set(rows[0]):
        raise InvalidInput(f"{filename}: expected a header with the columns intent,example (and action)")
    grouped: dict[str, dict[str, Any]] = {}
    for number, row in enumerate(rows, start=2):
        name, example = (row.get("intent") or "").strip(), (row.get("example") or "").strip()
        if not name or not example:
            raise InvalidInput(f"{filename} line {number}: intent and example must both be filled")
        if name not in grouped:
            grouped[name] = {"name": name, "action": "answer"}
            if name in known:
                grouped[name] = known[name].to_dict()
            grouped[name]["examples"] = []
        entry = grouped[name]
        if (row.get("action") or "").strip():
            entry["action"] = row["action"].strip()
        entry["examples"].append(example)
    return parse_intents(list(grouped.values()))


def dump_yaml(intents: Sequence[Intent]) -> str:
    data = {"intents": [i.to_dict() for i in intents]}
    return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110))


def dump_csv(intents: Sequence[Intent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["intent", "example", "action"])
    for intent in intents:
        for example in intent.examples:
            writer.writerow([intent.name, example, intent.action])
    return out.getvalue()


def fill(template: str, values: Mapping[str, object]) -> str:
    """``{name}`` and ``{a.b}`` replaced from ``values`` (nested mappings); unknown ones become "?", so a
    tool that leaves a field out never shows the customer a raw placeholder."""

    def value(match: re.Match[str]) -> str:
        current: object = values
        for part in match.group(1).split("."):
            if not isinstance(current, Mapping) or part not in current:
                return "?"
            current = current[part]
        return "?" if current is None or isinstance(current, Mapping | list) else str(current)

    return _PLACEHOLDER.sub(value, template)
