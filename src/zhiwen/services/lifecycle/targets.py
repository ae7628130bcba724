"""What answers a workspace's questions: the live release, or, before the first promotion and for
evaluating changes, the working knowledge with the working settings."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from zhiwen.errors import InvalidInput
from zhiwen.ports import ReleaseStore, WorkspaceStore
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.types import Release

CONFIG_SETTING = "answer_config"  # the working settings, as overrides of the service defaults
CONFIDENCE_SETTING = "confidence_model"  # written by `zhiwen calibrate`
CHOICE_SETTING = "choice_model"  # written by `zhiwen calibrate` too
RERANKER_SETTING = "reranker"  # written by `zhiwen rerank train`


@dataclass(frozen=True)
class Target:
    workspace_id: str
    knowledge_id: str  # the workspace whose chunks are searched: the workspace itself or a release snapshot
    config: AnswerConfig
    release: Release | None = None

    @property
    def label(self) -> str:
        return "working" if self.release is None else f"release {self.release.number}"

    def knowledge_ref(self, working_ref: str) -> str:
        """The id, in this target's knowledge, of a working document or chunk id."""
        return working_ref if self.release is None else working_ref + self.release.suffix


def working_id(knowledge_ref: str) -> str:
    """The working id of a document or chunk id from any release snapshot."""
    return knowledge_ref.split("@", 1)[0]


class Targets:
    def __init__(self, workspaces: WorkspaceStore, releases: ReleaseStore, defaults: AnswerConfig) -> None:
        self._workspaces = workspaces
        self._releases = releases
        self._defaults = defaults
        self._parsed: dict[str, AnswerConfig] = {}  # release id -> config; releases are immutable
        self._lock = threading.Lock()

    def working_config(self, workspace_id: str) -> AnswerConfig:
        models = {
            "confidence_model": CONFIDENCE_SETTING,
            "choice_model": CHOICE_SETTING,
            "reranker": RERANKER_SETTING,
        }
        stored = self._workspaces.get_settings(workspace_id, [CONFIG_SETTING, *models.values()])
        merged = {**self._defaults.to_dict(), **(stored.get(CONFIG_SETTING) or {})}
        for key, setting in models.items():
            if merged.get(key) is None:
                merged[key] = stored.get(setting)
        return AnswerConfig.from_dict(merged)

    def save_working_config(self, workspace_id: str, config: AnswerConfig) -> None:
        self._workspaces.put_setting(workspace_id, CONFIG_SETTING, config.settings())

    def save_model(self, workspace_id: str, setting: str, model: dict[str, Any] | None) -> None:
        """Store a fitted model (confidence, re-ranker) in the working settings; None removes it."""
        self._workspaces.put_setting(workspace_id, setting, model)

    def working(self, workspace_id: str) -> Target:
        return Target(workspace_id, workspace_id, self.working_config(workspace_id))

    def of_release(self, release: Release) -> Target:
        if release.pruned_at:
            raise InvalidInput(f"release {release.number} was pruned; its knowledge is gone")
        with self._lock:
            config = self._parsed.get(release.id)
            if config is None:
                config = self._parsed[release.id] = AnswerConfig.from_dict(release.config)
        return Target(release.workspace_id, release.knowledge_id, config, release)

    def live(self, workspace_id: str) -> Target:
        release = self._releases.live_release(workspace_id)
        return self.working(workspace_id) if release is None else self.of_release(release)
