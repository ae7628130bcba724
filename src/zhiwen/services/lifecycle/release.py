"""Releases and the quality gate.

``create`` freezes the working knowledge and settings as a numbered candidate and evaluates it on the
held-out split of a golden set. ``promote`` makes it live only when it meets the workspace's thresholds and
does not regress against the live release beyond a tolerance on any gated metric; otherwise it refuses with
the reasons and the questions that got worse. ``rollback`` makes any earlier release live again at once: it is
the emergency exit, so it is not gated. Answering reads the live pointer per question, so a switch never
interrupts answering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zhiwen.errors import Conflict, GateRefused, InvalidInput, NotFound
from zhiwen.ports import ReleaseStore, VectorIndex, WorkspaceStore
from zhiwen.services.answers.choice import default_choice
from zhiwen.services.answers.config import AnswerConfig
from zhiwen.services.answers.service import default_confidence
from zhiwen.services.knowledge.embedding import EmbeddingWorker
from zhiwen.services.lifecycle.evaluate import GATED_METRICS, EvalService, compare_results
from zhiwen.services.lifecycle.gate_policy import GatePolicy
from zhiwen.services.lifecycle.targets import Targets
from zhiwen.types import EvalRun, Release

GATE_SETTING = "gate"
MAX_EVENTS = 100_000  # a workspace's whole release history, for the checks that read it


@dataclass
class GateResult:
    release: int
    passed: bool
    failures: list[str]
    candidate: dict[str, Any]
    live: dict[str, Any] | None
    worse_questions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def release_summary(release: Release, live: Release | None = None) -> dict[str, Any]:
    """A release for people and scripts: its settings, which models (not their weights), its size."""
    data = dataclasses.asdict(release)
    data["config"] = AnswerConfig.from_dict(release.config).summary()
    data["manifest"] = {"documents": len(release.manifest["documents"]), "chunks": release.manifest["chunks"]}
    data["live"] = live is not None and live.id == release.id
    return data


def _metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {m: summary.get(m) for m in (*GATED_METRICS, "handoff_f1", "ndcg_at_k", "ece", "questions")}


class ReleaseService:
    def __init__(
        self,
        store: ReleaseStore,
        workspaces: WorkspaceStore,
        targets: Targets,
        evaluator: EvalService,
        vectors: VectorIndex,
        embedding_worker: EmbeddingWorker,
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._targets = targets
        self._evaluator = evaluator
        self._vectors = vectors
        self._worker = embedding_worker

    def gate_policy(self, workspace_id: str) -> GatePolicy:
        return GatePolicy.from_dict(self._workspaces.get_setting(workspace_id, GATE_SETTING))

    def set_gate_policy(
        self, workspace_id: str, minimum: Mapping[str, float], tolerance: float | None
    ) -> GatePolicy:
        policy = self.gate_policy(workspace_id).updated(minimum, tolerance, GATED_METRICS)
        self._workspaces.put_setting(workspace_id, GATE_SETTING, policy.to_dict())
        return policy

    def create(
        self,
        workspace_id: str,
        actor: str,
        golden: str | None = None,
        overrides: Mapping[str, str] | None = None,
        config: dict[str, Any] | None = None,
        note: str = "",
        on_progress: Callable[[int, int], None] = lambda done, total: None,
        embed_pending: bool = True,
    ) -> tuple[Release, EvalRun | None]:
        """Freeze the working knowledge with the working settings (``overrides`` applied, or ``config``
        as a whole) and evaluate it on the held-out split of ``golden``.

        A release's chunks all have vectors: pending ones are embedded first, or, with
        ``embed_pending=False`` (the API, which must not hold a request for minutes of embedding while the
        worker is on it), the store refuses the release (Conflict) until the worker has caught up."""
        if golden:
            self._evaluator.check_golden(workspace_id, golden)  # nothing is frozen for a missing golden set
        if embed_pending:
            self._worker.run_until_done()  # the store refuses to freeze chunks without vectors
        base = self._targets.working_config(workspace_id)
        chosen = (
            AnswerConfig.from_dict(config) if config is not None else base.with_overrides(overrides or {})
        )
        # Freeze the bundled defaults too: an upgrade may change them.
        chosen = dataclasses.replace(
            chosen,
            confidence_model=chosen.confidence_model or default_confidence().to_dict(),
            choice_model=chosen.choice_model or default_choice().to_dict(),
        )
        release = self._store.create_release(workspace_id, chosen.to_dict(), note, actor)
        run = None
        if golden:
            run = self._evaluator.run(self._targets.of_release(release), golden, on_progress=on_progress)
            self._store.attach_evaluation(release.id, run.id)
            release = self._store.get_release(workspace_id, release.number)
        self._store.log_event(release, "create", actor, {"eval_run": run.id if run else None})
        return release, run

    def list_releases(self, workspace_id: str) -> list[Release]:
        return self._store.list_releases(workspace_id)

    def get(self, workspace_id: str, number: int) -> Release:
        return self._store.get_release(workspace_id, number)

    def live(self, workspace_id: str) -> Release | None:
        return self._store.live_release(workspace_id)

    def history(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._store.events(workspace_id)

    def check(
        self, workspace_id: str, number: int, on_progress: Callable[[int, int], None] = lambda d, t: None
    ) -> GateResult:
        """Judge release ``number`` against the thresholds and, on the same golden questions, the live
        release (evaluated now when its own evaluation used another golden set)."""
        release = self._store.get_release(workspace_id, number)
        if release.eval_run_id is None:
            raise InvalidInput(
                f"release {number} was not evaluated; create it with --golden NAME so the gate has figures"
            )
        run, results = self._evaluator.get(workspace_id, release.eval_run_id)
        policy = self.gate_policy(workspace_id)
        failures = [
            f"{metric} {run.summary.get(metric, 0.0):.3f} is below the minimum {low:.3f}"
            for metric, low in sorted(policy.minimum.items())
            if float(run.summary.get(metric) or 0.0) < low
        ]
        live = self._store.live_release(workspace_id)
        live_summary = None
        worse: list[dict[str, Any]] = []
        if live is not None and live.id != release.id:
            live_run, live_results = self._live_evaluation(live, run, on_progress)
            live_summary = live_run.summary
            for metric in GATED_METRICS:
                before, after = live_run.summary.get(metric), run.summary.get(metric)
                if (
                    isinstance(before, float | int)
                    and isinstance(after, float | int)
                    and after < before - policy.tolerance
                ):
                    failures.append(
                        f"{metric} fell from {before:.3f} (release {live.number}) to {after:.3f}, "
                        f"more than the tolerance {policy.tolerance:.3f}"
                    )
            worse = compare_results(live_run, live_results, run, results)["worse"]
        return GateResult(
            release=number,
            passed=not failures,
            failures=failures,
            candidate=_metrics(run.summary),
            live=None if live_summary is None else _metrics(live_summary),
            worse_questions=worse,
        )

    def _live_evaluation(
        self, live: Release, candidate_run: EvalRun, on_progress: Callable[[int, int], None]
    ) -> tuple[EvalRun, list[dict[str, Any]]]:
        if live.eval_run_id is not None:
            run, results = self._evaluator.get(live.workspace_id, live.eval_run_id)
            if run.golden_set_id == candidate_run.golden_set_id and run.split == candidate_run.split:
                return run, results
        info, items = self._evaluator.golden_items(live.workspace_id, candidate_run.golden_set_id)
        run = self._evaluator.run_items(
            self._targets.of_release(live), info.id, items, candidate_run.split, on_progress=on_progress
        )
        return self._evaluator.get(live.workspace_id, run.id)

    def promote(
        self,
        workspace_id: str,
        number: int,
        actor: str,
        on_progress: Callable[[int, int], None] = lambda d, t: None,
    ) -> GateResult:
        result = self.check(workspace_id, number, on_progress)
        release = self._store.get_release(workspace_id, number)
        if not result.passed:
            self._store.log_event(release, "refused", actor, {"failures": result.failures})
            raise GateRefused(
                f"release {number} was not promoted: " + "; ".join(result.failures), result.to_dict()
            )
        self._switch(release, "promote", actor)
        return result

    def rollback(self, workspace_id: str, actor: str, number: int | None = None) -> Release:
        """Make release ``number`` (by default the one live before the current one) live again, ungated."""
        if number is None:
            number = self._previous_live(workspace_id)
        release = self._store.get_release(workspace_id, number)
        if not release.pruned_at and not self._was_live(workspace_id, number):
            raise Conflict(f"release {number} has never been live: promote it, so the gate judges it")
        self._switch(release, "rollback", actor)
        return release

    def _was_live(self, workspace_id: str, number: int) -> bool:
        """Rollback is the ungated way back, so it only goes back: to a release customers already had."""
        events = self._store.events(workspace_id, limit=MAX_EVENTS)
        return any(e["release"] == number and e["action"] in ("promote", "rollback") for e in events)

    def _previous_live(self, workspace_id: str) -> int:
        live = self._store.live_release(workspace_id)
        current = live.number if live else None
        for event in self._store.events(workspace_id, limit=MAX_EVENTS):
            if event["action"] in ("promote", "rollback") and event["release"] != current:
                return int(event["release"])
        raise NotFound("no earlier live release to roll back to; name one: `zhiwen release rollback N`")

    def prune(self, workspace_id: str, actor: str, keep: int = 5) -> list[int]:
        """Free the space of old releases: delete the frozen knowledge of every release that is neither
        live nor among the newest ``keep``. Their records and evaluations stay; they can no longer answer,
        be promoted or be rolled back to."""
        if keep < 1:
            raise InvalidInput("keep at least 1 release (--keep N, N ≥ 1)")
        live = self._store.live_release(workspace_id)
        releases = self._store.list_releases(workspace_id)
        newest = {r.number for r in releases[-keep:]}
        pruned = []
        for release in releases:
            if release.pruned_at or release.number in newest or (live and live.id == release.id):
                continue
            self._store.prune_release(release)
            self._store.log_event(release, "prune", actor, {})
            pruned.append(release.number)
        return pruned

    def _switch(self, release: Release, action: str, actor: str) -> None:
        if release.pruned_at:
            raise InvalidInput(
                f"release {release.number} was pruned on {release.pruned_at[:10]}; its knowledge is gone. "
                "Create a new release instead."
            )
        self._vectors.count(release.knowledge_id)  # load its vectors before any question needs them
        self._store.set_live(release, action, actor, {})
