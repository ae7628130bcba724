"""Recommendations: serving (any key, so the shop's front end can call it) and recommender versions (train
as a job, gate, promote, rollback; admin key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from zhiwen import tasks
from zhiwen.api.deps import AdminKey, AnyKey, ServicesDep, actor
from zhiwen.api.routes.documents import job_out
from zhiwen.api.routes.model_routes import add_model_routes
from zhiwen.api.schemas import (
    JobOut,
    RecommendationsOut,
    RecommendedOut,
    RecommenderTrainRequest,
    SimilarItemsOut,
)
from zhiwen.services.recommend.service import MAX_K

router = APIRouter(prefix="/v1", tags=["recommendations"])
Categories = Annotated[
    list[str] | None, Query(max_length=50, description="Only these categories (repeat the parameter).")
]
AvailableOnly = Annotated[bool, Query(description="Only items in stock (the catalogue's `available`).")]


@router.get("/recommendations", response_model=RecommendationsOut)
def recommendations(
    services: ServicesDep,
    key: AnyKey,
    user: Annotated[str, Query(min_length=1, max_length=200, description="The customer's id.")],
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    category: Categories = None,
    available_only: AvailableOnly = True,
    include_seen: Annotated[
        bool, Query(description="Allow items the user viewed, carted or rated (never what they bought).")
    ] = False,
) -> RecommendationsOut:
    """The user's top k from the live recommender, each with its reason ("because you viewed …"). Events
    posted to ``/v1/events`` count at once; a user with no events gets what is popular."""
    found = services.recommendations.recommend(
        key.workspace_id, user, k, category or (), available_only, include_seen
    )
    return RecommendationsOut(
        user=user,
        recommender=services.recommenders.live_version(key.workspace_id),
        items=[RecommendedOut(**r.to_dict()) for r in found],
    )


@router.get("/items/{item_id}/similar", response_model=SimilarItemsOut)
def similar_items(
    item_id: str,
    services: ServicesDep,
    key: AnyKey,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    category: Categories = None,
    available_only: AvailableOnly = True,
) -> SimilarItemsOut:
    """Items that go with this one: what customers who touched it also touched, and what reads alike."""
    found = services.recommendations.similar(key.workspace_id, item_id, k, category or (), available_only)
    return SimilarItemsOut(item=item_id, items=[RecommendedOut(**r.to_dict()) for r in found])


@router.post("/recommend/train", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
def train(body: RecommenderTrainRequest, services: ServicesDep, key: AdminKey) -> JobOut:
    """Train a recommender as a job; poll ``/v1/jobs/{id}``: its result names the version and its test
    figures. With ``promote``, the job also promotes it if it passes the gate."""
    params = {"actor": actor(key), "candidates": body.candidates, "promote": body.promote}
    return job_out(tasks.start(services, key.workspace_id, "recommender-train", params))


add_model_routes(router, "/recommend", lambda services, *_: services.recommenders, "recommender")
