"""Webhooks and their delivery outbox in SQLite (portable SQL)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import Webhook, WebhookDelivery, utc_now


def _webhook(row: SqlRow) -> Webhook:
    return Webhook(
        row["id"], row["workspace_id"], row["url"], tuple(json.loads(row["events"])), row["created_at"]
    )


def _delivery(row: SqlRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        webhook_id=row["webhook_id"],
        event=row["event"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        response_status=row["response_status"],
        error=row["error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )


class SqliteWebhookStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def add_webhook(self, workspace_id: str, url: str, secret: str, events: Sequence[str]) -> Webhook:
        hook = Webhook("whk_" + secrets.token_hex(6), workspace_id, url, tuple(events), utc_now())
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO webhooks (id, workspace_id, url, secret, events, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (hook.id, workspace_id, url, secret, json.dumps(list(events)), hook.created_at),
            )
        return hook

    def list_webhooks(self, workspace_id: str) -> list[Webhook]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM webhooks WHERE workspace_id = ? ORDER BY created_at", (workspace_id,)
            ).fetchall()
        return [_webhook(r) for r in rows]

    def delete_webhook(self, workspace_id: str, webhook_id: str) -> None:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM webhooks WHERE id = ? AND workspace_id = ?", (webhook_id, workspace_id)
            )
        if cursor.rowcount != 1:
            raise NotFound(f"no webhook {webhook_id!r} in this workspace")

    def enqueue(self, workspace_id: str, event: str, payload: dict[str, Any], at: str) -> int:
        hooks = [h for h in self.list_webhooks(workspace_id) if event in h.events]
        body = json.dumps(payload, ensure_ascii=False)
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO webhook_deliveries (id, webhook_id, event, payload, status, next_attempt_at,"
                " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
                [("dlv_" + secrets.token_hex(8), h.id, event, body, at, at) for h in hooks],
            )
        return len(hooks)

    def due(self, now: str, limit: int) -> list[tuple[WebhookDelivery, str, str]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT d.*, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [(_delivery(r), r["url"], r["secret"]) for r in rows]

    def record_attempt(self, delivery: WebhookDelivery) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
                " response_status = ?, error = ?, delivered_at = ? WHERE id = ?",
                (
                    delivery.status,
                    delivery.attempts,
                    delivery.next_attempt_at,
                    delivery.response_status,
                    delivery.error,
                    delivery.delivered_at,
                    delivery.id,
                ),
            )

    def deliveries(self, workspace_id: str, webhook_id: str, limit: int = 100) -> list[WebhookDelivery]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " WHERE w.workspace_id = ? AND d.webhook_id = ? ORDER BY d.created_at DESC LIMIT ?",
                (workspace_id, webhook_id, limit),
            ).fetchall()
        return [_delivery(r) for r in rows]
