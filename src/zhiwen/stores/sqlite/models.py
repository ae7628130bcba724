"""Trained model versions by family (e.g. "recommender"), each workspace's live version, the history of
promotions and rollbacks, and the log of table models' predictions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import ModelVersion, utc_now

_COLUMNS = "workspace_id, family, version, kind, params, report, created_by, created_at"


def _version(row: SqlRow) -> ModelVersion:
    return ModelVersion(
        workspace_id=row["workspace_id"],
        family=row["family"],
        version=row["version"],
        kind=row["kind"],
        params=json.loads(row["params"]),
        report=json.loads(row["report"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


class SqliteModelRegistry:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def save(
        self,
        workspace_id: str,
        family: str,
        kind: str,
        params: dict[str, Any],
        report: dict[str, Any],
        model: bytes,
        created_by: str,
    ) -> ModelVersion:
        with self._db.transaction() as conn:
            version = 1 + int(
                conn.execute(
                    "SELECT coalesce(max(version), 0) FROM model_versions"
                    " WHERE workspace_id = ? AND family = ?",
                    (workspace_id, family),
                ).fetchone()[0]
            )
            conn.execute(
                f"INSERT INTO model_versions ({_COLUMNS}, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    workspace_id,
                    family,
                    version,
                    kind,
                    json.dumps(params, ensure_ascii=False),
                    json.dumps(report, ensure_ascii=False),
                    created_by,
                    utc_now(),
                    model,
                ),
            )
        return self.get(workspace_id, family, version)

    def get(self, workspace_id: str, family: str, version: int) -> ModelVersion:
        with self._db.reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM model_versions"
                " WHERE workspace_id = ? AND family = ? AND version = ?",
                (workspace_id, family, version),
            ).fetchone()
        if row is None:
            raise NotFound(f"no {family} model version {version}")
        return _version(row)

    def load(self, workspace_id: str, family: str, version: int) -> bytes:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT model FROM model_versions WHERE workspace_id = ? AND family = ? AND version = ?",
                (workspace_id, family, version),
            ).fetchone()
        if row is None:
            raise NotFound(f"no {family} model version {version}")
        return bytes(row[0])

    def versions(self, workspace_id: str, family: str) -> list[ModelVersion]:
        with self._db.reading() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM model_versions"
                " WHERE workspace_id = ? AND family = ? ORDER BY version",
                (workspace_id, family),
            ).fetchall()
        return [_version(r) for r in rows]

    def live_version(self, workspace_id: str, family: str) -> int | None:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT version FROM model_live WHERE workspace_id = ? AND family = ?", (workspace_id, family)
            ).fetchone()
        return None if row is None else int(row[0])

    def set_live(
        self, workspace_id: str, family: str, version: int, action: str, actor: str, detail: dict[str, Any]
    ) -> None:
        now = utc_now()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO model_live (workspace_id, family, version, since) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workspace_id, family)"
                " DO UPDATE SET version = excluded.version, since = excluded.since",
                (workspace_id, family, version, now),
            )
            conn.execute(
                "INSERT INTO model_events (workspace_id, family, version, action, detail, actor, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (workspace_id, family, version, action, json.dumps(detail, ensure_ascii=False), actor, now),
            )

    def history(self, workspace_id: str, family: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT version, action, detail, actor, at FROM model_events"
                " WHERE workspace_id = ? AND family = ? ORDER BY id DESC LIMIT ?",
                (workspace_id, family, limit),
            ).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


class SqlitePredictionLog:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def record(
        self,
        workspace_id: str,
        model: str,
        version: int,
        entries: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    ) -> None:
        now = utc_now()
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO model_predictions (workspace_id, model, version, inputs, output, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        workspace_id,
                        model,
                        version,
                        json.dumps(inputs, ensure_ascii=False, default=str),
                        json.dumps(output, ensure_ascii=False),
                        now,
                    )
                    for inputs, output in entries
                ],
            )

    def recent(self, workspace_id: str, model: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT version, inputs, output, at FROM model_predictions"
                " WHERE workspace_id = ? AND model = ? ORDER BY id DESC LIMIT ?",
                (workspace_id, model, limit),
            ).fetchall()
        return [
            {
                "version": r["version"],
                "inputs": json.loads(r["inputs"]),
                "output": json.loads(r["output"]),
                "at": r["at"],
            }
            for r in rows
        ]

    def forget(self, workspace_id: str, model: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute(
                "DELETE FROM model_predictions WHERE workspace_id = ? AND model = ?", (workspace_id, model)
            ).rowcount
