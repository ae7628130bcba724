"""Recommenders end to end on the services: train on a generated shop (real SQLite, the bundled E5 for item
text, `implicit`), gate, serve with filters and reasons, live events without retraining, similar items and
related products for questions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from zhiwen.errors import Conflict, GateRefused, InvalidInput, NotFound
from zhiwen.sample_shop import DEMO_PRODUCTS, ShopSettings, generate, rows_csv
from zhiwen.types import Workspace
from zhiwen.wiring import Services

SHOP = ShopSettings(users=300, items=80, featured=DEMO_PRODUCTS[:5])


@pytest.fixture
def shop(services: Services, workspace: Workspace) -> tuple[Services, Workspace]:
    items, events = generate(SHOP)
    services.catalog.import_catalog(workspace.id, "catalog.csv", rows_csv(items))
    services.catalog.import_events(workspace.id, "events.csv", rows_csv(events))
    return services, workspace


@pytest.fixture
def live(shop: tuple[Services, Workspace]) -> tuple[Services, Workspace]:
    services, workspace = shop
    model = services.recommenders.train(workspace.id, "test")
    services.recommenders.promote(workspace.id, model.version, "test")
    return services, workspace


def _now() -> str:
    return datetime.now(UTC).isoformat()


def test_training_reports_every_model_on_the_test_period_and_the_choice_beats_popularity(
    live: tuple[Services, Workspace],
) -> None:
    services, workspace = live
    model = services.recommenders.get(workspace.id, 1)
    tested = model.report["test"]
    assert set(tested) == {"popularity", "itemknn", "als", "content", "chosen"}
    assert tested["chosen"]["ndcg_at_k"] > tested["popularity"]["ndcg_at_k"]
    assert tested["chosen"]["users"] > 20 and 0 < tested["chosen"]["coverage"] <= 1
    # chosen on the validation period, which ends where the test period begins
    assert model.report["validation"]["settings"] and set(model.params["weights"]) <= set(tested)
    assert services.recommenders.live_version(workspace.id) == 1
    assert services.recommenders.history(workspace.id)[0]["action"] == "promote"


def test_a_new_event_changes_recommendations_at_once_and_bought_items_never_come_back(
    live: tuple[Services, Workspace],
) -> None:
    services, workspace = live
    before = services.recommendations.recommend(workspace.id, "newcomer", 5)
    assert {r.reason for r in before} == {"popular"}
    viewed = [i for i in services.catalog.items(workspace.id) if i.available][7]
    services.catalog.add_events(
        workspace.id,
        [
            {"user_id": "newcomer", "item_id": viewed.id, "event": "view", "timestamp": _now()},
            {"user_id": "newcomer", "item_id": before[0].item.id, "event": "purchase", "timestamp": _now()},
        ],
    )
    after = services.recommendations.recommend(workspace.id, "newcomer", 5)
    ids = [r.item.id for r in after]
    assert ids != [r.item.id for r in before]
    assert before[0].item.id not in ids and viewed.id not in ids
    explained = [r for r in after if r.because is not None]
    assert explained and {r.because.id for r in explained} <= {viewed.id, before[0].item.id}  # type: ignore[union-attr]
    assert any(r.text.startswith(("because you viewed", "because you bought")) for r in explained)
    with_seen = services.recommendations.recommend(workspace.id, "newcomer", 80, include_seen=True)
    assert before[0].item.id not in {r.item.id for r in with_seen}  # bought: never
    assert viewed.id in {r.item.id for r in with_seen}


def test_filters_by_category_and_availability_follow_the_catalogue_without_retraining(
    live: tuple[Services, Workspace],
) -> None:
    services, workspace = live
    user = services.catalog.events(workspace.id)[0].user_id
    kitchen = services.recommendations.recommend(workspace.id, user, 10, categories=["厨房"])
    assert kitchen and {r.item.category for r in kitchen} == {"厨房"}
    top = services.recommendations.recommend(workspace.id, user, 3)[0].item
    services.catalog.import_catalog(
        workspace.id,
        "stock.csv",
        f"item_id,title,category,price,available\n{top.id},{top.title},{top.category},{top.price},false\n".encode(),
    )
    assert top.id not in {r.item.id for r in services.recommendations.recommend(workspace.id, user, 3)}
    everything = services.recommendations.recommend(workspace.id, user, 3, available_only=False)
    assert top.id in {r.item.id for r in everything}


def test_similar_items_and_related_products_for_a_question_that_names_a_product(
    live: tuple[Services, Workspace],
) -> None:
    services, workspace = live
    vacuum = next(
        i for i in services.catalog.items(workspace.id) if i.title.startswith("极光扫地机器人 R7 /")
    )
    similar = services.recommendations.similar(workspace.id, vacuum.id, 5)
    assert len(similar) == 5 and vacuum.id not in {r.item.id for r in similar}
    related = services.recommendations.related_products(workspace.id, "扫地机器人R7的电池能用多久？", 3)
    assert len(related) == 3 and {r.because_of for r in related} == {vacuum.title}
    assert vacuum.id not in {r.id for r in related}
    accessory = services.recommendations.related_products(workspace.id, "R7 的滤网多久换？", 2)
    assert {r.because_of for r in accessory} == {"R7 滤网边刷套装 / R7 filter and brush kit"}
    assert services.recommendations.related_products(workspace.id, "怎么退货？", 3) == []
    assert services.recommendations.related_products(workspace.id, "", 3) == []
    with pytest.raises(NotFound, match="no item nope"):
        services.recommendations.similar(workspace.id, "nope", 5)


def test_the_gate_refuses_a_recommender_that_does_not_beat_popularity_or_the_minimums(
    live: tuple[Services, Workspace],
) -> None:
    services, workspace = live
    content_only = services.recommenders.train(workspace.id, "test", ["content"])
    verdict = services.recommenders.check(workspace.id, content_only.version)
    assert not verdict["passed"] and verdict["live"]["version"] == 1
    assert any("against live v1" in f for f in verdict["failures"]), verdict
    with pytest.raises(GateRefused):
        services.recommenders.promote(workspace.id, content_only.version, "test")
    assert services.recommenders.live_version(workspace.id) == 1
    services.recommenders.set_gate_policy(workspace.id, {"ndcg_at_k": 0.99}, None)
    assert any("below the minimum" in f for f in services.recommenders.check(workspace.id, 1)["failures"])
    with pytest.raises(InvalidInput, match="unknown gated metric"):
        services.recommenders.set_gate_policy(workspace.id, {"accuracy": 0.5}, None)
    with pytest.raises(Conflict, match="never been live"):  # the ungated way back never goes forward
        services.recommenders.rollback(workspace.id, "test", content_only.version)
    assert services.recommenders.live_version(workspace.id) == 1


def test_the_gate_refuses_what_does_not_beat_popularity_in_a_shop_where_popularity_is_everything(
    services: Services, workspace: Workspace
) -> None:
    items, events = generate(ShopSettings(users=300, items=80, skew=3.0))
    services.catalog.import_catalog(workspace.id, "catalog.csv", rows_csv(items))
    services.catalog.import_events(workspace.id, "events.csv", rows_csv(events))
    content_only = services.recommenders.train(workspace.id, "test", ["content"])
    verdict = services.recommenders.check(workspace.id, content_only.version)
    assert verdict["failures"] == [
        f"ndcg_at_k {verdict['candidate']['ndcg_at_k']:.4f} does not beat the popularity baseline "
        f"{verdict['popularity']['ndcg_at_k']:.4f}"
    ]


def test_training_refuses_what_it_cannot_learn_from_and_stores_nothing(
    services: Services, workspace: Workspace
) -> None:
    with pytest.raises(InvalidInput, match="catalogue is empty"):
        services.recommenders.train(workspace.id, "test")
    items, events = generate(SHOP)
    services.catalog.import_catalog(workspace.id, "catalog.csv", rows_csv(items))
    services.catalog.import_events(workspace.id, "events.csv", rows_csv(events[:20]))
    with pytest.raises(InvalidInput, match="too few to learn from"):
        services.recommenders.train(workspace.id, "test")
    services.catalog.import_events(workspace.id, "events.csv", rows_csv(events))
    with pytest.raises(InvalidInput, match="unknown recommender"):
        services.recommenders.train(workspace.id, "test", ["deep-magic"])
    assert services.recommenders.models(workspace.id) == []
    with pytest.raises(NotFound, match="no recommender is live"):
        services.recommendations.recommend(workspace.id, "u00001", 5)
    assert services.recommendations.related_products(workspace.id, "R7 多少钱", 3) == []


def test_one_workspace_never_sees_another_ones_recommender(live: tuple[Services, Workspace]) -> None:
    services, _ = live
    other = services.workspaces.create_workspace("other")
    assert services.recommenders.models(other.id) == []
    with pytest.raises(NotFound):
        services.recommenders.get(other.id, 1)
    with pytest.raises(NotFound, match="no recommender is live"):
        services.recommendations.recommend(other.id, "u00001", 5)
