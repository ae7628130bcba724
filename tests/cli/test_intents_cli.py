"""The intent commands as a user types them: look, edit, train, try, gate, ask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import zhiwen
from zhiwen.cli.common import state
from zhiwen.cli.serve import _demo_intents
from zhiwen.errors import InvalidInput, NotFound
from zhiwen.web.shop import demo_order, serve_shop


def test_intents_are_edited_trained_tried_and_gated_from_the_command_line(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    code, out = zhiwen(tmp_path, "intents", "list")
    assert code == 0 and "order_status" in out and "No intent model is live" in out
    code, out = zhiwen(tmp_path, "intents", "try", "你好")
    assert code == 0 and "No intent model is live" in out
    code, out = zhiwen(
        tmp_path,
        "intents",
        "add",
        "opening_hours",
        "-e",
        "几点开门",
        "-e",
        "what time do you open",
        "-e",
        "营业时间",
        "--reply",
        "每天 9:00–21:00",
    )
    assert code == 0
    with pytest.raises(InvalidInput, match="'dance' is not one of"):
        zhiwen(tmp_path, "intents", "add", "party", "-e", "let's party", "--action", "dance")
    exported = tmp_path / "intents.yaml"
    exported.write_text(zhiwen(tmp_path, "intents", "export")[1], encoding="utf-8")
    assert "opening_hours" in exported.read_text(encoding="utf-8")
    code, out = zhiwen(tmp_path, "intents", "import", str(exported), "--json")
    assert code == 0 and len(json.loads(out)) == 7

    code, out = zhiwen(tmp_path, "intents", "train", "--promote", "--json")
    trained = json.loads(out)
    assert code == 0 and trained["promotion"]["passed"] and trained["model"]["version"] == 1
    code, out = zhiwen(tmp_path, "intents", "try", "你们几点开门呀", "--json")
    assert json.loads(out)["match"]["name"] == "opening_hours"
    code, out = zhiwen(tmp_path, "ask", "谢谢你", "--json")
    assert code == 0 and json.loads(out)["mode"] == "reply"
    code, out = zhiwen(tmp_path, "intents", "show", "1")
    assert code == 0 and "opening_hours" in out and "precision" in out
    code, out = zhiwen(tmp_path, "intents", "models")
    assert code == 0 and "v1 (live)" in out

    zhiwen(tmp_path, "intents", "gate", "--min", "accuracy=1.0")
    code, out = zhiwen(tmp_path, "intents", "promote", "1")
    assert code == 1 and "below the minimum" in out
    with pytest.raises(NotFound, match="no earlier live intent"):
        zhiwen(tmp_path, "intents", "rollback")
    code, _ = zhiwen(tmp_path, "intents", "remove", "opening_hours")
    assert code == 0 and "opening_hours" not in zhiwen(tmp_path, "intents", "list")[1]


def test_the_demo_answers_order_questions_from_the_demo_shops_order_lookup(tmp_path: Path) -> None:
    zhiwen(tmp_path, "init")
    shop = serve_shop("127.0.0.1", 0, "http://127.0.0.1:1/widget.js", "zw_demo")
    state.data_dir = str(tmp_path)
    try:
        workspace_id = state.workspace("default").id
        _demo_intents(workspace_id, f"http://127.0.0.1:{shop.server_address[1]}")
        answerer = state.services().answerer
        found = answerer.answer(workspace_id, "订单 2024113012345 到哪了")
        order = demo_order("2024113012345")
        assert order is not None and found.mode == "tool"
        assert found.text.startswith(f"订单 2024113012345：{order['status_zh']}")
        missing = answerer.answer(workspace_id, "where is my order 2024113012340")  # no such order
        assert missing.handoff and missing.intent is not None
        assert missing.intent.error == "the tool answered HTTP 404"
    finally:
        state.close()
        state.data_dir = None
        shop.shutdown()
        shop.server_close()
