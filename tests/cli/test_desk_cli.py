"""The desk from a terminal: the queue, a conversation's context, reply, resolve; widget keys; settings."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zhiwen.adapters.embedders import BundledE5Embedder
from zhiwen.cli import app
from zhiwen.config import Settings
from zhiwen.errors import ZhiwenError
from zhiwen.wiring import build_services

runner = CliRunner()


def zhiwen(data_dir: Path, *args: str) -> tuple[int, str]:
    """Exit code and output; a refused command's error (what `zhiwen` prints, exiting 2) as the output."""
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
    if isinstance(result.exception, ZhiwenError):
        return 2, result.exception.message
    return result.exit_code, result.stdout


def test_an_agent_works_a_handed_off_conversation_from_the_terminal(
    tmp_path: Path, embedder: BundledE5Embedder
) -> None:
    zhiwen(tmp_path, "init")
    services = build_services(Settings(data_dir=tmp_path), embedder=embedder)
    workspace = services.workspaces.get_workspace("default").id
    conversation = services.desk.say(workspace, None, "我要找人工，快递一直没到").conversation_id
    services.close()

    code, out = zhiwen(tmp_path, "desk", "queue", "--json")
    assert code == 0
    (queued,) = json.loads(out)
    assert queued["id"] == conversation and queued["reason"] == "asked_for_human"
    code, out = zhiwen(
        tmp_path, "desk", "reply", conversation, "您好，帮您查一下物流", "--as", "key:li", "--json"
    )
    assert code == 0 and json.loads(out)["author_name"] == "li"
    code, out = zhiwen(tmp_path, "desk", "reply", conversation, "VIP customer", "--note", "--as", "key:li")
    assert code == 0
    code, out = zhiwen(tmp_path, "desk", "show", conversation)
    assert code == 0 and "快递一直没到" in out and "VIP customer" in out
    code, out = zhiwen(tmp_path, "desk", "resolve", conversation, "--as", "key:li")
    assert code == 0 and "resolved" in out
    code, out = zhiwen(tmp_path, "desk", "resolve", conversation, "--as", "key:li")
    assert code == 2 and "resolved, not with people" in out
    code, out = zhiwen(tmp_path, "review", "list", "--json")
    assert any(g["correction"] == "您好，帮您查一下物流" for g in json.loads(out))


def test_widget_keys_need_their_origins_and_settings_files_are_checked(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    code, out = zhiwen(tmp_path, "key", "create", "--role", "widget")
    assert code == 2 and "--origin" in out
    code, out = zhiwen(tmp_path, "key", "create", "--role", "widget", "--origin", "shop.example.com")
    assert code == 2 and "not a web origin" in out
    code, out = zhiwen(
        tmp_path, "key", "create", "--role", "widget", "--origin", "https://Shop.example.com/", "--json"
    )
    created = json.loads(out)
    assert code == 0 and created["secret"].startswith("zw_pub_")
    assert created["origins"] == ["https://shop.example.com"]

    gbk = tmp_path / "desk.json"
    gbk.write_bytes('{"welcome": {"zh": "欢迎"}}'.encode("gbk"))
    code, out = zhiwen(tmp_path, "desk", "settings", "--set", str(gbk))
    assert code == 2 and "UTF-8 JSON" in out
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"hours": {"timezone": "Asia/Shanghai", "weekly": {"mon": "09:00-18:00"}}}))
    code, out = zhiwen(tmp_path, "desk", "settings", "--set", str(good))
    assert code == 0 and json.loads(out)["hours"]["weekly"] == {"mon": "09:00-18:00"}


def test_people_who_sign_in_are_managed_from_the_terminal(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "user", "create", "li@shop.example", "--name", "Li", "--json"],
        input="correct horse battery\ncorrect horse battery\n",
    )
    assert result.exit_code == 0, result.stdout
    user = json.loads(result.stdout[result.stdout.index("{") :])
    assert user["role"] == "agent" and "password" not in json.dumps(user)
    code, out = zhiwen(tmp_path, "user", "create", "x@shop.example", "--name", "X", "--password", "short")
    assert code == 2 and "10 to 256" in out
    code, out = zhiwen(tmp_path, "user", "disable", user["id"])
    assert code == 0 and "disabled" in out
    code, out = zhiwen(tmp_path, "user", "list", "--json")
    assert json.loads(out)[0]["disabled_at"]
