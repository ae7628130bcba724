"""One customer's data across the store, in SQLite: find it, export it, erase it, and expire it by age.

A customer's words reach many tables: their conversations (desk messages, ratings), the answers they were
given (and the feedback on those), reviews imported from those answers or naming them, behaviour events,
webhook deliveries waiting to be sent, and, through the feedback loop, curated answers frozen into release
snapshots and golden sets. Erasure deletes the rows that are theirs, and in shared records (golden items,
evaluation results) replaces their words with ``[erased]``. Deleted rows are overwritten
(``secure_delete``), keyword indexes are merged so deleted terms leave their pages, and the write-ahead log
is truncated, so the words are not left readable in the file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Sequence
from typing import Any

from zhiwen.stores.keyword_search import KeywordSearch
from zhiwen.stores.sql import SqlConnection, SqlDatabase
from zhiwen.stores.sqlite.db import fts_table
from zhiwen.text.strings import map_strings
from zhiwen.types import CURATED_SOURCE, CustomerTraces

_BATCH = 500  # bound variables per statement stay well under SQLite's limit


def _marks(values: Collection[Any]) -> str:
    return ", ".join("?" * len(values))


def _batches(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i : i + _BATCH] for i in range(0, len(values), _BATCH)]


def _owners(conversation_ids: Sequence[str], user_id: str | None) -> list[str]:
    return [f"conversation:{c}" for c in conversation_ids] + ([user_id] if user_id else [])


def _rows(conn: SqlConnection, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, args).fetchall()]


class SqliteCustomerDataStore:
    def __init__(self, db: SqlDatabase, keywords: KeywordSearch) -> None:
        self._db = db
        self._keywords = keywords

    def conversation_ids(
        self,
        workspace_id: str,
        ids: Sequence[str],
        visitor_hash: str | None,
        contact: str | None,
        contact_items: Sequence[str] = (),
    ) -> list[str]:
        """The workspace's conversations among ``ids``, of the visitor, or whose contact is ``contact``
        or holds one of ``contact_items`` (the phone number in "139… 晚上打")."""
        found: set[str] = set()
        with self._db.reading() as conn:
            for batch in _batches(list(ids)):
                found.update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT id FROM conversations WHERE workspace_id = ? AND id IN ({_marks(batch)})",
                        (workspace_id, *batch),
                    )
                )
            if visitor_hash:
                found.update(
                    r[0]
                    for r in conn.execute(
                        "SELECT conversation_id FROM desk_conversations"
                        " WHERE workspace_id = ? AND visitor_hash = ?",
                        (workspace_id, visitor_hash),
                    )
                )
            if contact:
                found.update(
                    r[0]
                    for r in conn.execute(
                        "SELECT conversation_id FROM desk_conversations"
                        " WHERE workspace_id = ? AND lower(trim(contact)) = lower(trim(?))",
                        (workspace_id, contact),
                    )
                )
            for item in contact_items:
                found.update(
                    r[0]
                    for r in conn.execute(
                        "SELECT conversation_id FROM desk_conversations"
                        " WHERE workspace_id = ? AND contact != '' AND instr(contact, ?) > 0",
                        (workspace_id, item),
                    )
                )
        return sorted(found)

    def export(
        self, workspace_id: str, conversation_ids: Sequence[str], user_id: str | None
    ) -> dict[str, Any]:
        """Everything stored about these conversations and this user id, as plain JSON values."""
        conversations = []
        with self._db.reading() as conn:
            for conversation_id in conversation_ids:
                head = conn.execute(
                    "SELECT c.id, c.created_at, d.status, d.language, d.contact, d.team, d.assignee,"
                    " d.resolved_at FROM conversations c LEFT JOIN desk_conversations d"
                    " ON d.conversation_id = c.id WHERE c.id = ? AND c.workspace_id = ?",
                    (conversation_id, workspace_id),
                ).fetchone()
                if head is None:
                    continue
                answers = _rows(
                    conn,
                    "SELECT id, question, json_extract(record, '$.answer.text') AS answer, confidence,"
                    " handoff, created_at FROM answers WHERE conversation_id = ? ORDER BY created_at, rowid",
                    (conversation_id,),
                )
                for answer in answers:
                    answer["feedback"] = _rows(
                        conn,
                        "SELECT rating, comment, correction, created_at FROM feedback WHERE answer_id = ?",
                        (answer["id"],),
                    )
                conversations.append(
                    {
                        **dict(head),
                        "messages": [
                            _with_photo(m)
                            for m in _rows(
                                conn,
                                "SELECT m.author, m.author_name, m.text, m.created_at, p.media_type, p.data"
                                " FROM desk_messages m LEFT JOIN desk_photos p ON p.message_id = m.id"
                                " WHERE m.conversation_id = ? ORDER BY m.id",
                                (conversation_id,),
                            )
                        ],
                        "answers": answers,
                        "rating": next(
                            iter(
                                _rows(
                                    conn,
                                    "SELECT score, comment, created_at FROM desk_ratings"
                                    " WHERE conversation_id = ?",
                                    (conversation_id,),
                                )
                            ),
                            None,
                        ),
                    }
                )
            answer_ids = [a["id"] for c in conversations for a in c["answers"]]
            reviews = self._reviews(conn, workspace_id, answer_ids, _owners(conversation_ids, user_id))
            events = (
                _rows(
                    conn,
                    "SELECT item_id, kind, weight, at FROM behaviour_events"
                    " WHERE workspace_id = ? AND user_id = ? ORDER BY at",
                    (workspace_id, user_id),
                )
                if user_id
                else []
            )
        return {"conversations": conversations, "reviews": reviews, "events": events}

    @staticmethod
    def _reviews(
        conn: SqlConnection, workspace_id: str, answer_ids: Sequence[str], owners: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Reviews imported from their answers, and reviews whose customer is one of ``owners`` (their
        user id, or ``conversation:<id>`` for a desk rating's comment)."""
        reviews: list[dict[str, Any]] = []
        for column, values in (("id", answer_ids), ("customer", owners)):
            for batch in _batches(list(values)):
                reviews += _rows(
                    conn,
                    "SELECT id, text, rating, product, channel, created_at, sentiment, customer FROM reviews"
                    f" WHERE workspace_id = ? AND {column} IN ({_marks(batch)})",
                    (workspace_id, *batch),
                )
        return list({r["id"]: r for r in reviews}.values())

    def erase(
        self,
        workspace_id: str,
        conversation_ids: Sequence[str],
        user_id: str | None,
        traces: CustomerTraces,
        curated_questions: Collection[str],
    ) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Delete the customer's rows; in shared records (golden items, evaluation results, complaint
        topics' examples) replace what ``traces`` recognises; remove from release snapshots the
        curated answers whose question is in ``curated_questions`` (those erased from the working
        knowledge) or that hold their identifiers. Returns counts, and the chunk ids removed per
        snapshot (for the in-memory vector index)."""
        counts: dict[str, int] = {}
        with self._db.transaction() as conn:
            answer_ids = self._answer_ids(conn, workspace_id, conversation_ids)
            counts["reviews"] = self._delete_reviews(
                conn, workspace_id, answer_ids, conversation_ids, user_id
            )
            if user_id:
                counts["events"] = conn.execute(
                    "DELETE FROM behaviour_events WHERE workspace_id = ? AND user_id = ?",
                    (workspace_id, user_id),
                ).rowcount
            counts |= self._delete_conversations(conn, workspace_id, conversation_ids, answer_ids)
            counts["predictions"] = sum(
                conn.execute(
                    "DELETE FROM model_predictions WHERE workspace_id = ? AND instr(inputs, ?) > 0",
                    (workspace_id, identifier),
                ).rowcount
                for identifier in traces.identifiers
                if identifier
            )
            counts["shared_records"] = self._scrub_records(conn, workspace_id, traces)
            removed = self._scrub_snapshots(conn, workspace_id, traces, curated_questions)
            for knowledge_id, chunk_ids in removed.items():
                self._keywords.remove(knowledge_id, chunk_ids)
            counts["snapshot_chunks"] = sum(len(ids) for ids in removed.values())
        self._compact(workspace_id, removed)
        return counts, removed

    def known_to_the_company(self, workspace_id: str, identifiers: Sequence[str]) -> set[str]:
        """The identifiers the company's own documents state (its hotline, its support address): a
        customer who quotes them does not make them theirs."""
        known = set()
        with self._db.reading() as conn:
            for identifier in identifiers:
                if conn.execute(
                    "SELECT 1 FROM chunks c JOIN documents d ON d.id = c.document_id"
                    " WHERE c.workspace_id = ? AND d.source != ? AND instr(c.text, ?) > 0 LIMIT 1",
                    (workspace_id, CURATED_SOURCE, identifier),
                ).fetchone():
                    known.add(identifier)
        return known

    def expire(
        self, workspace_id: str, conversations_before: str | None, events_before: str | None
    ) -> dict[str, int]:
        """Retention: delete conversations (and answers outside any) whose last turn is older than
        ``conversations_before``, and behaviour events and table models' logged predictions older than
        ``events_before``."""
        counts = {"conversations": 0, "answers": 0, "events": 0, "predictions": 0}
        with self._db.transaction() as conn:
            if conversations_before:
                old = [
                    r[0]
                    for r in conn.execute(
                        "SELECT c.id FROM conversations c WHERE c.workspace_id = ? AND c.created_at < ?"
                        " AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.conversation_id = c.id"
                        " AND a.created_at >= ?)"
                        " AND NOT EXISTS (SELECT 1 FROM desk_messages m WHERE m.conversation_id = c.id"
                        " AND m.created_at >= ?)",
                        (workspace_id, conversations_before, conversations_before, conversations_before),
                    )
                ]
                answer_ids = self._answer_ids(conn, workspace_id, old)
                answer_ids += [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM answers"
                        " WHERE workspace_id = ? AND conversation_id IS NULL AND created_at < ?",
                        (workspace_id, conversations_before),
                    )
                ]
                self._delete_reviews(conn, workspace_id, answer_ids, old, None)
                deleted = self._delete_conversations(conn, workspace_id, old, answer_ids)
                counts["conversations"], counts["answers"] = deleted["conversations"], deleted["answers"]
            if events_before:
                counts["events"] = conn.execute(
                    "DELETE FROM behaviour_events WHERE workspace_id = ? AND at < ?",
                    (workspace_id, events_before),
                ).rowcount
                counts["predictions"] = conn.execute(
                    "DELETE FROM model_predictions WHERE workspace_id = ? AND at < ?",
                    (workspace_id, events_before),
                ).rowcount
        return counts

    def traces(self, workspace_id: str, needles: Sequence[str]) -> list[str]:
        """``table.column`` for every text column of this workspace's rows (its release snapshots'
        included) that still holds one of ``needles`` (the check that an erasure left nothing). One
        query at a time, so answers are not held up while it reads everything."""
        found: list[str] = []
        needles = [n for n in needles if n.strip()]
        with self._db.reading() as conn:
            scope = [workspace_id] + [
                r[0] for r in conn.execute("SELECT id FROM workspaces WHERE snapshot_of = ?", (workspace_id,))
            ]
        columns = self._db.columns()
        tables = list(columns)
        keyword_tables = tuple(fts_table(w) for w in scope)
        for table in tables:
            names = [name for name, _ in columns[table]]
            where = _scoped(table, names, len(scope), keyword_tables)
            if where is None:
                continue  # another workspace's keyword index, or a table that holds no one's words
            for column, text in columns[table]:
                if not text:
                    continue
                for needle in needles:
                    with self._db.reading() as conn:
                        hit = conn.execute(
                            f"SELECT 1 FROM {table} WHERE {where[0]} AND instr(CAST({column} AS TEXT), ?) > 0"
                            " LIMIT 1",
                            (*scope[: where[1]], needle),
                        ).fetchone()
                    if hit:
                        found.append(f"{table}.{column}")
                        break
        return found

    # ---- pieces -----------------------------------------------------------------------------------

    @staticmethod
    def _answer_ids(conn: SqlConnection, workspace_id: str, conversation_ids: Sequence[str]) -> list[str]:
        ids: list[str] = []
        for batch in _batches(list(conversation_ids)):
            ids += [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM answers WHERE workspace_id = ? AND conversation_id IN ({_marks(batch)})",
                    (workspace_id, *batch),
                )
            ]
        return ids

    def _delete_reviews(
        self,
        conn: SqlConnection,
        workspace_id: str,
        answer_ids: Sequence[str],
        conversation_ids: Sequence[str],
        user_id: str | None,
    ) -> int:
        reviews = self._reviews(conn, workspace_id, answer_ids, _owners(conversation_ids, user_id))
        deleted = 0
        for batch in _batches([r["id"] for r in reviews]):
            deleted += conn.execute(
                f"DELETE FROM reviews WHERE workspace_id = ? AND id IN ({_marks(batch)})",
                (workspace_id, *batch),
            ).rowcount
        return deleted

    @staticmethod
    def _delete_conversations(
        conn: SqlConnection,
        workspace_id: str,
        conversation_ids: Sequence[str],
        answer_ids: Sequence[str],
    ) -> dict[str, int]:
        """Answers (their feedback cascades), then conversations (desk messages, ratings and state
        cascade), and webhook deliveries that carry them."""
        counts = {"answers": 0, "conversations": 0, "webhook_deliveries": 0}
        for batch in _batches(list(answer_ids)):
            counts["answers"] += conn.execute(
                f"DELETE FROM answers WHERE workspace_id = ? AND id IN ({_marks(batch)})",
                (workspace_id, *batch),
            ).rowcount
        for batch in _batches(list(conversation_ids)):
            counts["webhook_deliveries"] += conn.execute(
                "DELETE FROM webhook_deliveries"
                " WHERE webhook_id IN (SELECT id FROM webhooks WHERE workspace_id = ?)"
                f" AND json_extract(payload, '$.data.conversation_id') IN ({_marks(batch)})",
                (workspace_id, *batch),
            ).rowcount
            counts["conversations"] += conn.execute(
                f"DELETE FROM conversations WHERE workspace_id = ? AND id IN ({_marks(batch)})",
                (workspace_id, *batch),
            ).rowcount
        return counts

    @staticmethod
    def _scrub_records(conn: SqlConnection, workspace_id: str, traces: CustomerTraces) -> int:
        """Golden items, evaluation results and complaint topics keep their place (a set's positions, a
        run's figures) with the customer's words replaced."""
        needles = traces.needles()
        if not needles:
            return 0
        changed = 0
        for table, column, key, where in (
            (
                "golden_items",
                "record",
                "set_id, position",
                "set_id IN (SELECT id FROM golden_sets WHERE workspace_id = ?)",
            ),
            (
                "eval_results",
                "record",
                "run_id, position",
                "run_id IN (SELECT id FROM eval_runs WHERE workspace_id = ?)",
            ),
            ("review_topics", "model", "workspace_id", "workspace_id = ?"),
        ):
            by_key = " AND ".join(f"{name} = ?" for name in key.split(", "))
            for batch in _batches(needles):
                rows = conn.execute(
                    f"SELECT {column}, {key} FROM {table} WHERE {where}"
                    f" AND ({' OR '.join([f'instr({column}, ?) > 0'] * len(batch))})",
                    (workspace_id, *batch),
                ).fetchall()
                for record, *row_key in rows:
                    scrubbed = json.dumps(map_strings(json.loads(record), traces.erased), ensure_ascii=False)
                    if scrubbed != record:
                        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {by_key}", (scrubbed, *row_key))
                        changed += 1
        return changed

    @staticmethod
    def _scrub_snapshots(
        conn: SqlConnection,
        workspace_id: str,
        traces: CustomerTraces,
        curated_questions: Collection[str],
    ) -> dict[str, list[str]]:
        """Remove from every release snapshot the curated answers that came from the customer: the
        questions erased from the working knowledge, and any curated answer holding their identifiers.
        The company's documents are never touched. The release's manifest is brought in line (and says
        how many chunks were erased), so `zhiwen check` still holds."""
        removed: dict[str, list[str]] = {}
        snapshots = conn.execute(
            "SELECT id, knowledge_id FROM releases WHERE workspace_id = ? AND pruned_at IS NULL",
            (workspace_id,),
        ).fetchall()
        for release_id, knowledge_id in snapshots:
            curated = conn.execute(
                "SELECT c.id, c.text, coalesce(c.question, '') FROM chunks c JOIN documents d"
                " ON d.id = c.document_id WHERE c.workspace_id = ? AND d.source = ?",
                (knowledge_id, CURATED_SOURCE),
            ).fetchall()
            chunk_ids = sorted(
                chunk_id
                for chunk_id, text, question in curated
                if question.strip() in curated_questions
                or traces.erased(question) != question
                or traces.erased(text) != text
            )
            if not chunk_ids:
                continue
            for batch in _batches(chunk_ids):
                conn.execute(
                    f"DELETE FROM chunks WHERE id IN ({_marks(batch)})", tuple(batch)
                )  # vectors cascade
            manifest = json.loads(
                conn.execute("SELECT manifest FROM releases WHERE id = ?", (release_id,)).fetchone()[0]
            )
            manifest["chunks"] -= len(chunk_ids)
            manifest["erased_chunks"] = manifest.get("erased_chunks", 0) + len(chunk_ids)
            conn.execute(
                "UPDATE releases SET manifest = ? WHERE id = ?",
                (json.dumps(manifest, ensure_ascii=False), release_id),
            )
            removed[knowledge_id] = chunk_ids
        return removed

    def _compact(self, workspace_id: str, removed: dict[str, list[str]]) -> None:
        """Merge the keyword indexes that lost rows (their deleted terms leave the index pages), then
        let the database drop what it still keeps of the deleted rows (SQLite's write-ahead log)."""
        with self._db.transaction():
            for knowledge_id in {workspace_id, *removed}:
                self._keywords.compact(knowledge_id)
        self._db.forget_deleted()


# Tables whose rows belong to a workspace through a parent: (the parent's key, the parent table).
_PARENTS = {
    "golden_items": ("set_id", "golden_sets"),
    "eval_results": ("run_id", "eval_runs"),
    "webhook_deliveries": ("webhook_id", "webhooks"),
}


def _scoped(
    table: str, columns: Sequence[str], scope_size: int, keyword_tables: tuple[str, ...]
) -> tuple[str, int] | None:
    """A condition that keeps ``table``'s rows of the scope (the workspace and its snapshots), and how
    many scope ids it binds; None for a table outside it."""
    marks = _marks(range(scope_size))
    if table.startswith("fts_"):
        # its own keyword tables, their vocabularies and FTS5's shadow tables (fts_<id>_data, …)
        return ("1", 0) if any(table == k or table.startswith(k + "_") for k in keyword_tables) else None
    if "workspace_id" in columns:
        return f"workspace_id IN ({marks})", scope_size
    if table in _PARENTS:
        key, parent = _PARENTS[table]
        return f"{key} IN (SELECT id FROM {parent} WHERE workspace_id IN ({marks}))", scope_size
    return None


def _with_photo(message: dict[str, Any]) -> dict[str, Any]:
    """A message as exported: the photo sent with it, if any, as a data: URL (their photo is their data)."""
    media_type, data = message.pop("media_type"), message.pop("data")
    if data is not None:
        message["photo"] = f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    return message
