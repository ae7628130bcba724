"""Custom models on a company's own tables: define one by its name and target, train versions from a file,
promote them through the gate like every other model family, predict with the live one, and watch its
inputs drift. Each named model is its own family in the model registry (``table:<name>``), so versions,
the gate, promotion, rollback and history are the one lifecycle every family shares."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from zhiwen.errors import Conflict, InvalidInput, NotFound
from zhiwen.ports import ModelRegistry, PredictionLog, WorkspaceStore
from zhiwen.services.lifecycle.model_family import ModelFamily
from zhiwen.services.lifecycle.stored_models import dump_model, load_model
from zhiwen.services.models.evaluate import held_out_figures
from zhiwen.services.models.model import Prediction, TableModel
from zhiwen.services.models.profile import TableProfile, profile_table
from zhiwen.services.models.table import Row, Table, read_table
from zhiwen.services.models.train import Progress, TrainSettings, train_table
from zhiwen.types import ModelVersion, utc_now

SETTING = "table_models"  # name -> definition, in the workspace's settings
FAMILY_PREFIX = "table:"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
GATED = {"classification": ("roc_auc", "accuracy", "f1"), "regression": ("r2",)}
MAX_PREDICT_ROWS = 10_000
_CACHE = 16


class TableModels:
    def __init__(self, models: ModelRegistry, workspaces: WorkspaceStore, log: PredictionLog) -> None:
        self._models = models
        self._workspaces = workspaces
        self._log = log
        self._loaded: dict[tuple[str, str, int], TableModel] = {}
        self._lock = threading.Lock()

    # Definitions -------------------------------------------------------------------------------------

    def definitions(self, workspace_id: str) -> dict[str, dict[str, Any]]:
        stored = self._workspaces.get_setting(workspace_id, SETTING) or {}
        return dict(stored)

    def definition(self, workspace_id: str, name: str) -> dict[str, Any]:
        found = self.definitions(workspace_id).get(name)
        if found is None:
            raise NotFound(
                f"no table model named {name!r}; create it with `zhiwen models create {name} --from FILE`"
            )
        return dict(found)

    def named(self, workspace_id: str, name: str) -> NamedTableModel:
        definition = self.definition(workspace_id, name)
        family = ModelFamily(
            self._models,
            self._workspaces,
            _family(name, definition),
            GATED[definition["task"]],
            command="models",
        )
        return NamedTableModel(self, name, family)

    def profile(self, filename: str, data: bytes, target: str, drop: Sequence[str] = ()) -> TableProfile:
        return profile_table(read_table(filename, data), target, drop)

    def create(
        self,
        workspace_id: str,
        name: str,
        filename: str,
        data: bytes,
        target: str,
        actor: str,
        drop: Sequence[str] = (),
        settings: TrainSettings | None = None,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Define the model and train its first version (not live until promoted)."""
        table, profile = self.check_new(workspace_id, name, filename, data, target, drop)
        definition = {
            "family": self._unused_family(workspace_id, name),
            "target": target,
            "task": profile.task,
            "drop": list(drop),
            "created_by": actor,
            "created_at": utc_now(),
        }
        version = self._train(
            workspace_id, name, definition, table, profile, filename, actor, settings, progress
        )
        definitions = self.definitions(workspace_id)
        definitions[name] = definition
        self._workspaces.put_setting(workspace_id, SETTING, definitions)
        return version

    def check_new(
        self, workspace_id: str, name: str, filename: str, data: bytes, target: str, drop: Sequence[str] = ()
    ) -> tuple[Table, TableProfile]:
        """The table and its profile if a model ``name`` can be created from it; otherwise the reason."""
        if not NAME.fullmatch(name):
            raise InvalidInput(
                f"model name {name[:70]!r}: use 1-64 lowercase letters, digits, '-' or '_', starting with a"
                " letter or digit (it goes into URLs)"
            )
        if name in self.definitions(workspace_id):
            raise Conflict(
                f"a table model named {name!r} exists; train a new version with `zhiwen models train {name}`"
            )
        table = read_table(filename, data)
        return table, profile_table(table, target, drop)

    def train(
        self,
        workspace_id: str,
        name: str,
        filename: str,
        data: bytes,
        actor: str,
        settings: TrainSettings | None = None,
        progress: Progress | None = None,
    ) -> ModelVersion:
        """A new version from a (new or grown) table with the same target."""
        definition = self.definition(workspace_id, name)
        table = read_table(filename, data)
        drop = [c for c in definition.get("drop", ()) if c in table.columns]  # a dropped column may be gone
        profile = profile_table(table, definition["target"], drop)
        if profile.task != definition["task"]:
            raise InvalidInput(
                f"{definition['target']!r} now reads as {profile.task}, but {name!r} is a"
                f" {definition['task']} model; create a new model for it"
            )
        return self._train(
            workspace_id, name, definition, table, profile, filename, actor, settings, progress
        )

    def _unused_family(self, workspace_id: str, name: str) -> str:
        """``table:<name>``, or ``table:<name>~2``… when a deleted model of that name left versions: a
        new model never inherits an old one's live version, history or gate."""
        family, generation = FAMILY_PREFIX + name, 1
        while self._models.versions(workspace_id, family):
            generation += 1
            family = f"{FAMILY_PREFIX}{name}~{generation}"
        return family

    def _train(
        self,
        workspace_id: str,
        name: str,
        definition: dict[str, Any],
        table: Table,
        profile: TableProfile,
        filename: str,
        actor: str,
        settings: TrainSettings | None,
        progress: Progress | None,
    ) -> ModelVersion:
        settings = settings or TrainSettings()
        trained = train_table(table, profile, settings, progress, definition.get("split_key"))
        definition.setdefault("split_key", trained.report["split_key"])
        params = {
            "file": filename,
            "budget_seconds": settings.budget_seconds,
            "max_trials": settings.max_trials,
            "candidates": list(settings.candidates),
        }
        blob = dump_model(trained.model)
        return self._models.save(
            workspace_id, _family(name, definition), trained.model.kind, params, trained.report, blob, actor
        )

    def delete(self, workspace_id: str, name: str) -> None:
        """Forget the definition and the prediction log; the versions stay in the registry for the record
        (a new model of that name starts a family of its own)."""
        definitions = self.definitions(workspace_id)
        if definitions.pop(name, None) is None:
            raise NotFound(f"no table model named {name!r}")
        self._workspaces.put_setting(workspace_id, SETTING, definitions)
        self._log.forget(workspace_id, name)

    # Serving -----------------------------------------------------------------------------------------

    def load(self, workspace_id: str, name: str, version: int) -> TableModel:
        family = _family(name, self.definition(workspace_id, name))
        key = (workspace_id, family, version)
        with self._lock:
            cached = self._loaded.get(key)
        if cached is not None:
            return cached
        model = load_model(self._models.load(workspace_id, family, version))
        if not isinstance(model, TableModel):
            raise InvalidInput(f"{name} v{version} is not a table model")
        with self._lock:
            if len(self._loaded) >= _CACHE:
                self._loaded.pop(next(iter(self._loaded)))
            self._loaded[key] = model
        return model

    def predict(
        self,
        workspace_id: str,
        name: str,
        rows: Sequence[Mapping[str, Any]],
        version: int | None = None,
        explain: bool = True,
        log: bool = True,
    ) -> tuple[int, list[Prediction]]:
        """Predictions of the live version (or ``version``, to try a candidate), each logged with its
        inputs."""
        if not rows:
            raise InvalidInput("no rows to predict: send at least one")
        if len(rows) > MAX_PREDICT_ROWS:
            raise InvalidInput(
                f"{len(rows):,} rows is over the {MAX_PREDICT_ROWS:,}-row limit per request; split them"
            )
        if any(not isinstance(r, Mapping) for r in rows):
            raise InvalidInput("each row must be an object of column names and values")
        family = self.named(workspace_id, name).family
        if version is None:
            version = family.live_version(workspace_id)
            if version is None:
                raise Conflict(f"no live version of {name!r}: promote one (`zhiwen models promote {name} 1`)")
        model = self.load(workspace_id, name, version)
        predictions = model.predict(rows, explain=explain)
        if log:
            entries = [
                (
                    {c: row.get(c) for c in model.columns},
                    {"prediction": p.value, "probability": p.probability},
                )
                for row, p in zip(rows, predictions, strict=True)
            ]
            self._log.record(workspace_id, name, version, entries)
        return version, predictions

    def predictions(self, workspace_id: str, name: str, limit: int = 100) -> list[dict[str, Any]]:
        self.definition(workspace_id, name)
        return self._log.recent(workspace_id, name, limit)

    def drift(self, workspace_id: str, name: str, limit: int = 1000) -> dict[str, Any]:
        """The inputs of the latest ``limit`` predictions of the live version against its training rows."""
        family = self.named(workspace_id, name).family
        version = family.live_version(workspace_id)
        if version is None:
            raise Conflict(f"no live version of {name!r}: drift is measured for the live one")
        model = self.load(workspace_id, name, version)
        rows: list[Row] = [
            e["inputs"] for e in self._log.recent(workspace_id, name, limit) if e["version"] == version
        ]
        return {"version": version, **model.drift_reference.report(rows)}


class NamedTableModel:
    """One named table model as the gated-model routes and commands drive it (:class:`GatedModels`)."""

    def __init__(self, service: TableModels, name: str, family: ModelFamily) -> None:
        self._service = service
        self.name = name
        self.family = family

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict: held-out figures against the minimums, better than the baseline, and no
        worse than the live version on the candidate's own held-out rows (the live one re-scored)."""
        candidate = self.family.get(workspace_id, version)
        held = candidate.report.get("held_out") or {}
        gated = self.family.gated
        failures = []
        if not held.get("rows"):
            failures.append("no held-out evaluation: the table was too small to hold rows out; add rows")
        policy = self.family.gate_policy(workspace_id)
        failures += policy.below_minimum(held)
        if held.get("missing_classes"):
            failures.append(
                f"no held-out rows of {', '.join(held['missing_classes'])}: the model cannot be measured"
                " on them; add rows"
            )
        failures += _no_better_than_baseline(candidate.report)
        live_version = self.family.live_version(workspace_id)
        live: dict[str, Any] | None = None
        if held.get("rows") and live_version is not None and live_version != version:
            live = self._live_on(workspace_id, version, live_version)
            if live is not None:
                comparable = [m for m in gated if live.get(m) is not None]
                failures += policy.drops(held, live, comparable, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: held.get(m) for m in (*gated, "rows")},
            "live": None
            if live is None
            else {"version": live_version, **{m: live.get(m) for m in (*gated, "rows")}},
        }

    def _live_on(self, workspace_id: str, version: int, live_version: int) -> dict[str, Any] | None:
        candidate = self._service.load(workspace_id, self.name, version)
        live = self._service.load(workspace_id, self.name, live_version)
        rows = candidate.held_out_rows
        if not rows or any(c not in rows[0] for c in live.columns):
            return None  # the live model reads columns the new table lacks: only the minimums apply
        scores = live.scores(live.encoder.transform(rows).matrix)
        truth = candidate.held_out_truth
        if live.task == "regression":
            y = np.array(truth, dtype=float)
        else:
            index = {c: i for i, c in enumerate(live.classes)}
            if any(t not in index for t in truth):
                return None
            y = np.array([index[str(t)] for t in truth])
        return held_out_figures(live.task, live.classes, y, scores)

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        return self.family.rollback(workspace_id, actor, version)


def _family(name: str, definition: Mapping[str, Any]) -> str:
    return str(definition.get("family", FAMILY_PREFIX + name))


def _no_better_than_baseline(report: Mapping[str, Any]) -> list[str]:
    """A model must be better than always giving the usual answer beyond chance: the baseline's figure must
    lie outside the 95 % interval of the model's (a few dozen held-out rows make lucky figures)."""
    held = report.get("held_out") or {}
    baseline = (report.get("held_out_candidates") or {}).get("baseline")
    if report.get("chosen") == "baseline":
        return ["the baseline (always the usual answer) won: the columns do not predict the target"]
    if baseline is None or not held:
        return []
    if report.get("task") == "regression":
        interval, theirs = held.get("rmse_ci95"), baseline.get("rmse")
        if interval and theirs is not None and interval[1] >= theirs:
            return [
                f"RMSE {held['rmse']:.4f} (95 % interval {interval[0]:.4f}-{interval[1]:.4f}) is not clearly"
                f" better than the baseline's {theirs:.4f}"
            ]
        return []
    interval, theirs = held.get("roc_auc_ci95"), baseline.get("roc_auc")
    if not interval:
        return ["no held-out ROC-AUC to tell the model from the baseline with"]
    if theirs is not None and interval[0] <= theirs:
        return [
            f"ROC-AUC {held['roc_auc']:.4f} (95 % interval {interval[0]:.4f}-{interval[1]:.4f}) is not"
            f" clearly better than the baseline's {theirs:.4f}"
        ]
    return []
