"""A customer sends a photo with a question: its text is read and asked with it (the real OCR model)."""

from __future__ import annotations

import base64
import io

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont

from zhiwen.wiring import Services

Api = tuple[TestClient, Services, dict[str, str]]
MANUAL = (
    "# 扫地机器人 R7 故障代码\n\n## E3\n\n显示 E3 表示主刷被缠住：关机后取下主刷，清理缠绕的毛发再装回。\n\n"
    "## E5\n\n显示 E5 表示尘盒未装好：取出尘盒重新按到位。\n"
)


def _screen(text: str) -> str:
    image = Image.new("RGB", (520, 160), (235, 240, 235))
    draw = ImageDraw.Draw(image)
    draw.text(
        (40, 45),
        text,
        fill="black",
        font=ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 48),
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return base64.b64encode(out.getvalue()).decode()


def test_a_photo_of_an_error_code_finds_the_passage_that_explains_it(api: Api) -> None:
    client, _, keys = api
    auth = {"authorization": f"Bearer {keys['acme']}"}
    uploaded = client.post(
        "/v1/documents", files=[("files", ("r7-errors.md", MANUAL.encode()))], headers=auth
    )
    assert uploaded.status_code == 200
    asked = client.post(
        "/v1/ask", json={"question": "屏幕上这个是什么意思？", "image": _screen("故障 E3")}, headers=auth
    )
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert "E3" in body["read_from_photo"] and body["question"].endswith(body["read_from_photo"])
    assert body["citations"] and "主刷被缠住" in body["citations"][0]["snippet"] + body["text"]


def test_a_photo_that_is_not_one_is_refused_by_name(api: Api) -> None:
    client, _, keys = api
    auth = {"authorization": f"Bearer {keys['acme']}"}
    for image, status, words in (
        ("not base64!", 400, "not base64"),
        ("data:image/png;base64", 400, "needs a comma"),
        (base64.b64encode(b"GIF89a broken").decode(), 422, "not a readable image"),
        ("", 400, "image: empty"),
    ):
        refused = client.post("/v1/ask", json={"question": "这是什么？", "image": image}, headers=auth)
        assert refused.status_code == status and words in refused.json()["error"]["message"], refused.text
