"""Products in photos over HTTP: train from a zip as a job, the shared lifecycle routes, recognise a photo,
a photo with a question that asks about the product it shows, and bad photos and archives at every door."""

from __future__ import annotations

import base64

from tests.api.conftest import RoleApi, wait_for_job
from tests.files import PRODUCTS, photo_zip, product_photo

MANUAL = (
    "# 蓝色 R7 扫地机器人\n\nr7-robot 是蓝色机身的 R7 扫地机器人，整机保修两年。\n\n"
    "# 绿茶礼盒\n\ngreen-tea 绿茶礼盒保质期十八个月，开封后请在三十天内喝完。\n"
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _train(client: object, auth: dict[str, str], promote: bool = True) -> dict[str, object]:
    photos = {p: [product_photo(p, 100 * n + i) for i in range(8)] for n, p in enumerate(PRODUCTS)}
    started = client.post(  # type: ignore[attr-defined]
        "/v1/vision/train",
        files={"file": ("photos.zip", photo_zip(photos), "application/zip")},
        data={"promote": str(promote).lower()},
        headers=auth,
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["id"], auth)  # type: ignore[arg-type]
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert isinstance(result, dict)
    return result


def test_photos_go_from_a_zip_to_a_live_recogniser_and_answers_about_the_product(roles_api: RoleApi) -> None:
    client, auth = roles_api
    admin = auth["admin"]
    result = _train(client, admin)
    assert result["version"] == 1 and result["gate"]["passed"], result  # type: ignore[index]
    listed = client.get("/v1/vision/models", headers=admin).json()
    assert listed["live"] == 1 and listed["models"][0]["report"]["held_out"]["top1"] >= 0.75

    seen = client.post(
        "/v1/images/recognize",
        json={"image": _b64(product_photo("r7-robot", 77_777))},
        headers=auth["client"],
    )
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["product"] == "r7-robot" and body["version"] == 1 and len(body["top"]) == 4

    assert (
        client.post("/v1/documents", files=[("files", ("kb.md", MANUAL.encode()))], headers=admin).status_code
        == 200
    )
    asked = client.post(
        "/v1/ask",
        json={"question": "这个保修多久？", "image": _b64(product_photo("r7-robot", 77_778))},
        headers=admin,
    ).json()
    assert asked["product_in_photo"] == "r7-robot" and "r7-robot" in asked["question"]
    assert "两年" in asked["text"] + "".join(c["snippet"] for c in asked["citations"])

    started = client.post("/v1/conversations", headers=auth["client"]).json()
    said = client.post(
        f"/v1/conversations/{started['conversation_id']}/messages",
        json={"text": "这个保修多久？", "image": _b64(product_photo("r7-robot", 77_779))},
        headers={**auth["client"], "X-Visitor-Token": started.get("visitor_token") or ""},
    )
    assert said.status_code == 200, said.text
    assert said.json()["answer"]["product_in_photo"] == "r7-robot"  # the customer sees what was assumed

    assert client.post("/v1/vision/rollback", headers=admin).status_code == 404  # nothing earlier


def test_bad_photos_and_archives_get_clear_answers(roles_api: RoleApi) -> None:
    client, auth = roles_api
    admin = auth["admin"]
    for image, status, words in (
        ("not base64!", 400, "not base64"),
        (_b64(b"GIF89a broken"), 422, "not a readable image"),
        (_b64(product_photo("banana", 1)[:300]), 422, "not a readable image"),
    ):
        refused = client.post("/v1/images/recognize", json={"image": image}, headers=admin)
        assert refused.status_code == status and words in refused.json()["error"]["message"], refused.text
    without_model = client.post(
        "/v1/images/recognize",
        json={"image": _b64(product_photo("banana", 1)), "read_text": False},
        headers=admin,
    ).json()
    assert without_model["product"] is None and without_model["version"] is None
    one_product = photo_zip({"banana": [product_photo("banana", i) for i in range(6)]})
    few_photos = photo_zip(
        {"banana": [product_photo("banana", 1)], "red-apple": [product_photo("red-apple", 1)]}
    )
    for archive, status, words in (
        (b"not a zip", 422, "not a zip archive"),
        (one_product, 400, "needs two or more"),
        (few_photos, 400, "fewer than 5"),
    ):
        files = {"file": ("photos.zip", archive, "application/zip")}
        refused = client.post("/v1/vision/train", files=files, headers=admin)
        assert refused.status_code == status and words in refused.text, refused.text
    two = {p: [product_photo(p, 10 * n + i) for i in range(5)] for n, p in enumerate(("banana", "red-apple"))}
    refused = client.post(
        "/v1/vision/train",
        files={
            "file": ("photos.zip", photo_zip(two), "application/zip"),
            "held_out": (
                "customers.zip",
                photo_zip({"green-tea": [product_photo("green-tea", 1)]}),
                "application/zip",
            ),
        },
        headers=admin,
    )
    assert refused.status_code == 400 and "no training photos: 'green-tea'" in refused.text, refused.text
    assert client.post("/v1/vision/train", files={}, headers=admin).status_code == 422
    photos = {"banana": [product_photo("banana", 1)]}
    assert (
        client.post(
            "/v1/vision/train",
            files={"file": ("p.zip", photo_zip(photos), "application/zip")},
            headers=auth["client"],
        ).status_code
        == 403
    )
