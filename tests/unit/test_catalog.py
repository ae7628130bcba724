"""Catalogue and behaviour events: real files, real SQLite, every bad row reported."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.test_cli import zhiwen
from zhiwen.api import create_app
from zhiwen.errors import InvalidInput, TooLarge
from zhiwen.sample_shop import ShopSettings, generate, write
from zhiwen.types import Workspace
from zhiwen.wiring import Services

CATALOG = (
    "item_id,title,category,price,available\n"
    "sku-1,无线耳机,手机配件,199,true\n"
    "sku-2,扫地机器人,家电,￥1999,有货\n"
    ",no id,家电,1,true\n"
    "sku-3,,家电,1,true\n"
    "sku-4,Tent,户外,cheap,true\n"
    "sku-5,Lamp,户外,30,maybe\n"
    "sku-1,无线耳机 again,手机配件,199,true\n"
)


def _csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def test_a_catalogue_imports_its_good_rows_names_the_bad_ones_and_updates_on_reimport(
    services: Services, workspace: Workspace
) -> None:
    report = services.catalog.import_catalog(workspace.id, "catalog.csv", CATALOG.encode("gbk"))
    assert (report.added, report.updated) == (2, 0)
    problems = {p["row"]: p["problem"] for p in report.problems}
    assert problems == {
        4: "no item id",
        5: "item 'sku-3' has no title",
        6: "price 'cheap' is not a number",
        7: "available 'maybe': use true/false (or 有货/缺货)",
        8: "duplicate of row 2",
    }
    items = {i.id: i for i in services.catalog.items(workspace.id)}
    assert (
        items["sku-2"].price == 1999.0 and items["sku-2"].available and items["sku-1"].category == "手机配件"
    )
    changed = (
        "item_id,title,category,price,available\n"
        "sku-1,无线耳机,手机配件,149,false\n"
        "sku-2,扫地机器人,家电,1999,有货\n"
    )
    again = services.catalog.import_catalog(workspace.id, "catalog.csv", changed.encode())
    assert (again.added, again.updated, again.already_stored) == (0, 1, 1)
    assert not services.catalog.items(workspace.id, ["sku-1"])[0].available


def test_events_report_unknown_items_bad_times_duplicates_and_out_of_order_rows(
    services: Services, workspace: Workspace
) -> None:
    with pytest.raises(InvalidInput, match="catalogue is empty"):
        services.catalog.import_events(workspace.id, "events.csv", b"user_id,item_id\nu1,sku-1\n")
    services.catalog.import_catalog(workspace.id, "catalog.csv", CATALOG.encode())
    events = (
        "user_id,item_id,event,weight,timestamp\n"
        "u1,sku-1,view,,2026-03-02 10:00\n"
        "u1,sku-1,加入购物车,,2026-03-02 10:05\n"
        "u2,sku-9,view,,2026-03-02 10:06\n"
        "u2,sku-2,view,,last tuesday\n"
        "u2,sku-2,wishlist,,2026-03-02 10:07\n"
        "u1,sku-1,view,,2026-03-02 10:00\n"
        "u3,sku-2,purchase,,2026-03-01 09:00\n"
        "u3,sku-2,rating,,2026-03-04 09:00\n"
        "u3,sku-2,rating,4,1772614800\n"
    )
    report = services.catalog.import_events(workspace.id, "events.csv", events.encode())
    problems = {p["row"]: p["problem"] for p in report.problems}
    assert "unknown item 'sku-9'" in problems[4]
    assert "is not a date" in problems[5]
    assert "'wishlist' is not one of" in problems[6]
    assert problems[7] == "duplicate of row 2"
    assert "needs a weight" in problems[9]
    assert report.added == 4 and report.out_of_order == 1
    stored = services.catalog.events(workspace.id)
    assert [e.at for e in stored] == sorted(e.at for e in stored)  # read back in time order
    assert [(e.kind, e.weight) for e in services.catalog.events(workspace.id, "u1")] == [
        ("view", 1.0),
        ("cart", 3.0),
    ]
    assert services.catalog.import_events(workspace.id, "events.csv", events.encode()).already_stored == 4


def test_movielens_style_files_import_as_they_are(services: Services, workspace: Workspace) -> None:
    movies = b"movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Jumanji (1995),Adventure\n"
    ratings = b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,3.5,964981247\n"
    assert services.catalog.import_catalog(workspace.id, "movies.csv", movies).added == 2
    report = services.catalog.import_events(workspace.id, "ratings.csv", ratings)
    assert report.added == 2 and report.out_of_order == 1
    assert {(e.kind, e.weight) for e in services.catalog.events(workspace.id)} == {
        ("rating", 4.0),
        ("rating", 3.5),
    }


def test_the_synthetic_shop_has_skew_seasons_tastes_and_a_funnel() -> None:
    items, events = generate(ShopSettings(users=400, items=160, seed=3))
    kinds = Counter(e["event"] for e in events)
    assert kinds["view"] > kinds["cart"] > kinds["purchase"] > kinds["rating"] > 0
    per_item = sorted(Counter(e["item_id"] for e in events).values(), reverse=True)
    assert sum(per_item[:16]) / sum(per_item) > 0.3  # the top 10 % of items draw far more than 10 %
    per_user = Counter(e["user_id"] for e in events)
    assert min(per_user.values()) < 5 < max(per_user.values()) / 10  # cold users and heavy users
    outdoor = {i["item_id"] for i in items if i["category"] == "户外"}
    by_month = Counter(e["timestamp"][5:7] for e in events if e["item_id"] in outdoor)
    assert by_month["06"] > by_month["01"]  # outdoor peaks in summer
    assert generate(ShopSettings(users=400, items=160, seed=3)) == (items, events)


def test_catalogue_and_events_from_the_command_line_and_over_http(
    services: Services, workspace: Workspace, tmp_path: Path
) -> None:
    catalog, events = write(tmp_path / "shop", ShopSettings(users=100, items=80))
    data = tmp_path / "data"
    assert zhiwen(data, "init", "--json")[0] == 0
    code, out = zhiwen(data, "catalog", "import", str(catalog), "--json")
    assert code == 0 and json.loads(out)["added"] == 80
    code, out = zhiwen(data, "events", "import", str(events), "--json")
    assert code == 0 and json.loads(out)["added"] > 1000 and not json.loads(out)["problems"]

    key = services.keys.issue(workspace.id, "shop", "client").plain
    admin = services.keys.issue(workspace.id, "admin", "admin").plain
    with TestClient(create_app(services, run_embedding_worker=False)) as client:
        auth, admin_auth = {"Authorization": f"Bearer {key}"}, {"Authorization": f"Bearer {admin}"}
        imported = client.post(
            "/v1/catalog/import",
            files={"file": ("catalog.csv", catalog.read_bytes(), "text/csv")},
            headers=admin_auth,
        )
        assert imported.status_code == 201 and imported.json()["added"] == 80
        live = client.post(
            "/v1/events",
            json={
                "events": [
                    {"user_id": "u1", "item_id": "sku-0001", "event": "cart"},
                    {"user_id": "u1", "item_id": "nope"},
                ]
            },
            headers=auth,
        ).json()
        assert live["added"] == 1 and live["problems"][0]["row"] == 2
        assert client.post("/v1/events", json={"events": []}, headers=auth).status_code == 422
        assert client.get("/v1/items/sku-0001", headers=auth).json()["category"]
        assert client.get("/v1/items/none", headers=auth).status_code == 404
        assert client.get("/v1/items", headers=auth).status_code == 403
    with pytest.raises(TooLarge):
        services.catalog.add_events(workspace.id, [{"user_id": "u", "item_id": "sku-0001"}] * 1001)
