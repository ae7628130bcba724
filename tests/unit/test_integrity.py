"""`zhiwen check`: a whole store passes; each kind of damage a crash could leave is named."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from zhiwen.cli.app import app
from zhiwen.services.answers.service import default_confidence
from zhiwen.services.lifecycle.targets import CONFIDENCE_SETTING
from zhiwen.stores.sqlite.db import fts_table
from zhiwen.types import Workspace
from zhiwen.wiring import Services


def test_a_whole_store_has_no_problems_and_each_damage_is_named(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    services.releases.create(workspace.id, "test")
    assert services.check_store() == []
    with services.db.transaction() as conn:
        [chunk_id] = conn.execute(
            "SELECT id FROM chunks WHERE workspace_id = ? AND embedded = 1 LIMIT 1", (workspace.id,)
        ).fetchone()
        conn.execute(f"DELETE FROM {fts_table(workspace.id)} WHERE chunk_id = ?", (chunk_id,))
        conn.execute("DELETE FROM vectors WHERE chunk_id = ?", (chunk_id,))
        [knowledge_id] = conn.execute("SELECT knowledge_id FROM releases").fetchone()
        conn.execute("DELETE FROM chunks WHERE workspace_id = ? AND position = 0", (knowledge_id,))
    job = services.jobs.create_job(workspace.id, "ingest")  # queued, but its files never arrived
    problems = services.check_store()
    assert len(problems) == 5, problems
    assert f"workspace {workspace.id}: 1 chunks are not in keyword search" in problems
    assert any(
        p.startswith(f"workspace {knowledge_id}: ") and "keyword entries have no chunk" in p for p in problems
    )
    assert "1 chunks are marked embedded but have no vector" in problems
    assert f"workspace {workspace.id}: release 1's knowledge differs from its manifest" in problems
    spool = services.settings.data_dir / "spool"
    assert f"upload job {job.id} is unfinished but its files are gone from {spool}" in problems


def test_the_check_command_exits_1_and_says_what_is_wrong(demo_copy: tuple[Services, Workspace]) -> None:
    services, _ = demo_copy
    runner = CliRunner()
    data_dir = str(services.settings.data_dir)
    whole = runner.invoke(app, ["--data-dir", data_dir, "check", "--json"])
    assert whole.exit_code == 0 and json.loads(whole.stdout) == {"ok": True, "problems": []}
    with services.db.transaction() as conn:
        conn.execute("UPDATE chunks SET embedded = 1 WHERE id IN (SELECT id FROM chunks LIMIT 1)")
        conn.execute("DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks LIMIT 1)")
    damaged = runner.invoke(app, ["--data-dir", data_dir, "check"])
    assert damaged.exit_code == 1
    assert "1 chunks are marked embedded but have no vector" in damaged.output


def test_a_model_fitted_through_another_question_adapter_is_named(
    demo_copy: tuple[Services, Workspace],
) -> None:
    services, workspace = demo_copy
    fitted = default_confidence().to_dict()
    services.targets.save_model(workspace.id, CONFIDENCE_SETTING, fitted)  # as `zhiwen calibrate` does
    stored = services.workspaces.get_settings(workspace.id, [CONFIDENCE_SETTING])[CONFIDENCE_SETTING]
    assert stored["question_space"] == services.embedder.question_space
    assert "question adapter" in stored["question_space"]
    release, _ = services.releases.create(workspace.id, "test", "demo")
    services.releases.promote(workspace.id, release.number, "test")
    assert services.check_store() == []

    elsewhere = {**fitted, "question_space": "multilingual-e5-small (bundled); no question adapter"}
    services.workspaces.put_setting(workspace.id, CONFIDENCE_SETTING, elsewhere)
    problems = services.check_store()
    assert problems == [
        f"workspace {workspace.name}: the confidence model of the working settings was fitted when questions"
        " were embedded by multilingual-e5-small (bundled); no question adapter; they now are by "
        f"{services.embedder.question_space}: run `zhiwen calibrate` (and `zhiwen rerank train` for a "
        "re-ranker) again, then make a release"
    ]
    answer = services.answerer.answer(
        workspace.id, "退货运费谁出？", target=services.targets.working(workspace.id)
    )
    assert answer.confidence > 0, "a stamped model still answers"
