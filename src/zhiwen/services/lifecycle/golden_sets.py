"""Golden sets kept in the workspace: imported, exported, versioned, grown from approved feedback."""

from __future__ import annotations

import csv
import io
import json
import re

from zhiwen.errors import InvalidInput, NotFound, TooLarge
from zhiwen.ports import GoldenStore
from zhiwen.services.lifecycle.golden import (
    GoldenItem,
    golden_item,
    golden_record,
    parse_golden_csv,
    parse_golden_jsonl,
)
from zhiwen.text.normalize import decode
from zhiwen.types import GoldenSetVersion

MAX_GOLDEN_BYTES = 20 * 1024 * 1024
_NAME = re.compile(r"^[\w.-]{1,64}$")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"golden set name {name!r}: use 1-64 letters, digits, '.', '-' or '_'")
    return name


class GoldenSetService:
    def __init__(self, store: GoldenStore) -> None:
        self._store = store

    def import_bytes(
        self, workspace_id: str, name: str, filename: str, data: bytes, note: str = ""
    ) -> GoldenSetVersion:
        """Parse a JSONL or CSV golden file completely before storing anything: a bad line stores nothing."""
        _check_name(name)
        if len(data) > MAX_GOLDEN_BYTES:
            raise TooLarge(f"{filename}: {len(data):,} bytes is over the {MAX_GOLDEN_BYTES:,}-byte limit")
        text = decode(data, filename)
        suffix = filename.lower().rsplit(".", 1)[-1]
        if suffix == "csv":
            items = parse_golden_csv(text, filename)
        elif suffix in ("jsonl", "json"):
            items = parse_golden_jsonl(text, filename)
        else:
            raise InvalidInput(f"{filename}: golden sets are .jsonl or .csv files")
        return self.save(workspace_id, name, items, note or f"imported from {filename}")

    def save(self, workspace_id: str, name: str, items: list[GoldenItem], note: str) -> GoldenSetVersion:
        _check_name(name)
        unique = list({(item.context, item.question): item for item in items}.values())  # a later line wins
        records = [golden_record(i) for i in unique]
        for number, record in enumerate(records, start=1):
            golden_item(record, f"{name} item {number}")  # what is stored must read back
        return self._store.create_version(workspace_id, name, records, note)

    def items(
        self, workspace_id: str, name: str, version: int | None = None
    ) -> tuple[GoldenSetVersion, list[GoldenItem]]:
        info, records = self._store.get_version(workspace_id, name, version)
        return info, [golden_item(r, f"{name} v{info.version}") for r in records]

    def items_by_id(self, workspace_id: str, set_id: str) -> tuple[GoldenSetVersion, list[GoldenItem]]:
        info, records = self._store.get_by_id(workspace_id, set_id)
        return info, [golden_item(r, f"{info.name} v{info.version}") for r in records]

    def add(self, workspace_id: str, name: str, new: list[GoldenItem], note: str) -> GoldenSetVersion:
        """A new version with ``new`` added (replacing any item with the same question); a set that does
        not exist yet starts at version 1."""
        try:
            _, current = self.items(workspace_id, name)
        except NotFound:
            current = []
        return self.save(workspace_id, name, [*current, *new], note)

    def versions(self, workspace_id: str) -> list[GoldenSetVersion]:
        return self._store.list_versions(workspace_id)

    def export(self, workspace_id: str, name: str, version: int | None, fmt: str) -> str:
        _, items = self.items(workspace_id, name, version)
        if fmt == "jsonl":
            return "".join(json.dumps(golden_record(i), ensure_ascii=False) + "\n" for i in items)
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["question", "expected_answer", "expected_document", "answerable", "category"])
            for i in items:
                writer.writerow(
                    [
                        i.question,
                        "|".join(i.expected_answers),
                        "|".join(i.expected_documents),
                        "true" if i.answerable else "false",
                        i.category,
                    ]
                )
            return out.getvalue()
        raise InvalidInput(f"unknown export format {fmt!r}: use jsonl or csv")
