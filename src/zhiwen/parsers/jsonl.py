"""JSON Lines: ``{"question", "answer"}`` lines are FAQ entries; ``{"text", "title"?}`` lines are passages."""

from __future__ import annotations

from zhiwen.errors import InvalidInput
from zhiwen.parsers.base import FaqEntry, ParsedDocument, stem_title
from zhiwen.text.chunking import Section
from zhiwen.text.jsonlines import json_lines
from zhiwen.text.normalize import decode, normalize


def parse_jsonl(name: str, data: bytes) -> ParsedDocument:
    parsed = ParsedDocument(title=stem_title(name))
    for line in json_lines(decode(data, name)):
        number, record = line.number, line.value
        if line.error is not None:
            raise InvalidInput(f"{name}: line {number} is not valid JSON ({line.error})")
        if not isinstance(record, dict):
            raise InvalidInput(f"{name}: line {number} must be a JSON object")
        question, answer = record.get("question"), record.get("answer")
        if isinstance(question, str) and isinstance(answer, str):
            if question.strip() and answer.strip():
                parsed.faq.append(FaqEntry(normalize(question), normalize(answer)))
            else:
                parsed.warnings.append(f"{name}: line {number} skipped: empty question or answer")
            continue
        text = record.get("text")
        if not isinstance(text, str):
            raise InvalidInput(
                f"{name}: line {number} needs either 'question' and 'answer' or 'text' (strings)"
            )
        # No "title" key: the file's title gives context. An explicit empty title means "none": a file
        # name like "c00042.jsonl" is no context at all.
        title = record.get("title", parsed.title)
        section_title = normalize(title) if isinstance(title, str) else parsed.title
        if normalize(text):
            parsed.sections.append(Section(section_title, normalize(text)))
    return parsed
