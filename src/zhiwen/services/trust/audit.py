"""The audit log: every change by a person, a key or the command line, in a tamper-evident chain.

Each entry's hash covers its fields and the previous entry's hash (per workspace), so an entry edited,
inserted or removed after the fact breaks verification from that point on; the database also refuses
updates and deletes of the table. What the chain cannot stop is someone with write access to the file
rewriting the whole chain: the head hash that :meth:`AuditService.verify` reports is what to keep
elsewhere (a ticket, a log collector) to prove a later log starts with the same history.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from zhiwen.ports import AuditStore
from zhiwen.types import AuditEntry, AuditQuery, utc_now

MAX_PAGE = 500


def export_lines(entries: Iterable[AuditEntry], format: Literal["jsonl", "csv"]) -> Iterator[str]:
    """The entries as JSON Lines or CSV (with a header), a line at a time, hashes included, so the copy
    can be verified on its own."""
    if format == "jsonl":
        for entry in entries:
            yield json.dumps(dataclasses.asdict(entry), ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [f.name for f in dataclasses.fields(AuditEntry)])
    writer.writeheader()
    for entry in entries:
        writer.writerow(dataclasses.asdict(entry))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's fields as canonical JSON (sorted keys)."""
    body = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int  # how many were checked
    head: str  # the last entry's hash: keep it elsewhere to prove this history later
    broken_at: int | None  # seq of the first entry that does not chain
    problem: str


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "workspace_id": entry.workspace_id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "source": entry.source,
    }


class AuditService:
    def __init__(self, store: AuditStore) -> None:
        self._store = store

    def record(
        self, workspace_id: str, actor: str, action: str, target: str, outcome: int, source: str
    ) -> AuditEntry:
        fields = {
            "workspace_id": workspace_id,
            "at": utc_now(),
            "actor": actor,
            "action": action,
            "target": target[:500],
            "outcome": outcome,
            "source": source,
        }
        return self._store.append(fields, chain_hash)

    def entries(self, workspace_id: str, query: AuditQuery) -> list[AuditEntry]:
        return self._store.entries(workspace_id, query)

    def export(self, workspace_id: str) -> Iterator[AuditEntry]:
        """The whole log, oldest first."""
        return self._store.chain(workspace_id)

    def verify(self, workspace_id: str) -> AuditVerification:
        """Recompute the chain: each entry must follow the one before and hash to what it says."""
        prev, count = "", 0
        for entry in self._store.chain(workspace_id):
            if entry.prev_hash != prev:
                return AuditVerification(
                    False, count, prev, entry.seq, f"entry {entry.seq} does not follow the entry before it"
                )
            if chain_hash(prev, _fields(entry)) != entry.hash:
                return AuditVerification(
                    False, count, prev, entry.seq, f"entry {entry.seq} was changed after it was written"
                )
            prev, count = entry.hash, count + 1
        return AuditVerification(True, count, prev, None, "")
