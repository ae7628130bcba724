"""The routes every gated model family shares (intent models, recommenders): its versions, one version, the
gate's verdict, promote, rollback, the history of both moves, and the gate's thresholds. One shape, mounted
per family by :func:`add_model_routes`, as :mod:`zhiwen.cli.model_commands` does for the CLI."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query

from zhiwen.api.deps import AdminKey, ServicesDep, actor
from zhiwen.api.schemas import (
    SQL_INT_MAX,
    GateThresholds,
    GateVerdictOut,
    LiveVersionOut,
    ModelEventOut,
    ModelVersionOut,
    ModelVersionsOut,
    Number,
)
from zhiwen.services.lifecycle.model_family import GatedModels
from zhiwen.types import ModelVersion
from zhiwen.wiring import Services


def version_out(model: ModelVersion) -> ModelVersionOut:
    fields = dataclasses.asdict(model)
    fields.pop("workspace_id")
    return ModelVersionOut(**fields)


def add_model_routes(router: APIRouter, base: str, of: Callable[[Services], GatedModels], noun: str) -> None:
    """``{base}/models``, ``{base}/models/{version}``, ``…/gate``, ``…/promote``, ``{base}/rollback``,
    ``{base}/history`` and ``{base}/gate`` on ``router`` for the family ``of`` returns; ``noun`` names its
    models in the descriptions ("intent model")."""

    @router.get(
        f"{base}/models",
        response_model=ModelVersionsOut,
        description=f"The {noun}'s versions and the live one.",
    )
    def models(services: ServicesDep, key: AdminKey) -> ModelVersionsOut:
        family = of(services).family
        return ModelVersionsOut(
            live=family.live_version(key.workspace_id),
            models=[version_out(m) for m in family.versions(key.workspace_id)],
        )

    @router.get(
        f"{base}/models/{{version}}",
        response_model=ModelVersionOut,
        description=f"One {noun} version: its settings and its report.",
    )
    def model(version: Number, services: ServicesDep, key: AdminKey) -> ModelVersionOut:
        return version_out(of(services).family.get(key.workspace_id, version))

    @router.get(
        f"{base}/models/{{version}}/gate",
        response_model=GateVerdictOut,
        description="What promoting would decide, without promoting.",
    )
    def gate_check(version: Number, services: ServicesDep, key: AdminKey) -> GateVerdictOut:
        return GateVerdictOut(**of(services).check(key.workspace_id, version))

    @router.post(
        f"{base}/models/{{version}}/promote",
        response_model=GateVerdictOut,
        description="Make it live if it passes the gate; 409 ``gate_refused`` with the failures otherwise.",
    )
    def promote(version: Number, services: ServicesDep, key: AdminKey) -> GateVerdictOut:
        return GateVerdictOut(**of(services).promote(key.workspace_id, version, actor(key)))

    @router.post(
        f"{base}/rollback",
        response_model=LiveVersionOut,
        description=f"Make an earlier {noun} live at once (not gated); by default the one live before.",
    )
    def rollback(
        services: ServicesDep,
        key: AdminKey,
        version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
    ) -> LiveVersionOut:
        return LiveVersionOut(live=of(services).rollback(key.workspace_id, actor(key), version))

    @router.get(
        f"{base}/history",
        response_model=list[ModelEventOut],
        description=f"Promotions and rollbacks of the {noun}, the latest first.",
    )
    def history(services: ServicesDep, key: AdminKey) -> list[ModelEventOut]:
        return [ModelEventOut(**e) for e in of(services).family.history(key.workspace_id)]

    @router.get(
        f"{base}/gate",
        response_model=GateThresholds,
        description=f"The {noun} gate's minimums and tolerance.",
    )
    def gate_policy(services: ServicesDep, key: AdminKey) -> GateThresholds:
        return GateThresholds(**of(services).family.gate_policy(key.workspace_id).to_dict())

    @router.put(
        f"{base}/gate",
        response_model=GateThresholds,
        description=f"Change the {noun} gate's minimums and tolerance.",
    )
    def set_gate_policy(body: GateThresholds, services: ServicesDep, key: AdminKey) -> GateThresholds:
        policy = of(services).family.set_gate_policy(key.workspace_id, body.minimum, body.tolerance)
        return GateThresholds(**policy.to_dict())
