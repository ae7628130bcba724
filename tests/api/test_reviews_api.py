"""Review analytics over HTTP: import with per-row problems, classify, train as a job, gate, charts."""

from __future__ import annotations

from tests.api.conftest import RoleApi, wait_for_job
from zhiwen.sample_reviews import generate, to_csv
from zhiwen.services.records import MAX_FILE_BYTES
from zhiwen.services.reviews.sentiment_train import is_held_out


def test_reviews_go_from_import_to_a_promoted_model_and_a_chart(roles_api: RoleApi) -> None:
    client, auth = roles_api
    posted = client.post(
        "/v1/reviews",
        json={
            "reviews": [
                {"text": "送餐太慢了，菜都凉了", "rating": 1, "product": "外卖", "timestamp": "2026-11-01"},
                {"text": "", "product": "外卖"},
                {"text": "好吃", "timestamp": "not a date"},
                {"text": "<b>fine</b>", "label": "maybe"},
            ]
        },
        headers=auth["admin"],
    ).json()
    assert posted["imported"] == 1 and posted["scored"] == 1
    assert [p["row"] for p in posted["problems"]] == [2, 3, 4]

    uploaded = client.post(
        "/v1/reviews/import",
        files={"file": ("shop.csv", to_csv(generate(300)), "text/csv")},
        params={"score": "false"},
        headers=auth["admin"],
    )
    assert uploaded.status_code == 201 and uploaded.json()["imported"] == 300
    assert (
        client.post(
            "/v1/reviews/import", files={"file": ("x.csv", b"", "text/csv")}, headers=auth["admin"]
        ).json()["error"]["code"]
        == "invalid_input"
    )

    classified = client.post(
        "/v1/reviews/classify", json={"items": [{"text": "客服态度很差，没人回复"}]}, headers=auth["client"]
    ).json()
    assert classified[0]["label"] == "negative" and classified[0]["model"] == "zero-shot baseline"
    assert client.post("/v1/reviews", json={"reviews": []}, headers=auth["admin"]).status_code == 422
    assert client.post("/v1/sentiment/train", json={}, headers=auth["client"]).status_code == 403

    job = client.post("/v1/sentiment/train", json={"candidates": ["ngram"]}, headers=auth["admin"]).json()
    finished = wait_for_job(client, job["id"], auth["admin"])
    assert finished["status"] == "succeeded", finished
    version = finished["result"]["version"]  # type: ignore[index]
    assert (
        client.get(f"/v1/sentiment/models/{version}/confusion.png", headers=auth["admin"]).content[:4]
        == b"\x89PNG"
    )

    client.put("/v1/sentiment/gate", json={"minimum": {"macro_f1": 1.01}}, headers=auth["admin"])
    assert (
        client.put("/v1/sentiment/gate", json={"minimum": {"macro_f1": 2}}, headers=auth["admin"]).status_code
        == 400
    )
    client.put(
        "/v1/sentiment/gate", json={"minimum": {"accuracy": 0.5, "macro_f1": 0.5}}, headers=auth["admin"]
    )
    promoted = client.post(f"/v1/sentiment/models/{version}/promote", headers=auth["admin"])
    assert promoted.status_code == 200 and promoted.json()["passed"]
    listed = client.get("/v1/sentiment/models", headers=auth["admin"]).json()
    (shown,) = listed["models"]
    assert listed["live"] == version and shown["family"] == "sentiment" and shown["report"]["labels"]
    assert "predictions" not in shown["report"]  # one per held-out review: kept for the gate, not shown
    assert client.get(f"/v1/sentiment/models/{version}", headers=auth["admin"]).json() == shown
    (event,) = client.get("/v1/sentiment/history", headers=auth["admin"]).json()
    assert (event["version"], event["action"]) == (version, "promote")
    scoring = client.post("/v1/reviews/score", headers=auth["admin"])
    assert scoring.status_code == 202
    assert wait_for_job(client, scoring.json()["id"], auth["admin"])["result"] == {"scored": 301}

    explained = client.post(
        "/v1/reviews/classify", json={"items": [{"text": "物流太慢了，等了十天才到"}]}, headers=auth["client"]
    ).json()[0]
    assert (
        explained["label"] == "negative"
        and explained["words"]
        and explained["model"].startswith(f"v{version}")
    )

    topics = client.post("/v1/reviews/topics", json={}, headers=auth["admin"]).json()
    assert len(topics["topics"]) >= 2
    summary = client.get("/v1/reviews/summary", params={"period": "week"}, headers=auth["admin"]).json()
    assert summary["overall"]["reviews"] == 301 and summary["products"][0]["periods"]
    png = client.get("/v1/reviews/summary", params={"format": "png"}, headers=auth["admin"])
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    page = client.get("/v1/reviews/summary", params={"format": "html"}, headers=auth["admin"]).text
    assert "扫地机器人 X1" in page and "<img" in page
    negatives = client.get("/v1/reviews", params={"sentiment": "negative"}, headers=auth["admin"]).json()
    assert negatives and all(r["sentiment"] == "negative" for r in negatives)


def test_a_model_without_a_held_out_evaluation_is_refused_with_409(roles_api: RoleApi) -> None:
    client, auth = roles_api
    training_only = [r for r in generate(200) if not is_held_out(r["text"])]
    client.post(
        "/v1/reviews/import",
        files={"file": ("shop.csv", to_csv(training_only), "text/csv")},
        headers=auth["admin"],
    )
    job = client.post("/v1/sentiment/train", json={"candidates": ["ngram"]}, headers=auth["admin"]).json()
    version = wait_for_job(client, job["id"], auth["admin"])["result"]["version"]  # type: ignore[index]
    assert client.get(f"/v1/sentiment/models/{version}/gate", headers=auth["admin"]).json()["passed"] is False
    refused = client.post(f"/v1/sentiment/models/{version}/promote", headers=auth["admin"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "gate_refused"
    assert "no held-out evaluation" in refused.json()["error"]["details"]["failures"][0]
    assert client.get("/v1/sentiment/models/99", headers=auth["admin"]).status_code == 404


def test_an_upload_over_the_limit_is_refused_with_413_and_nothing_stored(roles_api: RoleApi) -> None:
    client, auth = roles_api
    huge = b"text\n" + b"x" * (MAX_FILE_BYTES + 1)
    refused = client.post(
        "/v1/reviews/import", files={"file": ("big.csv", huge, "text/csv")}, headers=auth["admin"]
    )
    assert refused.status_code == 413 and "byte limit" in refused.json()["error"]["message"]
    assert client.get("/v1/reviews", headers=auth["admin"]).json() == []
