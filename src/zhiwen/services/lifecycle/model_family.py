"""One family of versioned models in the registry (recommenders, intent models, sentiment models): its
versions, the live one, the history of promotions and rollbacks, the gate policy, and the two moves. What a
family measures and how its gate judges a candidate stay with the family; this is the part every family
shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from zhiwen.errors import Conflict, GateRefused, NotFound
from zhiwen.ports import ModelRegistry, WorkspaceStore
from zhiwen.services.lifecycle.gate_policy import GatePolicy
from zhiwen.types import ModelVersion


class ModelFamily:
    def __init__(
        self,
        models: ModelRegistry,
        workspaces: WorkspaceStore,
        family: str,
        gated: Sequence[str],
        default_minimum: Mapping[str, float] | None = None,
        command: str = "",
    ) -> None:
        self._models = models
        self._workspaces = workspaces
        self.family = family
        self.gated = tuple(gated)
        self._default_minimum = dict(default_minimum or {})
        self._command = command  # the CLI group, named in errors

    @property
    def gate_setting(self) -> str:
        return f"{self.family}_gate"

    def versions(self, workspace_id: str) -> list[ModelVersion]:
        return self._models.versions(workspace_id, self.family)

    def get(self, workspace_id: str, version: int) -> ModelVersion:
        return self._models.get(workspace_id, self.family, version)

    def load(self, workspace_id: str, version: int) -> bytes:
        return self._models.load(workspace_id, self.family, version)

    def live_version(self, workspace_id: str) -> int | None:
        return self._models.live_version(workspace_id, self.family)

    def history(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._models.history(workspace_id, self.family)

    def save(
        self,
        workspace_id: str,
        kind: str,
        params: dict[str, Any],
        report: dict[str, Any],
        blob: bytes,
        actor: str,
    ) -> ModelVersion:
        return self._models.save(workspace_id, self.family, kind, params, report, blob, actor)

    def gate_policy(self, workspace_id: str) -> GatePolicy:
        stored = self._workspaces.get_setting(workspace_id, self.gate_setting)
        policy = GatePolicy.from_dict(stored)
        if stored is None:
            policy.minimum.update(self._default_minimum)
        return policy

    def set_gate_policy(
        self, workspace_id: str, minimum: Mapping[str, float], tolerance: float | None
    ) -> GatePolicy:
        policy = self.gate_policy(workspace_id).updated(minimum, tolerance, self.gated)
        self._workspaces.put_setting(workspace_id, self.gate_setting, policy.to_dict())
        return policy

    def promote(
        self, workspace_id: str, version: int, actor: str, check: Callable[[str, int], dict[str, Any]]
    ) -> dict[str, Any]:
        """Make ``version`` live if ``check`` (the family's gate) passes it; otherwise :class:`GateRefused`
        with the verdict as details."""
        verdict = check(workspace_id, version)
        if not verdict["passed"]:
            failures = "; ".join(verdict["failures"])
            raise GateRefused(f"{self.family} v{version} fails the gate: {failures}", verdict)
        self._models.set_live(workspace_id, self.family, version, "promote", actor, verdict)
        return verdict

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        """Make an earlier live version live again at once, not gated: the emergency exit. Default: the one
        before. A version never live is refused: only promotion, through the gate, makes a version live."""
        if version is None:
            current = self.live_version(workspace_id)
            earlier = [e["version"] for e in self.history(workspace_id) if e["version"] != current]
            if not earlier:
                hint = f"; see `zhiwen {self._command} models`" if self._command else ""
                raise NotFound(f"no earlier live {self.family} to roll back to{hint}")
            version = int(earlier[0])
        self.get(workspace_id, version)
        events = self._models.history(workspace_id, self.family, limit=100_000)
        if not any(e["version"] == version and e["action"] in ("promote", "rollback") for e in events):
            raise Conflict(f"{self.family} v{version} has never been live: promote it, so the gate judges it")
        self._models.set_live(workspace_id, self.family, version, "rollback", actor, {})
        return version


class GatedModels(Protocol):
    """A family's service as the CLI and the API drive it: its registry family, its gate, the two moves."""

    family: ModelFamily

    def check(self, workspace_id: str, version: int) -> dict[str, Any]: ...
    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]: ...
    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int: ...


def promoted_if_passing(models: GatedModels, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
    """The gate's verdict on a version just trained, which is made live when it passes: what a training
    run asked to promote reports (the CLI's ``--promote``, the API's ``promote``)."""
    try:
        return models.promote(workspace_id, version, actor)
    except GateRefused as refused:
        return dict(refused.details)
