"""The routes every gated model family shares (intent models, recommenders, sentiment models): its versions,
one version, the gate's verdict, promote, rollback, the history of both moves, and the gate's thresholds.
One shape, mounted per family by :func:`add_model_routes`, as :mod:`zhiwen.cli.model_commands` does for the
CLI."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from typing import Annotated

from fastapi import APIRouter, Depends, Query

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


def version_out(model: ModelVersion, hidden: Collection[str] = ()) -> ModelVersionOut:
    """The version as the API shows it; ``hidden`` names report entries left out (bulky or internal)."""
    fields = dataclasses.asdict(model)
    fields.pop("workspace_id")
    fields["report"] = {k: v for k, v in model.report.items() if k not in hidden}
    return ModelVersionOut(**fields)


def whole_family() -> str:
    """The scope of a family with one line of versions per workspace: no name in the path."""
    return ""


def add_model_routes(
    router: APIRouter,
    base: str,
    of: Callable[[Services, str, str], GatedModels],
    noun: str,
    hidden: Collection[str] = (),
    collection: str = "models",
    scope: Callable[..., str] = whole_family,
) -> None:
    """``{base}/{collection}``, ``…/{version}``, ``…/{version}/gate``, ``…/{version}/promote``,
    ``{base}/rollback``, ``{base}/history`` and ``{base}/gate`` on ``router`` for the family
    ``of(services, workspace_id, name)`` returns. ``scope`` is a dependency that reads the model's name
    from the path when ``base`` has one (table models: ``/models/{name}``); ``noun`` names the models in
    the descriptions ("intent model"); ``hidden`` names report entries the versions are shown without
    (e.g. sentiment's per-review predictions)."""
    named = Depends(scope)  # the model's name from the path, or "" for a whole family
    versions = f"{base}/{collection}"

    @router.get(
        versions,
        response_model=ModelVersionsOut,
        description=f"The {noun}'s versions and the live one.",
    )
    def models(services: ServicesDep, key: AdminKey, name: str = named) -> ModelVersionsOut:
        family = of(services, key.workspace_id, name).family
        return ModelVersionsOut(
            live=family.live_version(key.workspace_id),
            models=[version_out(m, hidden) for m in family.versions(key.workspace_id)],
        )

    @router.get(
        f"{versions}/{{version}}",
        response_model=ModelVersionOut,
        description=f"One {noun} version: its settings and its report.",
    )
    def model(version: Number, services: ServicesDep, key: AdminKey, name: str = named) -> ModelVersionOut:
        return version_out(of(services, key.workspace_id, name).family.get(key.workspace_id, version), hidden)

    @router.get(
        f"{versions}/{{version}}/gate",
        response_model=GateVerdictOut,
        description="What promoting would decide, without promoting.",
    )
    def gate_check(
        version: Number, services: ServicesDep, key: AdminKey, name: str = named
    ) -> GateVerdictOut:
        return GateVerdictOut(**of(services, key.workspace_id, name).check(key.workspace_id, version))

    @router.post(
        f"{versions}/{{version}}/promote",
        response_model=GateVerdictOut,
        description="Make it live if it passes the gate; 409 ``gate_refused`` with the failures otherwise.",
    )
    def promote(version: Number, services: ServicesDep, key: AdminKey, name: str = named) -> GateVerdictOut:
        return GateVerdictOut(
            **of(services, key.workspace_id, name).promote(key.workspace_id, version, actor(key))
        )

    @router.post(
        f"{base}/rollback",
        response_model=LiveVersionOut,
        description=f"Make an earlier {noun} live at once (not gated); by default the one live before.",
    )
    def rollback(
        services: ServicesDep,
        key: AdminKey,
        name: str = named,
        version: Annotated[int | None, Query(ge=1, le=SQL_INT_MAX)] = None,
    ) -> LiveVersionOut:
        return LiveVersionOut(
            live=of(services, key.workspace_id, name).rollback(key.workspace_id, actor(key), version)
        )

    @router.get(
        f"{base}/history",
        response_model=list[ModelEventOut],
        description=f"Promotions and rollbacks of the {noun}, the latest first.",
    )
    def history(services: ServicesDep, key: AdminKey, name: str = named) -> list[ModelEventOut]:
        return [
            ModelEventOut(**e) for e in of(services, key.workspace_id, name).family.history(key.workspace_id)
        ]

    @router.get(
        f"{base}/gate",
        response_model=GateThresholds,
        description=f"The {noun} gate's minimums and tolerance.",
    )
    def gate_policy(services: ServicesDep, key: AdminKey, name: str = named) -> GateThresholds:
        return GateThresholds(
            **of(services, key.workspace_id, name).family.gate_policy(key.workspace_id).to_dict()
        )

    @router.put(
        f"{base}/gate",
        response_model=GateThresholds,
        description=f"Change the {noun} gate's minimums and tolerance.",
    )
    def set_gate_policy(
        body: GateThresholds, services: ServicesDep, key: AdminKey, name: str = named
    ) -> GateThresholds:
        policy = of(services, key.workspace_id, name).family.set_gate_policy(
            key.workspace_id, body.minimum, body.tolerance
        )
        return GateThresholds(**policy.to_dict())
