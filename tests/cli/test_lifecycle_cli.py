"""The lifecycle from the command line: golden sets, evaluation, reports, the CI gate, releases, feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import zhiwen
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.types import Workspace
from zhiwen.wiring import Services


def test_golden_eval_release_gate_and_rollback_from_the_command_line(
    demo_copy: tuple[Services, Workspace], tmp_path: Path
) -> None:
    services, _ = demo_copy
    data = services.settings.data_dir
    csv = tmp_path / "golden.csv"
    csv.write_text("question,expected_answer\n积分的有效期是多久？,12\n", encoding="utf-8")
    code, out = zhiwen(data, "golden", "import", str(csv), "--name", "tiny", "--json")
    assert code == 0 and json.loads(out)["size"] == 1
    code, out = zhiwen(data, "golden", "export", "tiny")
    assert json.loads(out.splitlines()[0])["question"] == "积分的有效期是多久？"

    code, out = zhiwen(data, "eval", "run", "--golden", "demo", "--json")
    run = json.loads(out)
    assert code == 0 and run["summary"]["answer_accuracy"] > 0.85
    report = tmp_path / "report.md"
    assert zhiwen(data, "eval", "report", run["id"], "--out", str(report))[0] == 0
    assert (
        "| answer accuracy |" in report.read_text()
        and (tmp_path / "report-plots" / "reliability.png").is_file()
    )

    assert zhiwen(data, "release", "create", "--golden", "demo")[0] == 0
    assert zhiwen(data, "release", "promote", "1")[0] == 0
    assert zhiwen(data, "release", "create", "--golden", "demo", "--set", "handoff_below=0.97")[0] == 0
    code, out = zhiwen(data, "eval", "gate", "--json")
    assert code == 1 and not json.loads(out)["passed"]
    code, out = zhiwen(data, "release", "promote", "2")
    assert code == 1 and "refused by the gate" in out
    code, out = zhiwen(data, "ask", "积分的有效期是多久？", "--json")
    answer = json.loads(out)
    assert answer["release"] == 1

    code, out = zhiwen(
        data, "feedback", answer["answer_id"], "--dislike", "--correct", "积分有效期 12 个月。"
    )
    assert code == 0
    code, out = zhiwen(data, "review", "replay", answer["answer_id"], "--json")
    assert json.loads(out)["same_text"] is True
    code, out = zhiwen(data, "review", "list", "--json")
    assert json.loads(out)[0]["correction"] == "积分有效期 12 个月。"
    code, out = zhiwen(data, "review", "list")
    assert answer["answer_id"] in out, "the id approve needs, whole in an 80-column terminal"
    code, out = zhiwen(data, "review", "approve", answer["answer_id"])
    assert code == 0 and "with the next release (release 1 is live)" in " ".join(out.split())
    code, out = zhiwen(data, "release", "list", "--json")
    assert json.loads(out)["live"] == 1


def test_synonyms_from_the_command_line(demo_copy: tuple[Services, Workspace], tmp_path: Path) -> None:
    services, workspace = demo_copy
    data = services.settings.data_dir
    assert zhiwen(data, "release", "create", "--golden", "demo")[0] == 0
    assert zhiwen(data, "release", "promote", "1")[0] == 0
    code, out = zhiwen(data, "synonyms", "add", "铂金卡", "白金会员", "白金卡")
    assert code == 0 and "白金会员, 白金卡 → 铂金卡" in out
    assert "with the next release (release 1 is live)" in " ".join(out.split())
    code, out = zhiwen(data, "ask", "白金会员包邮吗", "--json")
    assert json.loads(out)["handoff"], "release 1 answers as it was frozen"
    code, out = zhiwen(data, "ask", "白金会员包邮吗", "--working", "--json")
    assert not json.loads(out)["handoff"], "the working settings have the synonym"
    with pytest.raises(InvalidInput, match="give the earlier questions with --after"):
        zhiwen(
            data, "ask", "那黑钻呢", "--working", "--conversation", json.loads(out)["conversation_id"] or "c"
        )
    code, out = zhiwen(data, "ask", "那它保修多久", "--working", "--after", "扫地机器人多少钱", "--json")
    followup = json.loads(out)
    assert "机器人" in followup["understood_as"] and "扫地机器人整机保修 2 年" in followup["text"]
    with pytest.raises(InvalidInput, match="--after needs --working"):
        zhiwen(data, "ask", "那黑钻呢", "--after", "白金会员包邮吗")
    with pytest.raises(InvalidInput, match="an earlier question is empty"):
        zhiwen(data, "ask", "那它保修多久", "--working", "--after", " ")
    table = tmp_path / "synonyms.csv"
    table.write_bytes("同义词,标准词\n价保|保价,价格保护\n".encode("gbk"))  # as Excel saves it in China
    code, out = zhiwen(data, "synonyms", "import", str(table), "--json")
    imported = json.loads(out)
    assert code == 0 and imported["synonyms"] == {
        "白金会员": "铂金卡",
        "白金卡": "铂金卡",
        "价保": "价格保护",
        "保价": "价格保护",
    }
    assert imported["warnings"] == [], "the documents say 价格保护, and 价保 nowhere"
    code, out = zhiwen(data, "synonyms", "add", "黑钻卡", "白金卡")
    assert "白金卡 meant 铂金卡 before." in out
    code, out = zhiwen(data, "synonyms", "add", "扫地机器人R9", "扫地机", "--json")
    assert json.loads(out)["warnings"] == [
        "'扫地机器人R9' is in none of your documents: questions saying '扫地机' will search for it"
    ]
    code, out = zhiwen(data, "synonyms", "add", "invoice", "fapiao")
    assert "'fapiao' is in your documents (Invoices (Fapiao))" in " ".join(out.split())
    code, out = zhiwen(data, "synonyms", "remove", "白金卡", "扫地机", "fapiao", "--json")
    assert code == 0 and "白金卡" not in json.loads(out)["synonyms"]
    code, out = zhiwen(data, "synonyms", "list")
    assert code == 0 and "价格保护" in out and "白金会员" in out

    broken = tmp_path / "broken.csv"
    broken.write_text("said,written\n运费险,\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"row 2.*found columns 'said', 'written'"):
        zhiwen(data, "synonyms", "import", str(broken))
    broken.write_text("said,written\n白金会员,铂金卡\n白金会员,黑钻卡\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="row 3: '白金会员' means '黑钻卡' here and '铂金卡' in row 2"):
        zhiwen(data, "synonyms", "import", str(broken))
    with pytest.raises(NotFound, match="白金卡"):
        zhiwen(data, "synonyms", "remove", "白金卡")
    assert len(services.targets.synonyms(workspace.id)) == 3, "nothing half-written"
    with pytest.raises(InvalidInput, match="or --all"):
        zhiwen(data, "synonyms", "remove")
    code, out = zhiwen(data, "synonyms", "remove", "--all", "--yes", "--json")
    assert code == 0 and json.loads(out) == {"synonyms": {}}
    code, out = zhiwen(data, "synonyms", "list")
    assert "No synonyms yet" in out
