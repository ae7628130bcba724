"""Answers as they were given (question, retrieved chunks, citations, confidence), for feedback and replay."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Sequence
from typing import cast

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase
from zhiwen.types import Answer, utc_now


class SqliteAnswerStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def ensure_conversation(self, workspace_id: str, conversation_id: str | None) -> str:
        with self._db.transaction() as conn:
            if conversation_id:
                row = conn.execute(
                    "SELECT id FROM conversations WHERE id = ? AND workspace_id = ?",
                    (conversation_id, workspace_id),
                ).fetchone()
                if row is None:
                    raise NotFound(f"no conversation {conversation_id!r} in this workspace")
                return conversation_id
            new_id = "conv_" + secrets.token_hex(8)
            conn.execute(
                "INSERT INTO conversations (id, workspace_id, created_at) VALUES (?, ?, ?)",
                (new_id, workspace_id, utc_now()),
            )
            return new_id

    def save_answer(
        self,
        workspace_id: str,
        answer: Answer,
        retrieved: Sequence[dict[str, object]],
        understood: object = None,
        withheld: object = None,
    ) -> None:
        record = {
            "answer": dataclasses.asdict(answer),
            "retrieved": list(retrieved),
            "understood": understood,
            "withheld": withheld,
        }
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO answers (id, workspace_id, conversation_id, question, record, created_at,"
                " release_number, handoff, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.id,
                    workspace_id,
                    answer.conversation_id,
                    answer.question,
                    json.dumps(record, ensure_ascii=False),
                    utc_now(),
                    answer.release,
                    int(answer.handoff),
                    answer.confidence,
                ),
            )

    def recent_turns(self, workspace_id: str, conversation_id: str, limit: int) -> list[object]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT json_extract(record, '$.understood') FROM answers"
                " WHERE workspace_id = ? AND conversation_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (workspace_id, conversation_id, limit),
            ).fetchall()
        return [json.loads(r[0]) if r[0] else None for r in reversed(rows)]

    def last_intent(self, workspace_id: str, conversation_id: str) -> object:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT json_extract(record, '$.answer.intent') FROM answers"
                " WHERE workspace_id = ? AND conversation_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (workspace_id, conversation_id),
            ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def list_questions(self, workspace_id: str, since: str | None = None) -> list[tuple[str, str, str]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT id, question, created_at FROM answers WHERE workspace_id = ? AND created_at >= ?"
                " ORDER BY created_at",
                (workspace_id, since or ""),
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def get_answer(self, workspace_id: str, answer_id: str) -> dict[str, object]:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT record FROM answers WHERE id = ? AND workspace_id = ?", (answer_id, workspace_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no answer {answer_id!r} in this workspace")
        return cast(dict[str, object], json.loads(row[0]))
