"""What answers a workspace's questions: the live release, or, before the first promotion and for
evaluating changes, the working knowledge with the working settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.ports import ReleaseStore, WorkspaceStore
from zhiwen.services.answers.config import MODELS, AnswerConfig
from zhiwen.services.answers.synonyms import checked as checked_synonyms
from zhiwen.services.answers.synonyms import said_key
from zhiwen.types import Release

CONFIG_SETTING = "answer_config"  # the working settings, as overrides of the service defaults
CONFIDENCE_SETTING = "confidence_model"  # written by `zhiwen calibrate`
CHOICE_SETTING = "choice_model"  # written by `zhiwen calibrate` too
RERANKER_SETTING = "reranker"  # written by `zhiwen rerank train`
SYNONYMS_SETTING = "synonyms"  # written by `zhiwen synonyms`
QUESTION_SPACE = "question_space"  # in a fitted model: Embedder.question_space when it was fitted


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
    def __init__(
        self,
        workspaces: WorkspaceStore,
        releases: ReleaseStore,
        defaults: AnswerConfig,
        question_space: Callable[[], str] = lambda: "",
    ) -> None:
        self._workspaces = workspaces
        self._releases = releases
        self._defaults = defaults
        self._question_space = question_space  # Embedder.question_space, read when a model is stamped
        self._parsed: dict[str, AnswerConfig] = {}  # release id -> config; releases are immutable
        self._lock = threading.Lock()

    def working_config(self, workspace_id: str) -> AnswerConfig:
        models = {
            "confidence_model": CONFIDENCE_SETTING,
            "choice_model": CHOICE_SETTING,
            "reranker": RERANKER_SETTING,
            "synonyms": SYNONYMS_SETTING,
        }
        stored = self._workspaces.get_settings(workspace_id, [CONFIG_SETTING, *models.values()])
        merged = {**self._defaults.to_dict(), **(stored.get(CONFIG_SETTING) or {})}
        for key, setting in models.items():
            if not merged.get(key):
                merged[key] = stored.get(setting) or merged.get(key)
        return AnswerConfig.from_dict(merged)

    def save_working_config(self, workspace_id: str, config: AnswerConfig) -> None:
        self._workspaces.put_setting(workspace_id, CONFIG_SETTING, config.settings())

    def save_model(self, workspace_id: str, setting: str, model: dict[str, Any] | None) -> None:
        """Store a fitted model (confidence, chooser, re-ranker) in the working settings, stamped with the
        question space it was fitted in; None removes it."""
        self._workspaces.put_setting(workspace_id, setting, None if model is None else self.stamped(model))

    def stamped(self, model: dict[str, Any]) -> dict[str, Any]:
        """``model`` (fitted on answers' scores now) marked with where questions are embedded now."""
        return {**model, QUESTION_SPACE: self._question_space()}

    def fitted_elsewhere(self, workspace_id: str) -> list[str]:
        """The models answering for this workspace (working settings, live release) that were fitted
        while questions were embedded otherwise (another question adapter or model): their scores no
        longer mean what they learned. Models without a stamp (the bundled defaults, older ones) are
        not judged."""
        now = self._question_space()
        live = self._releases.live_release(workspace_id)
        found = []
        for where, config in [
            ("the working settings", self.working_config(workspace_id)),
            *([(f"release {live.number} (live)", self.of_release(live).config)] if live else []),
        ]:
            for name in MODELS:
                model = getattr(config, name) or {}
                if model.get(QUESTION_SPACE) not in (None, now):
                    found.append(
                        f"{name.replace('_', ' ')} of {where} was fitted when questions were embedded by "
                        f"{model[QUESTION_SPACE]}; they now are by {now}"
                    )
        return found

    def synonyms(self, workspace_id: str) -> dict[str, str]:
        """The working synonyms: the customer's word → the documents' word."""
        return self.working_config(workspace_id).synonyms

    def save_synonyms(self, workspace_id: str, synonyms: Mapping[str, str]) -> dict[str, str]:
        """Replace the working synonyms (the next release freezes them); returns them as stored. Checked
        whole first: a bad entry changes nothing."""
        try:
            stored = checked_synonyms(synonyms)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        self._workspaces.put_setting(workspace_id, SYNONYMS_SETTING, stored)
        return stored

    def add_synonyms(self, workspace_id: str, said: Sequence[str], written: str) -> dict[str, str]:
        """Each of the customer's words ``said`` → ``written`` (replacing what it meant before)."""
        added = dict.fromkeys(map(said_key, said), written)
        return self.save_synonyms(workspace_id, {**self.synonyms(workspace_id), **added})

    def remove_synonyms(self, workspace_id: str, said: Sequence[str]) -> dict[str, str]:
        """Forget the customer's words ``said``; NotFound naming any that is not there."""
        current = self.synonyms(workspace_id)
        missing = [w for w in said if said_key(w) not in current]
        if missing:
            raise NotFound(f"no synonym for {', '.join(map(repr, missing))}")
        gone = {said_key(w) for w in said}
        return self.save_synonyms(workspace_id, {k: v for k, v in current.items() if k not in gone})

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
