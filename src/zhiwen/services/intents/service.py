"""A workspace's intents and its intent model: definitions (kept as a workspace setting), training, the gate,
promotion and rollback (one :class:`ModelFamily`), and classifying a message with the live model."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zhiwen.errors import InvalidInput, NotFound
from zhiwen.ports import DocumentStore, Embedder, ModelRegistry, WorkspaceStore
from zhiwen.services.intents.builtin import KNOWLEDGE, builtin_intents
from zhiwen.services.intents.classifier import IntentClassifier
from zhiwen.services.intents.definitions import MAX_EXAMPLE_CHARS, Intent, parse_intents, read_intents
from zhiwen.services.intents.train import Progress, TrainedIntents, evaluate, held_out_mask, train
from zhiwen.services.lifecycle.golden_sets import GoldenSetService
from zhiwen.services.lifecycle.model_family import ModelFamily
from zhiwen.services.lifecycle.stored_models import dump_model, load_model
from zhiwen.types import IntentMatch, ModelVersion

log = logging.getLogger(__name__)

FAMILY = "intent"
SETTING = "intents"
GATED = ("accuracy", "macro_f1")  # minimums, and no drop against the live model on the same examples
DEFAULT_MINIMUM = {"accuracy": 0.8}
KNOWLEDGE_EXAMPLES = 500  # the workspace's own questions (FAQ, golden sets) added to the knowledge intent
EMBED_BATCH = 64
DEFINITIONS_TTL_S = 5.0  # an edit made by another process (the CLI) counts within this


@dataclass(frozen=True)
class Classified:
    ranked: list[tuple[str, float]]  # every intent, most probable first
    threshold: float  # below it the message is out of scope
    match: IntentMatch  # what acts: the best intent, or the answer intent
    intent: Intent | None  # the definition that acts (None: answer from the knowledge)


class IntentService:
    def __init__(
        self,
        workspaces: WorkspaceStore,
        models: ModelRegistry,
        documents: DocumentStore,
        golden: GoldenSetService,
        embedder: Embedder,
    ) -> None:
        self._workspaces = workspaces
        self._documents = documents
        self._golden = golden
        self._embedder = embedder
        self.family = ModelFamily(models, workspaces, FAMILY, GATED, DEFAULT_MINIMUM, "intents")
        self._loaded: dict[str, tuple[int, TrainedIntents]] = {}
        self._definitions: dict[str, tuple[float, tuple[Intent, ...]]] = {}  # until when, what
        self._lock = threading.Lock()

    # -- definitions -----------------------------------------------------------------------------------------

    def definitions(self, workspace_id: str) -> list[Intent]:
        """The workspace's intents; the built-in ones until it saves its own. Kept for a few seconds: every
        message reads them, and parsing 10,000 examples costs ~15 ms."""
        now = time.monotonic()
        with self._lock:
            cached = self._definitions.get(workspace_id)
        if cached is not None and cached[0] > now:
            return list(cached[1])
        stored = self._workspaces.get_setting(workspace_id, SETTING)
        intents = builtin_intents() if stored is None else parse_intents(stored)
        with self._lock:
            self._definitions[workspace_id] = (now + DEFINITIONS_TTL_S, tuple(intents))
        return intents

    def get(self, workspace_id: str, name: str) -> Intent:
        found = next((i for i in self.definitions(workspace_id) if i.name == name), None)
        if found is None:
            raise NotFound(f"no intent {name!r}; see `zhiwen intents list`")
        return found

    def replace(self, workspace_id: str, intents: Sequence[Intent]) -> list[Intent]:
        checked = parse_intents([i.to_dict() for i in intents])  # the same checks as an import
        self._workspaces.put_setting(workspace_id, SETTING, [i.to_dict() for i in checked])
        with self._lock:
            self._definitions.pop(workspace_id, None)
        return checked

    def put(self, workspace_id: str, intent: Intent) -> Intent:
        """Add an intent, or replace the one with its name."""
        others = [i for i in self.definitions(workspace_id) if i.name != intent.name]
        self.replace(workspace_id, [*others, intent])
        return intent

    def remove(self, workspace_id: str, name: str) -> None:
        self.get(workspace_id, name)
        self.replace(workspace_id, [i for i in self.definitions(workspace_id) if i.name != name])

    def import_bytes(
        self, workspace_id: str, filename: str, data: bytes, merge: bool = False
    ) -> list[Intent]:
        """Intents from YAML or CSV (a CSV gives examples: the intents it names keep their actions).
        ``merge`` keeps intents the file does not name; otherwise the file replaces them all. Nothing is
        saved unless the whole file is valid."""
        imported = read_intents(filename, data, self.definitions(workspace_id))
        if merge:
            named = {i.name for i in imported}
            imported = [i for i in self.definitions(workspace_id) if i.name not in named] + imported
        return self.replace(workspace_id, imported)

    # -- the model -------------------------------------------------------------------------------------------

    def training_examples(self, workspace_id: str) -> tuple[list[str], list[str]]:
        """Every intent's examples, plus the workspace's own ordinary questions (its FAQ entries' and golden
        sets' questions) for the knowledge intent: the model learns what questions look like here."""
        intents = self.definitions(workspace_id)
        pairs = {(e, i.name) for i in intents for e in i.examples}
        knowledge = next((i.name for i in intents if i.action == "answer"), None)
        if knowledge is not None:
            taken = {e for e, _ in pairs}
            questions = sorted(self._own_questions(workspace_id) - taken)
            step = max(1, len(questions) // KNOWLEDGE_EXAMPLES)
            pairs |= {(q, knowledge) for q in questions[::step][:KNOWLEDGE_EXAMPLES]}
        ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
        texts = [t for t, _ in ordered]
        labels = [label for _, label in ordered]
        owners: dict[str, list[str]] = {}
        for text, label in ordered:
            owners.setdefault(text, []).append(label)
        shared = [(t, names) for t, names in owners.items() if len(names) > 1]
        if shared:
            text, names = shared[0]
            raise InvalidInput(
                f"{len(shared)} example(s) belong to two intents, e.g. {text!r} in {' and '.join(names)};"
                " an example must name one intent"
            )
        if len(set(labels)) < 2:
            raise InvalidInput("define at least two intents (one may be the built-in 'knowledge')")
        return texts, labels

    def _own_questions(self, workspace_id: str) -> set[str]:
        questions = {c.question.strip() for c in self._documents.iter_chunks(workspace_id) if c.question}
        for name in sorted({v.name for v in self._golden.versions(workspace_id)}):
            questions |= {item.question.strip() for item in self._golden.items(workspace_id, name)[1]}
        return {q for q in questions if q and len(q) <= MAX_EXAMPLE_CHARS}

    def vectors(
        self, workspace_id: str, texts: Sequence[str], progress: Progress | None = None
    ) -> np.ndarray:
        """E5 vectors of ``texts``; those the latest version was trained on are reused, not re-embedded."""
        known: dict[str, np.ndarray] = {}
        versions = self.family.versions(workspace_id)
        if versions:
            last = self._unpickle(self.family.load(workspace_id, versions[-1].version))
            if last.embedder == self._embedder.name:
                known = dict(zip(last.texts, last.vectors, strict=True))
        missing = [t for t in texts if t not in known]
        for start in range(0, len(missing), EMBED_BATCH):
            if progress:
                progress("embed", start, len(missing))
            batch = missing[start : start + EMBED_BATCH]
            known.update(zip(batch, self._embedder.embed_queries(batch).astype(np.float16), strict=True))
        return np.vstack([known[t] for t in texts]).astype(np.float16)

    def train(self, workspace_id: str, actor: str, progress: Progress | None = None) -> ModelVersion:
        """Train on the current definitions; the new version is not live until promoted."""
        texts, labels = self.training_examples(workspace_id)
        vectors = self.vectors(workspace_id, texts, progress)
        fallback = next((i.name for i in self.definitions(workspace_id) if i.action == "answer"), None)
        model, report = train(texts, labels, vectors.astype(np.float32), fallback, progress=progress)
        trained = TrainedIntents(model, texts, labels, vectors, self._embedder.name)
        blob = dump_model(trained)
        return self.family.save(workspace_id, "blend", model.get_params(), report, blob, actor)

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate: the minimums on the candidate's held-out examples, and no drop beyond the tolerance
        against the live model's settings refitted on the candidate's training split (same data, so the
        comparison is about the model, not about which examples each was shown)."""
        candidate = self.family.get(workspace_id, version)
        held_out = candidate.report["held_out"]
        policy = self.family.gate_policy(workspace_id)
        failures = policy.below_minimum(held_out)
        live_version = self.family.live_version(workspace_id)
        live: dict[str, Any] | None = None
        if live_version is not None and live_version != version:
            live = {"version": live_version, **self._refitted(workspace_id, candidate, live_version)}
            failures += policy.drops(held_out, live, GATED, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: held_out.get(m) for m in (*GATED, "routed_accuracy", "examples")},
            "live": live,
        }

    def _refitted(self, workspace_id: str, candidate: ModelVersion, live_version: int) -> dict[str, Any]:
        trained = self._unpickle(self.family.load(workspace_id, candidate.version))
        settings = self.family.get(workspace_id, live_version).params
        held = held_out_mask(trained.texts, trained.labels)
        fit_rows, test_rows = np.flatnonzero(~held), np.flatnonzero(held)
        vectors = trained.vectors.astype(np.float32)
        model = IntentClassifier(**settings).fit(
            [trained.texts[n] for n in fit_rows], vectors[fit_rows], [trained.labels[n] for n in fit_rows]
        )
        model.threshold_ = trained.model.threshold_
        figures = evaluate(
            model,
            [trained.texts[n] for n in test_rows],
            vectors[test_rows],
            [trained.labels[n] for n in test_rows],
            None,
        )
        return {m: figures.get(m, 0.0) for m in GATED}

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        return self.family.rollback(workspace_id, actor, version)

    # -- classifying -----------------------------------------------------------------------------------------

    def live_model(self, workspace_id: str) -> tuple[int, TrainedIntents] | None:
        """The live version and its model; None without one, or when it was trained with another
        embedder than this server's (its vectors would not fit: retrain)."""
        version = self.family.live_version(workspace_id)
        if version is None:
            return None
        with self._lock:
            loaded = self._loaded.get(workspace_id)
        if loaded is None or loaded[0] != version:
            loaded = (version, self._unpickle(self.family.load(workspace_id, version)))
            with self._lock:
                self._loaded[workspace_id] = loaded
        trained_with = getattr(loaded[1], "embedder", "an unnamed embedder")  # pickled before it was named
        if trained_with != self._embedder.name:
            log.warning("intent model v%s was trained with %s: retrain it", version, trained_with)
            return None
        return loaded

    def classify(self, workspace_id: str, message: str) -> Classified | None:
        """What the live model makes of ``message``: every intent with its probability (most probable
        first), the threshold, and the intent that acts; None without a live model."""
        live = self.live_model(workspace_id)
        if live is None:
            return None
        version, trained = live
        model = trained.model
        probabilities = model.predict_proba([message], self._embedder.embed_queries([message]))[0]
        ranked = sorted(
            ((str(n), round(float(p), 4)) for n, p in zip(model.classes_, probabilities, strict=True)),
            key=lambda pair: -pair[1],
        )
        intents = self.definitions(workspace_id)
        name, probability = ranked[0]
        intent = next((i for i in intents if i.name == name), None)
        if probability < model.threshold_ or intent is None:  # out of scope, or an intent since removed
            answer = next((i.name for i in intents if i.action == "answer"), KNOWLEDGE)
            return Classified(
                ranked, model.threshold_, IntentMatch(answer, probability, "answer", version), None
            )
        match = IntentMatch(name, probability, intent.action, version, urgent=intent.urgent)
        return Classified(ranked, model.threshold_, match, intent)

    def match(self, workspace_id: str, message: str) -> IntentMatch | None:
        """The intent the live model is confident of, or the answer intent when it is not sure; None
        without a live model."""
        classified = self.classify(workspace_id, message)
        return None if classified is None else classified.match

    @staticmethod
    def _unpickle(blob: bytes) -> TrainedIntents:
        trained = load_model(blob)
        assert isinstance(trained, TrainedIntents)
        return trained
