"""Recommender versions: train (search on a validation period, report on the test period, fit on
everything), and promote through the same kind of gate as answer releases: workspace minimums, beating the
popularity baseline, and no regression beyond a tolerance against the live recommender on the same split.
Rollback is instant and not gated."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.ports import CatalogStore, Embedder, ModelRegistry, WorkspaceStore
from zhiwen.services.lifecycle.gate_policy import GatePolicy
from zhiwen.services.lifecycle.model_family import ModelFamily
from zhiwen.services.lifecycle.stored_models import dump_model, load_model
from zhiwen.services.recommend.evaluate import Split, evaluate, time_split
from zhiwen.services.recommend.models import HybridRecommender, interaction_matrix
from zhiwen.services.recommend.train import MODEL_NAMES, Progress, base_model, build, search
from zhiwen.types import BehaviourEvent, CatalogItem, ModelVersion

FAMILY = "recommender"
GATED = ("ndcg_at_k", "hr_at_k", "coverage")
COMPARED = ("ndcg_at_k", "hr_at_k")  # against the live recommender
MIN_EVENTS = 50
ITEM_TEXT_CHARS = 300


@dataclass
class TrainedRecommender:
    """What a version stores: the model fitted on all events and the item ids its columns stand for."""

    model: HybridRecommender
    item_ids: list[str]


def item_text(item: CatalogItem) -> str:
    return f"{item.title} {item.category} {item.description}"[:ITEM_TEXT_CHARS]


class RecommenderModelService:
    def __init__(
        self, catalog: CatalogStore, models: ModelRegistry, workspaces: WorkspaceStore, embedder: Embedder
    ) -> None:
        self._catalog = catalog
        self._embedder = embedder
        self.family = ModelFamily(models, workspaces, FAMILY, GATED, command="recommend")

    def item_vectors(
        self, workspace_id: str, items: Sequence[CatalogItem], progress: Progress | None = None
    ) -> npt.NDArray[np.float32]:
        """E5 vectors of the items' text, in ``items`` order; only new or changed texts are embedded."""
        stored = self._catalog.item_vectors(workspace_id)
        hashes = [hashlib.sha1(item_text(i).encode(), usedforsecurity=False).hexdigest() for i in items]
        missing = [
            n for n, (i, h) in enumerate(zip(items, hashes, strict=True)) if stored.get(i.id, ("",))[0] != h
        ]
        batch = 64
        for start in range(0, len(missing), batch):
            if progress:
                progress("embed", start, len(missing))
            chosen = missing[start : start + batch]
            vectors = self._embedder.embed_passages([item_text(items[n]) for n in chosen])
            fresh = {items[n].id: (hashes[n], vectors[j]) for j, n in enumerate(chosen)}
            self._catalog.save_item_vectors(workspace_id, fresh)
            stored.update(fresh)
        return np.vstack([stored[i.id][1] for i in items]).astype(np.float32)

    def train(
        self,
        workspace_id: str,
        actor: str,
        candidates: Sequence[str] = MODEL_NAMES,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Search on a validation period, evaluate every model and the chosen one on the test period (the
        last 20 % of events), fit the chosen one on all events, and store it as a version that is not live
        until promoted."""
        started = time.perf_counter()
        unknown = sorted(set(candidates) - set(MODEL_NAMES))
        if unknown or not candidates:
            raise InvalidInput(
                f"unknown recommender(s) {', '.join(unknown)}; known: {', '.join(MODEL_NAMES)}"
            )
        items, events = self._training_data(workspace_id)
        ids = [i.id for i in items]
        vectors = self.item_vectors(workspace_id, items, progress) if "content" in candidates else None
        test, validation = self._splits(events, ids)
        choice = search(validation, vectors, tuple(candidates), progress)
        if progress:
            progress("evaluate", 0, 1)
        fitted = {
            name: base_model(name, choice.params.get(name, _best(choice.validation, name)), vectors).fit(
                test.train
            )
            for name in candidates
        }
        tested = {name: evaluate(model, test) for name, model in fitted.items()}
        if "popularity" not in tested:
            tested["popularity"] = evaluate(base_model("popularity", {}, None).fit(test.train), test)
        tested["chosen"] = evaluate(HybridRecommender.of(fitted, choice.weights), test)
        if progress:
            progress("fit", 0, 1)
        everyone = {user: n for n, user in enumerate(sorted({e.user_id for e in events}))}
        final = build(choice.weights, choice.params, vectors).fit(
            interaction_matrix(
                [(e.user_id, e.item_id, e.weight) for e in events],
                everyone,
                {i: n for n, i in enumerate(ids)},
            )
        )
        report = {
            "events": len(events),
            "users": len(everyone),
            "items": len(ids),
            "split": _split_identity(test, len(events)),
            "validation": choice.validation,
            "test": tested,
            "seconds": round(time.perf_counter() - started, 1),
        }
        params = {"weights": choice.weights, "params": choice.params}
        blob = dump_model(TrainedRecommender(final, ids))
        return self.family.save(workspace_id, choice.kind, params, report, blob, actor)

    def _training_data(self, workspace_id: str) -> tuple[list[CatalogItem], list[BehaviourEvent]]:
        items = self._catalog.items(workspace_id)
        if not items:
            raise InvalidInput("the catalogue is empty: import it first with `zhiwen catalog import FILE`")
        events = self._catalog.events(workspace_id)
        if len(events) < MIN_EVENTS:
            raise InvalidInput(
                f"{len(events)} behaviour events are too few to learn from (at least {MIN_EVENTS}); import"
                " more with `zhiwen events import FILE` or POST /v1/events"
            )
        return items, events

    @staticmethod
    def _splits(events: Sequence[BehaviourEvent], ids: Sequence[str]) -> tuple[Split, Split]:
        """The test split (last 20 % of events) and, inside its training period, the validation split."""
        test = time_split(events, ids)
        validation = time_split([e for e in events if e.at < test.cutoff], ids)
        if not test.truth or not validation.truth:
            raise InvalidInput(
                "no customer touched a new item late enough to evaluate on: the last 20 % of events (and"
                " the 20 % before them) must include items users had not touched before"
            )
        return test, validation

    def models(self, workspace_id: str) -> list[ModelVersion]:
        return self.family.versions(workspace_id)

    def get(self, workspace_id: str, version: int) -> ModelVersion:
        return self.family.get(workspace_id, version)

    def live_version(self, workspace_id: str) -> int | None:
        return self.family.live_version(workspace_id)

    def load(self, workspace_id: str, version: int) -> TrainedRecommender:
        trained = load_model(self.family.load(workspace_id, version))
        assert isinstance(trained, TrainedRecommender)
        return trained

    def history(self, workspace_id: str) -> list[dict[str, Any]]:
        return self.family.history(workspace_id)

    def gate_policy(self, workspace_id: str) -> GatePolicy:
        return self.family.gate_policy(workspace_id)

    def set_gate_policy(
        self, workspace_id: str, minimum: Mapping[str, float], tolerance: float | None
    ) -> GatePolicy:
        return self.family.set_gate_policy(workspace_id, minimum, tolerance)

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict on the test period: the minimums, the popularity baseline, and the live
        recommender (refitted with its own settings on the candidate's split when their splits differ)."""
        candidate = self.get(workspace_id, version)
        tested = candidate.report["test"]
        chosen = tested["chosen"]
        policy = self.gate_policy(workspace_id)
        failures = policy.below_minimum(chosen)
        baseline = tested["popularity"]["ndcg_at_k"]
        if candidate.kind != "popularity" and chosen["ndcg_at_k"] <= baseline:
            failures.append(
                f"ndcg_at_k {chosen['ndcg_at_k']:.4f} does not beat the popularity baseline {baseline:.4f}"
            )
        live_version = self.live_version(workspace_id)
        live: dict[str, Any] | None = None
        if live_version is not None and live_version != version:
            candidate_metrics, live = self._side_by_side(workspace_id, candidate, live_version)
            failures += policy.drops(candidate_metrics, live, COMPARED, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: chosen.get(m) for m in (*GATED, "cold_ndcg_at_k", "users")},
            "popularity": {m: tested["popularity"].get(m) for m in (*GATED, "cold_ndcg_at_k")},
            "live": None if live is None else {"version": live_version, **live},
        }

    def _side_by_side(
        self, workspace_id: str, candidate: ModelVersion, live_version: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both on the same test period: the stored figures when both were trained on the same events,
        otherwise both settings refitted on the split of today's events."""
        live = self.get(workspace_id, live_version)
        if live.report["split"] == candidate.report["split"]:
            return candidate.report["test"]["chosen"], live.report["test"]["chosen"]
        items, events = self._training_data(workspace_id)
        ids = [i.id for i in items]
        test, _ = self._splits(events, ids)
        needs_vectors = "content" in {*candidate.params["weights"], *live.params["weights"]}
        vectors = self.item_vectors(workspace_id, items) if needs_vectors else None
        measured = [
            evaluate(build(v.params["weights"], v.params["params"], vectors).fit(test.train), test)
            for v in (candidate, live)
        ]
        return measured[0], measured[1]

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        """Make an earlier version live at once, not gated: the emergency exit. Default: the one before."""
        return self.family.rollback(workspace_id, actor, version)


def _best(validation: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A model's best setting on validation (for models the hybrid left out, reported all the same)."""
    tried = [s for s in validation["settings"] if s["model"] == name]
    return dict(max(tried, key=lambda s: s["ndcg_at_k"])["params"]) if tried else {}


def _split_identity(split: Split, events: int) -> str:
    return f"{events} events, test from {split.cutoff}"
