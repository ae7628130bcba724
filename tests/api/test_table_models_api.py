"""Table models over HTTP: profile, create as a job, the shared lifecycle routes, predict one row and a
batch, the log, drift, charts, and bad input at every door."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import RoleApi, wait_for_job
from tests.files import churn_rows, table_csv

ROW = {"tenure": "3", "plan": "monthly", "signed_up": "2026-01-02", "region": "north", "monthly_fee": "80"}


def _create(client: TestClient, auth: dict[str, str], promote: bool = True) -> dict[str, object]:
    started = client.post(
        "/v1/models",
        files={"file": ("customers.csv", table_csv(churn_rows()), "text/csv")},
        data={
            "name": "churn",
            "target": "left",
            "budget_seconds": "60",
            "max_trials": "2",
            "promote": str(promote).lower(),
        },
        headers=auth,
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(client, started.json()["id"], auth)
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert isinstance(result, dict)
    return result


def test_a_table_goes_from_upload_to_predictions_over_http(roles_api: RoleApi) -> None:
    client, auth = roles_api
    admin = auth["admin"]
    profiled = client.post(
        "/v1/models/profile",
        files={"file": ("customers.csv", table_csv(churn_rows()), "text/csv")},
        data={"target": "left"},
        headers=admin,
    ).json()
    assert profiled["task"] == "classification"
    assert {c["name"]: c["kind"] for c in profiled["columns"]}["customer_id"] == "identifier"

    result = _create(client, admin)
    assert result["version"] == 1 and result["gate"]["passed"]  # type: ignore[index]
    assert client.get("/v1/custom-models", headers=admin).json()[0] | {"created_at": ""} == {
        "name": "churn",
        "target": "left",
        "task": "classification",
        "drop": [],
        "created_by": "key:admin",
        "created_at": "",
        "live": 1,
        "versions": 1,
    }
    versions = client.get("/v1/models/churn/versions", headers=admin).json()
    assert versions["live"] == 1 and versions["models"][0]["report"]["held_out"]["roc_auc"] > 0.8
    assert client.get("/v1/models/churn/versions/1/gate", headers=admin).json()["passed"]
    assert client.get("/v1/models/churn/history", headers=admin).json()[0]["action"] == "promote"

    one = client.post("/v1/models/churn/predict", json={"rows": [ROW]}, headers=admin)
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["version"] == 1
    assert body["predictions"][0]["prediction"] == "Yes"
    assert body["predictions"][0]["drivers"][0]["column"] in ("plan", "tenure")
    batch = client.post(
        "/v1/models/churn/predict",
        json={"rows": [ROW, {**ROW, "plan": "two-year", "tenure": "60"}]},
        headers=admin,
    ).json()
    assert [p["prediction"] for p in batch["predictions"]] == ["Yes", "No"]
    assert len(client.get("/v1/models/churn/predictions", headers=admin).json()) == 3
    assert client.get("/v1/models/churn/drift", headers=admin).json()["verdict"] == "too_few"
    for chart in ("calibration", "importance"):
        png = client.get(f"/v1/models/churn/versions/1/{chart}.png", headers=admin)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    retrained = client.post(
        "/v1/models/churn/train",
        files={"file": ("more.csv", table_csv(churn_rows(1200)), "text/csv")},
        data={"budget_seconds": "60", "max_trials": "2"},
        headers=admin,
    ).json()
    assert wait_for_job(client, retrained["id"], admin)["status"] == "succeeded"
    assert client.post("/v1/models/churn/versions/2/promote", headers=admin).json()["passed"]
    assert client.post("/v1/models/churn/rollback", headers=admin).json() == {"live": 1}
    assert (
        client.put("/v1/models/churn/gate", json={"minimum": {"roc_auc": 0.99}}, headers=admin).status_code
        == 200
    )
    refused = client.post("/v1/models/churn/versions/2/promote", headers=admin)
    assert refused.status_code == 409 and "roc_auc" in refused.json()["error"]["message"]
    assert client.delete("/v1/models/churn", headers=admin).status_code == 204
    assert client.get("/v1/models/churn", headers=admin).status_code == 404


def test_bad_requests_get_clear_answers(roles_api: RoleApi) -> None:
    client, auth = roles_api
    admin = auth["admin"]
    assert client.get("/v1/custom-models", headers=auth["client"]).status_code == 403
    assert (
        client.post("/v1/models/churn/predict", json={"rows": [ROW]}, headers=auth["client"]).status_code
        == 403
    )

    def create(name: str, data: bytes, target: str = "left") -> tuple[int, str]:
        response = client.post(
            "/v1/models",
            files={"file": ("t.csv", data, "text/csv")},
            data={"name": name, "target": target, "budget_seconds": "60", "max_trials": "2"},
            headers=admin,
        )
        return response.status_code, response.text

    assert create("../etc", table_csv(churn_rows()))[0] == 422
    status, text = create("churn", table_csv(churn_rows()), "nope")
    assert status == 400 and "no column 'nope'" in text
    status, text = create("churn", b"")
    assert status == 400 and "empty" in text
    chinese = [{"套餐": "月付" if i % 2 else "年付", "流失": "是" if i % 3 else "否"} for i in range(60)]
    profiled = client.post(
        "/v1/models/profile",
        files={"file": ("客户.csv", table_csv(chinese).decode().encode("gbk"), "text/csv")},
        data={"target": "流失"},
        headers=admin,
    )
    assert profiled.status_code == 200 and profiled.json()["columns"][0]["name"] == "套餐"
    status, text = create("churn", b"left,x\n" + b"1,2\n" * 10)
    assert status == 400 and "at least 50" in text
    assert client.get("/v1/models/nope/versions", headers=admin).status_code == 404

    _create(client, admin)
    missing = client.post("/v1/models/churn/predict", json={"rows": [{"plan": "monthly"}]}, headers=admin)
    assert missing.status_code == 400 and "lacks column" in missing.json()["error"]["message"]
    wrong = client.post(
        "/v1/models/churn/predict", json={"rows": [{**ROW, "tenure": "a lot"}]}, headers=admin
    )
    assert wrong.status_code == 400 and "tenure must be a number" in wrong.json()["error"]["message"]
    assert client.post("/v1/models/churn/predict", json={"rows": []}, headers=admin).status_code == 422
    assert (
        client.post("/v1/models/churn/predict", json={"rows": [ROW] * 10_001}, headers=admin).status_code
        == 422
    )
    for number in (b"NaN", b"Infinity", b"1" + b"0" * 400):
        odd = client.post(
            "/v1/models/churn/predict",
            content=b'{"rows": [{"tenure": ' + number + b"}]}",
            headers={**admin, "Content-Type": "application/json"},
        )
        assert odd.status_code in (400, 422), (number, odd.text)
    nested = client.post(
        "/v1/models/churn/predict", json={"rows": [{**ROW, "plan": {"a": 1}}]}, headers=admin
    )
    assert nested.status_code == 422
    unseen = client.post(
        "/v1/models/churn/predict", json={"rows": [{**ROW, "plan": "<script>"}]}, headers=admin
    )
    assert unseen.json()["predictions"][0]["warnings"] == [
        "plan: '<script>' was never seen in training; read as missing"
    ]
    assert (
        client.post("/v1/models/churn/predict", json={"rows": [ROW], "version": 9}, headers=admin).status_code
        == 404
    )
