"""Curated answers: a person's approved answer to a question, with who made it and when."""

from __future__ import annotations

import secrets

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import CuratedAnswer, utc_now


def _curated(row: SqlRow) -> CuratedAnswer:
    return CuratedAnswer(
        id=row["id"],
        workspace_id=row["workspace_id"],
        question=row["question"],
        answer=row["answer"],
        enabled=bool(row["enabled"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
        from_answer_id=row["from_answer_id"],
    )


class SqliteCuratedStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def add_curated(
        self,
        workspace_id: str,
        question: str,
        answer: str,
        created_by: str,
        from_answer_id: str | None = None,
    ) -> CuratedAnswer:
        now = utc_now()
        curated = CuratedAnswer(
            "cur_" + secrets.token_hex(6),
            workspace_id,
            question,
            answer,
            True,
            created_by,
            now,
            created_by,
            now,
            from_answer_id,
        )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO curated_answers (id, workspace_id, question, answer, enabled, from_answer_id,"
                " created_by, created_at, updated_by, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    curated.id,
                    workspace_id,
                    question,
                    answer,
                    from_answer_id,
                    created_by,
                    now,
                    created_by,
                    now,
                ),
            )
        return curated

    def get_curated(self, workspace_id: str, curated_id: str) -> CuratedAnswer:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM curated_answers WHERE id = ? AND workspace_id = ?", (curated_id, workspace_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no curated answer {curated_id!r} in this workspace; see `zhiwen curated list`")
        return _curated(row)

    def list_curated(self, workspace_id: str) -> list[CuratedAnswer]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM curated_answers WHERE workspace_id = ? ORDER BY created_at, id",
                (workspace_id,),
            ).fetchall()
        return [_curated(r) for r in rows]

    def update_curated(
        self,
        workspace_id: str,
        curated_id: str,
        updated_by: str,
        question: str | None = None,
        answer: str | None = None,
        enabled: bool | None = None,
    ) -> CuratedAnswer:
        with self._db.transaction() as conn:
            old = self.get_curated(workspace_id, curated_id)
            conn.execute(
                "UPDATE curated_answers SET question = ?, answer = ?, enabled = ?, updated_by = ?,"
                " updated_at = ? WHERE id = ?",
                (
                    old.question if question is None else question,
                    old.answer if answer is None else answer,
                    int(old.enabled if enabled is None else enabled),
                    updated_by,
                    utc_now(),
                    curated_id,
                ),
            )
            return self.get_curated(workspace_id, curated_id)

    def delete_curated(self, workspace_id: str, curated_id: str) -> None:
        with self._db.transaction() as conn:
            self.get_curated(workspace_id, curated_id)
            conn.execute("DELETE FROM curated_answers WHERE id = ?", (curated_id,))
