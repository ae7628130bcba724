"""The service desk's conversations, messages, agents' presence and ratings in SQLite.

Written in the SQL both embedded and server databases speak (no JSON functions, no SQLite-only syntax
beyond ``AUTOINCREMENT``), so a PostgreSQL store is a translation of placeholders, not a redesign.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Sequence
from typing import Any

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import (
    AgentPresence,
    Author,
    Citation,
    ConversationFilter,
    ConversationRating,
    ConversationSummary,
    DeskChange,
    DeskConversation,
    DeskMessage,
    utc_now,
)

# The columns ``update`` may change or compare: nothing else about a conversation is mutable.
_MUTABLE = frozenset(
    {
        "status",
        "reason",
        "language",
        "team",
        "assignee",
        "contact",
        "failed_answers",
        "queued_at",
        "first_response_at",
        "resolved_at",
        "visitor_hash",
        "priority",
    }
)


_LAST_MESSAGE = (  # what the customer or the desk said last, shown in lists
    "(SELECT m.text FROM desk_messages m WHERE m.conversation_id = d.conversation_id"
    " AND m.author != 'note' ORDER BY m.id DESC LIMIT 1) AS last_message"
)


def _conversation(row: SqlRow) -> DeskConversation:
    return DeskConversation(
        id=row["conversation_id"],
        workspace_id=row["workspace_id"],
        status=row["status"],
        language=row["language"],
        team=row["team"],
        assignee=row["assignee"],
        reason=row["reason"],
        contact=row["contact"],
        failed_answers=row["failed_answers"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"],
        updated_at=row["updated_at"],
        last_message=(row["last_message"] if "last_message" in row.keys() else "") or "",  # noqa: SIM118
        visitor_hash=row["visitor_hash"],
        priority=row["priority"],
    )


def _message(row: SqlRow) -> DeskMessage:
    return DeskMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        author=row["author"],
        author_name=row["author_name"],
        text=row["text"],
        created_at=row["created_at"],
        answer_id=row["answer_id"],
        citations=tuple(Citation(**c) for c in json.loads(row["citations"])),
        photo=bool(row["photo"]) if "photo" in row.keys() else False,  # noqa: SIM118
    )


class SqliteDeskStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def open_conversation(
        self, workspace_id: str, conversation_id: str, language: str, visitor_hash: str | None = None
    ) -> DeskConversation:
        now = utc_now()
        with self._db.transaction() as conn:
            known = conn.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND workspace_id = ?",
                (conversation_id, workspace_id),
            ).fetchone()
            if known is None:
                raise NotFound(f"no conversation {conversation_id!r} in this workspace")
            conn.execute(
                "INSERT INTO desk_conversations (conversation_id, workspace_id, visitor_hash, status,"
                " language, created_at, updated_at) VALUES (?, ?, ?, 'bot', ?, ?, ?) ON CONFLICT DO NOTHING",
                (conversation_id, workspace_id, visitor_hash, language, now, now),
            )
        return self.get(workspace_id, conversation_id)

    def get(self, workspace_id: str, conversation_id: str) -> DeskConversation:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM desk_conversations WHERE conversation_id = ? AND workspace_id = ?",
                (conversation_id, workspace_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conversation_id!r} in this workspace")
        return _conversation(row)

    def update(
        self,
        workspace_id: str,
        conversation_id: str,
        changes: dict[str, Any],
        expect: dict[str, Any] | None = None,
    ) -> bool:
        expect = expect or {}
        unknown = (set(changes) | set(expect)) - _MUTABLE
        if unknown:
            raise ValueError(f"not a desk conversation field: {sorted(unknown)}")
        sets = ", ".join(f"{column} = ?" for column in changes)
        conditions = "".join(
            f" AND {column} IS NULL" if value is None else f" AND {column} = ?"
            for column, value in expect.items()
        )
        parameters = [*changes.values(), utc_now(), conversation_id, workspace_id]
        parameters += [value for value in expect.values() if value is not None]
        with self._db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE desk_conversations SET {sets}, updated_at = ?"
                f" WHERE conversation_id = ? AND workspace_id = ?{conditions}",
                parameters,
            )
            return cursor.rowcount == 1

    def conversations(
        self,
        workspace_id: str,
        statuses: Collection[str] = (),
        language: str | None = None,
        team: str | None = None,
        assignee: str | None = None,
        since: str | None = None,
        limit: int = 200,
    ) -> list[DeskConversation]:
        where = ["d.workspace_id = ?"]
        parameters: list[Any] = [workspace_id]
        if statuses:
            where.append(f"d.status IN ({', '.join('?' for _ in statuses)})")
            parameters += list(statuses)
        for column, value in (("language", language), ("team", team), ("assignee", assignee)):
            if value is not None:
                where.append(f"d.{column} = ?")
                parameters.append(value)
        if since is not None:
            where.append("d.created_at >= ?")
            parameters.append(since)
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT d.*, {_LAST_MESSAGE} FROM desk_conversations d WHERE {' AND '.join(where)}"
                " ORDER BY d.queued_at IS NULL, d.priority DESC, d.queued_at, d.created_at LIMIT ?",
                [*parameters, limit],
            ).fetchall()
        return [_conversation(r) for r in rows]

    def overview(
        self, workspace_id: str, where: ConversationFilter, limit: int = 100, offset: int = 0
    ) -> list[ConversationSummary]:
        conditions = ["workspace_id = ?"]
        parameters: list[Any] = [workspace_id]
        if where.handed_off is not None:
            conditions.append("reason IS NOT NULL" if where.handed_off else "reason IS NULL")
        if where.disliked is not None:
            conditions.append("dislikes > 0" if where.disliked else "dislikes = 0")
        if where.confidence_below is not None:
            conditions.append("lowest_confidence < ?")
            parameters.append(where.confidence_below)
        for condition, value in (
            ("language = ?", where.language),
            ("created_at >= ?", where.since),
            ("created_at < ?", where.until),
        ):
            if value is not None:
                conditions.append(condition)
                parameters.append(value)
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT * FROM (SELECT d.*, {_LAST_MESSAGE},"
                " (SELECT COUNT(*) FROM answers a WHERE a.conversation_id = d.conversation_id) AS turns,"
                " (SELECT MIN(a.confidence) FROM answers a WHERE a.conversation_id = d.conversation_id)"
                "   AS lowest_confidence,"
                " (SELECT COUNT(*) FROM feedback f JOIN answers a ON a.id = f.answer_id"
                "   WHERE a.conversation_id = d.conversation_id AND f.rating = 'dislike') AS dislikes,"
                " (SELECT r.score FROM desk_ratings r WHERE r.conversation_id = d.conversation_id) AS rating"
                f" FROM desk_conversations d) AS summaries WHERE {' AND '.join(conditions)}"
                " ORDER BY updated_at DESC, conversation_id LIMIT ? OFFSET ?",
                [*parameters, limit, offset],
            ).fetchall()
        return [
            ConversationSummary(
                _conversation(r), r["turns"], r["lowest_confidence"], r["dislikes"], r["rating"]
            )
            for r in rows
        ]

    def add_message(
        self,
        workspace_id: str,
        conversation_id: str,
        author: Author,
        author_name: str,
        text: str,
        answer_id: str | None = None,
        citations: Sequence[Citation] = (),
    ) -> DeskMessage:
        now = utc_now()
        cited = json.dumps([dataclasses.asdict(c) for c in citations], ensure_ascii=False)
        with self._db.transaction() as conn:
            (message_id,) = conn.execute(
                "INSERT INTO desk_messages (workspace_id, conversation_id, author, author_name, text,"
                " answer_id, citations, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (workspace_id, conversation_id, author, author_name, text, answer_id, cited, now),
            ).fetchone()
            conn.execute(
                "UPDATE desk_conversations SET updated_at = ? WHERE conversation_id = ?",
                (now, conversation_id),
            )
        return DeskMessage(
            message_id, conversation_id, author, author_name, text, now, answer_id, tuple(citations)
        )

    def messages(
        self, workspace_id: str, conversation_id: str, after: int = 0, limit: int = 500
    ) -> list[DeskMessage]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT m.*, EXISTS (SELECT 1 FROM desk_photos p WHERE p.message_id = m.id) AS photo"
                " FROM desk_messages m WHERE m.workspace_id = ? AND m.conversation_id = ? AND m.id > ?"
                " ORDER BY m.id LIMIT ?",
                (workspace_id, conversation_id, after, limit),
            ).fetchall()
        return [_message(r) for r in rows]

    def add_photo(self, workspace_id: str, message_id: int, media_type: str, data: bytes) -> None:
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT 1 FROM desk_messages WHERE workspace_id = ? AND id = ?", (workspace_id, message_id)
            ).fetchone()
            if found is None:
                raise NotFound(f"no message {message_id}")
            conn.execute(
                "INSERT INTO desk_photos (message_id, workspace_id, media_type, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (message_id) DO UPDATE SET media_type = excluded.media_type,"
                " data = excluded.data",
                (message_id, workspace_id, media_type, data),
            )
            conn.execute(  # what the inbox watches (last_change): it reloads and shows the photo
                "UPDATE desk_conversations SET updated_at = ? WHERE conversation_id ="
                " (SELECT conversation_id FROM desk_messages WHERE id = ?)",
                (utc_now(), message_id),
            )

    def photo(self, workspace_id: str, conversation_id: str, message_id: int) -> tuple[str, bytes]:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT p.media_type, p.data FROM desk_photos p JOIN desk_messages m ON m.id = p.message_id"
                " WHERE p.workspace_id = ? AND m.conversation_id = ? AND p.message_id = ?",
                (workspace_id, conversation_id, message_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"no photo with message {message_id} of conversation {conversation_id}")
        return str(row["media_type"]), bytes(row["data"])

    def record_change(self, workspace_id: str, conversation_id: str, origin: str, at: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO desk_changes (workspace_id, conversation_id, origin, at) VALUES (?, ?, ?, ?)",
                (workspace_id, conversation_id, origin, at),
            )

    def changes_after(self, after: int | None, limit: int = 1000) -> list[DeskChange]:
        with self._db.reading() as conn:
            if after is None:
                rows = conn.execute("SELECT * FROM desk_changes ORDER BY id DESC LIMIT 1").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM desk_changes WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
                ).fetchall()
        return [DeskChange(r["id"], r["workspace_id"], r["conversation_id"], r["origin"]) for r in rows]

    def prune_changes(self, before: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM desk_changes WHERE at < ?", (before,)).rowcount

    def last_change(self, workspace_id: str) -> str:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT (SELECT MAX(id) FROM desk_messages WHERE workspace_id = ?),"
                " (SELECT MAX(updated_at) FROM desk_conversations WHERE workspace_id = ?)",
                (workspace_id, workspace_id),
            ).fetchone()
        return f"{row[0] or 0}/{row[1] or ''}"

    def conversation_releases(self, workspace_id: str) -> dict[str, int | None]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT m.conversation_id, a.release_number FROM desk_messages m"
                " JOIN answers a ON a.id = m.answer_id WHERE m.workspace_id = ? AND m.author = 'bot'"
                " ORDER BY m.id",
                (workspace_id,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}  # the last bot answer of each conversation wins

    def set_presence(self, workspace_id: str, presence: AgentPresence) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO desk_agents (workspace_id, agent, status, teams, languages, seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, agent) DO UPDATE SET"
                " status = excluded.status, teams = excluded.teams, languages = excluded.languages,"
                " seen_at = excluded.seen_at",
                (
                    workspace_id,
                    presence.agent,
                    presence.status,
                    json.dumps(list(presence.teams), ensure_ascii=False),
                    json.dumps(list(presence.languages)),
                    presence.seen_at,
                ),
            )

    def agents(self, workspace_id: str) -> list[AgentPresence]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM desk_agents WHERE workspace_id = ? ORDER BY agent", (workspace_id,)
            ).fetchall()
        return [
            AgentPresence(
                agent=r["agent"],
                status=r["status"],
                teams=tuple(json.loads(r["teams"])),
                languages=tuple(json.loads(r["languages"])),
                seen_at=r["seen_at"],
            )
            for r in rows
        ]

    def rate(self, workspace_id: str, rating: ConversationRating) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO desk_ratings (conversation_id, workspace_id, score, comment, agent,"
                " release_number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (conversation_id) DO UPDATE SET score = excluded.score,"
                " comment = excluded.comment, agent = excluded.agent,"
                " release_number = excluded.release_number, created_at = excluded.created_at",
                (
                    rating.conversation_id,
                    workspace_id,
                    rating.score,
                    rating.comment,
                    rating.agent,
                    rating.release,
                    rating.created_at,
                ),
            )

    def ratings(self, workspace_id: str, since: str | None = None) -> list[ConversationRating]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM desk_ratings WHERE workspace_id = ? AND created_at >= ? ORDER BY created_at",
                (workspace_id, since or ""),
            ).fetchall()
        return [
            ConversationRating(
                conversation_id=r["conversation_id"],
                score=r["score"],
                comment=r["comment"],
                agent=r["agent"],
                release=r["release_number"],
                created_at=r["created_at"],
            )
            for r in rows
        ]
