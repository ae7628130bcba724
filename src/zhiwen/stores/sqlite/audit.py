"""The audit log in SQLite (portable SQL): appended in one transaction with the chain's last hash."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import AuditEntry, AuditQuery

_FIELDS = ("workspace_id", "at", "actor", "action", "target", "outcome", "source")


def _entry(row: SqlRow) -> AuditEntry:
    return AuditEntry(**{key: row[key] for key in row.keys()})  # noqa: SIM118 (SqlRow)


class SqliteAuditStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def append(self, fields: dict[str, Any], chain: Callable[[str, dict[str, Any]], str]) -> AuditEntry:
        values = {name: fields[name] for name in _FIELDS}
        with self._db.transaction() as conn:  # BEGIN IMMEDIATE: no other writer between read and insert
            last = conn.execute(
                "SELECT hash FROM audit_log WHERE workspace_id = ? ORDER BY seq DESC LIMIT 1",
                (values["workspace_id"],),
            ).fetchone()
            prev_hash = last[0] if last else ""
            digest = chain(prev_hash, values)
            seq = conn.execute(
                f"INSERT INTO audit_log ({', '.join(_FIELDS)}, prev_hash, hash)"
                f" VALUES ({', '.join('?' * (len(_FIELDS) + 2))}) RETURNING seq",
                (*values.values(), prev_hash, digest),
            ).fetchone()[0]
            return AuditEntry(seq=int(seq), **values, prev_hash=prev_hash, hash=digest)

    def entries(self, workspace_id: str, query: AuditQuery) -> list[AuditEntry]:
        where, args = ["workspace_id = ?"], list[str | int]([workspace_id])
        for condition, value in (
            ("actor = ?", query.actor),
            ("instr(action, ?) > 0", query.action),
            ("at >= ?", query.since),
            ("at < ?", query.until),
            ("seq < ?", query.before_seq),
        ):
            if value is not None:
                where.append(condition)
                args.append(value)
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                (*args, query.limit),
            ).fetchall()
        return [_entry(r) for r in rows]

    def chain(self, workspace_id: str) -> Iterator[AuditEntry]:
        last = 0
        while True:  # in pages, so a long log is never held in memory or blocks writers for long
            with self._db.reading() as conn:
                rows = conn.execute(
                    "SELECT * FROM audit_log WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT 1000",
                    (workspace_id, last),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = rows[-1]["seq"]
