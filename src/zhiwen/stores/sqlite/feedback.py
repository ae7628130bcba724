"""Feedback on answers, and the review queue built from it (disliked or handed-off answers)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import Feedback, Rating, utc_now


def _feedback(row: SqlRow) -> Feedback:
    return Feedback(
        id=row["id"],
        workspace_id=row["workspace_id"],
        answer_id=row["answer_id"],
        rating=row["rating"],
        comment=row["comment"],
        correction=row["correction"],
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


class SqliteFeedbackStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def add_feedback(
        self,
        workspace_id: str,
        answer_id: str,
        rating: Rating,
        comment: str,
        correction: str,
        created_by: str,
    ) -> Feedback:
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT 1 FROM answers WHERE id = ? AND workspace_id = ?", (answer_id, workspace_id)
            ).fetchone()
            if found is None:
                raise NotFound(
                    f"no answer {answer_id!r} in this workspace; use the answer_id that ask returned"
                )
            feedback = Feedback(
                "fb_" + secrets.token_hex(8),
                workspace_id,
                answer_id,
                rating,
                comment,
                correction,
                created_by,
                utc_now(),
            )
            conn.execute(
                "INSERT INTO feedback (id, workspace_id, answer_id, rating, comment, correction, created_by,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    feedback.id,
                    workspace_id,
                    answer_id,
                    rating,
                    comment,
                    correction,
                    created_by,
                    feedback.created_at,
                ),
            )
            if rating == "dislike":  # new evidence reopens an answer that was reviewed before
                conn.execute("UPDATE answers SET review = NULL WHERE id = ?", (answer_id,))
        return feedback

    def list_feedback(
        self, workspace_id: str, answer_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        sql = "SELECT * FROM feedback WHERE workspace_id = ?"
        args: list[Any] = [workspace_id]
        if answer_id is not None:
            sql += " AND answer_id = ?"
            args.append(answer_id)
        with self._db.reading() as conn:
            rows = conn.execute(f"{sql} ORDER BY created_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [_feedback(r) for r in rows]

    def review_candidates(self, workspace_id: str, limit: int) -> list[dict[str, Any]]:
        """Unreviewed answers that were handed off, disliked or answered by an agent, newest first."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT a.id, a.question, a.handoff, a.release_number, a.created_at,"
                " SUM(CASE WHEN f.rating = 'dislike' THEN 1 ELSE 0 END) AS dislikes,"
                " SUM(CASE WHEN f.rating = 'like' THEN 1 ELSE 0 END) AS likes,"
                " (SELECT correction FROM feedback c WHERE c.answer_id = a.id AND c.correction != ''"
                "  ORDER BY c.created_at DESC LIMIT 1) AS correction,"
                " (SELECT comment FROM feedback c WHERE c.answer_id = a.id AND c.comment != ''"
                "  ORDER BY c.created_at DESC LIMIT 1) AS comment"
                " FROM answers a LEFT JOIN feedback f ON f.answer_id = a.id"
                " WHERE a.workspace_id = ? AND a.review IS NULL"
                " GROUP BY a.id HAVING a.handoff = 1"
                " OR SUM(CASE WHEN f.rating IN ('dislike', 'agent') THEN 1 ELSE 0 END) > 0"
                " ORDER BY a.created_at DESC LIMIT ?",
                (workspace_id, limit),
            ).fetchall()
        return [
            {
                "answer_id": r["id"],
                "question": r["question"],
                "handoff": bool(r["handoff"]),
                "release": r["release_number"],
                "created_at": r["created_at"],
                "dislikes": int(r["dislikes"] or 0),
                "likes": int(r["likes"] or 0),
                "correction": r["correction"] or "",
                "comment": r["comment"] or "",
            }
            for r in rows
        ]

    def set_review(self, workspace_id: str, answer_ids: Sequence[str], outcome: str) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE answers SET review = ? WHERE id = ? AND workspace_id = ?",
                [(outcome, aid, workspace_id) for aid in answer_ids],
            )
