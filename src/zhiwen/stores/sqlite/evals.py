"""Evaluation runs with their per-question results, kept for reports, comparisons and the gate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from zhiwen.errors import NotFound
from zhiwen.stores.sql import SqlDatabase, SqlRow
from zhiwen.types import EvalRun


def _run(row: SqlRow) -> EvalRun:
    return EvalRun(
        id=row["id"],
        workspace_id=row["workspace_id"],
        golden_set_id=row["golden_set_id"],
        target=row["target"],
        split=row["split"],
        summary=json.loads(row["summary"]),
        created_at=row["created_at"],
    )


class SqliteEvalStore:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    def save_run(self, run: EvalRun, results: Sequence[dict[str, Any]]) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO eval_runs (id, workspace_id, golden_set_id, target, split, summary, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.workspace_id,
                    run.golden_set_id,
                    run.target,
                    run.split,
                    json.dumps(run.summary, ensure_ascii=False),
                    run.created_at,
                ),
            )
            conn.executemany(
                "INSERT INTO eval_results (run_id, position, record) VALUES (?, ?, ?)",
                [(run.id, i, json.dumps(r, ensure_ascii=False)) for i, r in enumerate(results)],
            )

    def get_run(self, workspace_id: str, run_id: str) -> tuple[EvalRun, list[dict[str, Any]]]:
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT * FROM eval_runs WHERE id = ? AND workspace_id = ?", (run_id, workspace_id)
            ).fetchone()
            if row is None:
                raise NotFound(f"no evaluation run {run_id!r} in this workspace; see `zhiwen eval list`")
            results = conn.execute(
                "SELECT record FROM eval_results WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return _run(row), [cast(dict[str, Any], json.loads(r[0])) for r in results]

    def list_runs(self, workspace_id: str, limit: int = 50) -> list[EvalRun]:
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM eval_runs WHERE workspace_id = ? ORDER BY created_at DESC LIMIT ?",
                (workspace_id, limit),
            ).fetchall()
        return [_run(r) for r in rows]
