from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests import files
from zhiwen.cli import app

runner = CliRunner()


def zhiwen(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_help_teaches_the_first_steps() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "zhiwen init" in result.stdout and "zhiwen ingest" in result.stdout
    for command in ("ingest", "search", "ask", "bench", "calibrate", "workspace", "key", "serve", "demo"):
        assert command in result.stdout


def test_init_creates_a_default_workspace_and_shows_the_admin_key_once(tmp_path: Path) -> None:
    code, out = zhiwen(tmp_path, "init", "--json")
    first = json.loads(out)
    assert code == 0 and first["workspace"] == "default" and first["admin_key"].startswith("zw_")
    code, out = zhiwen(tmp_path, "init", "--json")
    assert json.loads(out)["admin_key"] is None


def test_workspaces_and_keys_are_managed_from_the_cli(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    code, out = zhiwen(tmp_path, "workspace", "create", "shop2", "--json")
    assert code == 0 and json.loads(out)["admin_key"].startswith("zw_")
    names = [w["name"] for w in json.loads(zhiwen(tmp_path, "workspace", "list", "--json")[1])]
    assert names == ["default", "shop2"]
    key = json.loads(zhiwen(tmp_path, "key", "create", "-w", "shop2", "--role", "client", "--json")[1])
    assert key["role"] == "client" and key["secret"].startswith("zw_")
    revoked = json.loads(zhiwen(tmp_path, "key", "revoke", key["id"], "--json")[1])
    assert revoked["revoked_at"]
    listed = json.loads(zhiwen(tmp_path, "key", "list", "-w", "shop2", "--json")[1])
    assert {k["id"]: bool(k["revoked_at"]) for k in listed}[key["id"]] is True


def test_ingest_search_ask_and_delete_from_the_cli(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "warranty.md").write_text("# Warranty\n\nRobot vacuums carry a 2-year warranty.", encoding="utf-8")
    (kb / "manual.pdf").write_bytes(files.pdf("# 扫地机器人说明书\n\n## 维护\n\n滤网每 3 个月更换一次。"))
    (kb / "broken.docx").write_bytes(b"not a docx")
    zhiwen(tmp_path, "init")
    code, out = zhiwen(tmp_path, "ingest", str(kb), "--json")
    report = json.loads(out)
    assert code == 1  # one file failed; the others are in
    assert report["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "failed": 1}
    assert report["embedded"] == 2
    code, out = zhiwen(tmp_path, "search", "滤网多久换", "--json")
    assert json.loads(out)["hits"][0]["source"] == "manual.pdf"
    code, out = zhiwen(tmp_path, "ask", "How long is the robot vacuum warranty?", "--json")
    answer = json.loads(out)
    assert code == 0 and set(answer) >= {"answer_id", "text", "citations", "confidence", "handoff"}
    code, out = zhiwen(tmp_path, "ask", "Do you sell electric scooters?")
    assert code == 0 and "only recorded for review" in " ".join(out.split()), "nobody is waiting for it"
    documents = json.loads(zhiwen(tmp_path, "documents", "list", "--json")[1])
    code, out = zhiwen(tmp_path, "documents", "delete", documents[0]["id"], "--json")
    assert json.loads(out)["chunks_removed"] == 1


def test_bench_retrieval_prints_metrics_for_a_beir_folder(tmp_path: Path) -> None:
    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    corpus = [
        {"_id": "d1", "title": "退货", "text": "七天无理由退货，运费买家承担。"},
        {"_id": "d2", "title": "保修", "text": "扫地机器人保修两年。"},
        {"_id": "d3", "title": "Shipping", "text": "Orders ship the same day before 4 pm."},
    ]
    queries = [{"_id": "q1", "text": "退货运费谁出"}, {"_id": "q2", "text": "when do orders ship"}]
    (beir / "corpus.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in corpus), encoding="utf-8"
    )
    (beir / "queries.jsonl").write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in queries), encoding="utf-8"
    )
    (beir / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n", encoding="utf-8"
    )
    code, out = zhiwen(tmp_path / "data", "bench", "retrieval", str(beir), "--mode", "all", "--json")
    report = json.loads(out)
    assert code == 0 and set(report["modes"]) == {"keyword", "vector", "hybrid"}
    assert report["modes"]["hybrid"]["ndcg@10"] == pytest.approx(1.0)
    assert report["indexing"]["embed_tokens_per_s"] > 0


def test_bench_retrieval_explains_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "retrieval", str(tmp_path)])
    assert result.exit_code != 0


def test_json_output_is_one_document_and_errors_exit_non_zero(tmp_path: Path) -> None:
    """Run the real entry point: stdout carries exactly one JSON document, errors go to stderr."""
    env = {**os.environ, "ZHIWEN_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "zhiwen", "init", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0 and json.loads(done.stdout)["workspace"] == "default"
    missing = [sys.executable, "-m", "zhiwen", "ask", "hello", "--workspace", "nope"]
    failed = subprocess.run(missing, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert failed.returncode == 2 and failed.stdout == ""
    assert "no workspace 'nope'" in failed.stderr and "zhiwen workspace create" in failed.stderr
