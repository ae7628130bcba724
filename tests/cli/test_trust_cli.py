"""The audit log and secrets from the command line, run as a user runs it (a real process, its exit code)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _zhiwen(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zhiwen", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_changing_commands_are_audited_without_their_values_and_reads_are_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _zhiwen(data, "init").returncode == 0
    assert _zhiwen(data, "secrets", "set", "ORDERS_TOKEN", "--value", "tok-secret-1").returncode == 0
    missing = _zhiwen(data, "secrets", "delete", "NOPE")
    assert missing.returncode == 2 and "no secret 'NOPE'" in missing.stderr
    assert _zhiwen(data, "secrets", "list").returncode == 0
    assert _zhiwen(data, "secrets", "set", "--help").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    assert _zhiwen(elsewhere, "secrets", "delete").returncode == 2  # a usage error: nothing ran
    assert not elsewhere.exists()  # and recording it made no store either

    assert _zhiwen(data, "backup", "--dir", str(tmp_path / "backups"), "--keep", "2").returncode == 0

    listed = _zhiwen(data, "audit", "list", "--json")
    entries = json.loads(listed.stdout)
    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("cli secrets delete", "", 2),
        ("cli secrets set", "--value", 0),
    ]
    assert entries[0]["actor"].startswith("cli:") and entries[0]["source"] == "cli"
    assert "tok-secret-1" not in (data / "zhiwen.sqlite3").read_bytes().decode("latin-1")
    store_wide = json.loads(_zhiwen(data, "audit", "list", "--store-wide", "--json").stdout)
    assert [(e["action"], e["target"]) for e in store_wide] == [
        ("cli backup", "--dir --keep"),
        ("cli init", ""),
    ]

    out = tmp_path / "audit.csv"
    assert _zhiwen(data, "audit", "export", str(out)).returncode == 0
    assert out.read_text(encoding="utf-8").splitlines()[0].startswith("seq,workspace_id,at,actor")
    verified = _zhiwen(data, "audit", "verify")
    assert verified.returncode == 0 and "3 entries chain" in verified.stdout  # the export is recorded


def test_a_customer_is_exported_and_erased_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    faq = tmp_path / "faq.md"
    faq.write_text("# 退货\n\n签收后七天内可以无理由退货。\n", encoding="utf-8")
    assert _zhiwen(data, "init").returncode == 0
    assert _zhiwen(data, "ingest", str(faq)).returncode == 0
    asked = json.loads(_zhiwen(data, "ask", "我是13912345678，七天内能退货吗", "--json").stdout)
    conversation = asked["conversation_id"]

    rules = _zhiwen(data, "privacy", "set", "--redact-stored", "--keep-conversations-days", "365")
    assert rules.returncode == 0 and "conversations kept: 365 days" in rules.stdout
    bad = _zhiwen(data, "privacy", "set", "--kinds", "passport")
    assert bad.returncode == 2 and "kinds" in bad.stderr

    out = tmp_path / "customer.json"
    assert (
        _zhiwen(data, "privacy", "export", "--conversation", conversation, "--out", str(out)).returncode == 0
    )
    assert json.loads(out.read_text(encoding="utf-8"))["conversations"][0]["id"] == conversation
    erased = _zhiwen(data, "privacy", "erase", "--conversation", conversation, "--yes")
    assert erased.returncode == 0 and "nothing of what was erased is left" in erased.stdout
    again = _zhiwen(data, "privacy", "export", "--conversation", conversation)
    assert again.returncode == 2 and "nothing is held" in again.stderr
    nobody = _zhiwen(data, "privacy", "erase", "--yes")
    assert nobody.returncode == 2 and "name the customer" in nobody.stderr
