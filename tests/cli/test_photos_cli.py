"""`zhiwen ask --image`: the text in a photo is asked with the question."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.api.test_photos_api import MANUAL, _screen
from tests.cli.test_cli import zhiwen
from zhiwen.errors import InvalidInput


def test_ask_reads_the_photo_and_answers_from_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    manual = tmp_path / "r7-errors.md"
    manual.write_text(MANUAL, encoding="utf-8")
    photo = tmp_path / "screen.jpg"
    photo.write_bytes(base64.b64decode(_screen("故障 E5")))
    assert zhiwen(data, "init")[0] == 0
    assert zhiwen(data, "ingest", str(manual))[0] == 0
    code, out = zhiwen(data, "ask", "这个怎么办？", "--image", str(photo), "--json")
    answer = json.loads(out)
    assert code == 0 and "E5" in answer["question"] and "尘盒" in answer["text"]
    with pytest.raises(InvalidInput, match=r"missing\.jpg: no such file"):  # `zhiwen` prints it, exit 2
        zhiwen(data, "ask", "这个怎么办？", "--image", str(tmp_path / "missing.jpg"))
