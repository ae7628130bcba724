"""Recognising a company's products in its customers' photos: train versions from its labelled photos,
promote them through the gate like every other model family (family ``recognizer`` in the registry), and
recognise a photo with the live one, together with the text the photo shows (a model code, an error on a
screen), which OCR reads."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from zhiwen.errors import InvalidInput
from zhiwen.ports import ImageFeatures, ModelRegistry, Ocr, WorkspaceStore
from zhiwen.services.lifecycle.model_family import ModelFamily
from zhiwen.services.lifecycle.stored_models import dump_model, load_model
from zhiwen.services.vision.photos import LabelledPhoto
from zhiwen.services.vision.train import Progress, Recognizer, choose, fit, held_out_figures
from zhiwen.types import ModelVersion

FAMILY = "recognizer"
GATED = ("top1", "top5", "coarse_top1")
COMPARED = ("top1", "top5")  # against the live version, on the candidate's held-out photos
MIN_PHOTOS_PER_PRODUCT = 5
HELD_OUT_SHARE = 0.2
MAX_SKIPPED_LISTED = 20


@dataclass
class TrainedRecognizer:
    """A version: the model, and the held-out photos' vectors so a later candidate and this one can be
    compared on the same photos."""

    model: Recognizer
    held_out: npt.NDArray[np.float16]
    held_out_labels: list[str]


@dataclass(frozen=True)
class Recognition:
    product: str | None  # the likeliest product; None without a live recogniser
    probability: float
    top: list[tuple[str, float]]
    text: str  # what OCR read in the photo
    version: int | None


class ProductRecognition:
    def __init__(
        self, models: ModelRegistry, workspaces: WorkspaceStore, features: ImageFeatures, ocr: Ocr
    ) -> None:
        self._features = features
        self._ocr = ocr
        self.family = ModelFamily(models, workspaces, FAMILY, GATED, command="vision")
        self._loaded: dict[tuple[str, int], Recognizer] = {}
        self._lock = threading.Lock()

    def train(
        self,
        workspace_id: str,
        photos: Sequence[LabelledPhoto],
        actor: str,
        held_out: Sequence[LabelledPhoto] = (),
        progress: Progress | None = None,
    ) -> ModelVersion:
        """Read every photo, hold a fifth of each product's photos out (or use ``held_out``, a separate
        set), choose a candidate by cross-validation on the rest, fit it there, and store it with its
        held-out figures as a version that is not live until promoted."""
        started = time.perf_counter()
        unique, duplicates = _distinct(photos)
        _check_enough(unique)
        vectors, kept, skipped = self._vectors(unique, progress)
        _check_enough(kept)
        if held_out:
            test_vectors, test_photos, test_skipped = self._vectors(_distinct(held_out)[0], progress)
            skipped += test_skipped
            unknown = sorted({p.label for p in test_photos} - {p.label for p in kept})
            if unknown:
                raise InvalidInput(f"held-out photos of products with no training photos: {unknown[:10]}")
            train_vectors, train_photos = vectors, kept
        else:
            test_rows = _held_out_rows(kept)
            train_rows = [i for i in range(len(kept)) if i not in set(test_rows)]
            train_vectors, train_photos = vectors[train_rows], [kept[i] for i in train_rows]
            test_vectors, test_photos = vectors[test_rows], [kept[i] for i in test_rows]
        parts = self._features.parts
        labels = [p.label for p in train_photos]
        categories = {p.label: p.category for p in [*train_photos, *test_photos]}
        chosen, tried = choose(self._features.name, parts, train_vectors, labels, progress)
        if progress:
            progress("fit", 0, 1)
        model = fit(self._features.name, parts, chosen, train_vectors, labels, categories)
        test_labels = [p.label for p in test_photos]
        report = {
            "features": self._features.name,
            "products": len(set(labels)),
            "photos": {"train": len(train_photos), "held_out": len(test_photos)},
            "duplicates_dropped": duplicates,
            "skipped": len(skipped),
            "skipped_photos": skipped[:MAX_SKIPPED_LISTED],
            "held_out_from": "a separate set"
            if held_out
            else f"{HELD_OUT_SHARE:.0%} of each product's photos",
            "candidates": tried,
            "held_out": held_out_figures(model, test_vectors, test_labels),
            "seconds": round(time.perf_counter() - started, 1),
        }
        blob = dump_model(TrainedRecognizer(model, test_vectors.astype(np.float16), test_labels))
        return self.family.save(workspace_id, chosen.view, {"candidate": chosen.name}, report, blob, actor)

    @staticmethod
    def check_photos(photos: Sequence[LabelledPhoto]) -> None:
        """Refuse at once, before any photo is read, what cannot make a recogniser: one product, or too
        few distinct photos of one."""
        _check_enough(_distinct(photos)[0])

    def _vectors(
        self, photos: Sequence[LabelledPhoto], progress: Progress | None
    ) -> tuple[npt.NDArray[np.float32], list[LabelledPhoto], list[str]]:
        rows, kept, skipped = [], [], []
        for number, photo in enumerate(photos):
            if progress and number % 50 == 0:
                progress("read photos", number, len(photos))
            try:
                rows.append(self._features.vectors([(photo.name, photo.data)])[0])
            except InvalidInput as error:
                skipped.append(error.message)
                continue
            kept.append(photo)
        return (np.vstack(rows) if rows else np.zeros((0, 0), np.float32)), kept, skipped

    def recognize(self, workspace_id: str, name: str, image: bytes, read_text: bool = True) -> Recognition:
        """The live recogniser's five likeliest products for the photo (none without a live recogniser),
        and the text OCR reads in it."""
        text = " ".join(self._ocr.read(name, image).split()) if read_text else ""
        version = self.family.live_version(workspace_id)
        if version is None:
            return Recognition(None, 0.0, [], text, None)
        model = self.load(workspace_id, version)
        top = model.top(self._features.vectors([(name, image)]))[0]
        return Recognition(top[0][0], top[0][1], top, text, version)

    def load(self, workspace_id: str, version: int) -> Recognizer:
        key = (workspace_id, version)
        with self._lock:
            if key not in self._loaded:
                trained = self._trained(workspace_id, version)
                if trained.model.features != self._features.name:
                    raise InvalidInput(
                        f"recognizer v{version} was fitted on {trained.model.features} vectors; this server"
                        f" reads {self._features.name}: train a new version with `zhiwen vision train`"
                    )
                self._loaded = {k: v for k, v in self._loaded.items() if k[0] != workspace_id}
                self._loaded[key] = trained.model
            return self._loaded[key]

    def _trained(self, workspace_id: str, version: int) -> TrainedRecognizer:
        trained = load_model(self.family.load(workspace_id, version))
        assert isinstance(trained, TrainedRecognizer)
        return trained

    # The lifecycle ---------------------------------------------------------------------------------------

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict: the workspace's minimums, better than always naming the commonest product
        beyond chance, and no drop beyond the tolerance against the live version on these held-out photos."""
        candidate = self.family.get(workspace_id, version)
        figures = candidate.report["held_out"]
        policy = self.family.gate_policy(workspace_id)
        failures = policy.below_minimum({m: figures.get(m) for m in policy.minimum})
        if figures["top1_interval"][0] <= figures["majority_top1"]:
            failures.append(
                f"top1 {figures['top1']:.4f} is not better beyond chance than always naming the commonest"
                f" product ({figures['majority_top1']:.4f})"
            )
        live_version = self.family.live_version(workspace_id)
        live: dict[str, Any] | None = None
        if live_version is not None and live_version != version:
            held = self._trained(workspace_id, version)
            live_model = self._trained(workspace_id, live_version).model
            if live_model.features == held.model.features:
                live = held_out_figures(live_model, held.held_out.astype(np.float32), held.held_out_labels)
                failures += policy.drops(figures, live, COMPARED, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: figures.get(m) for m in (*GATED, "majority_top1")},
            "live": None if live is None else {"version": live_version, **{m: live.get(m) for m in GATED}},
        }

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        return self.family.rollback(workspace_id, actor, version)


def _distinct(photos: Sequence[LabelledPhoto]) -> tuple[list[LabelledPhoto], int]:
    """Each photo once (by content): a copy in two folders would sit on both sides of the split."""
    seen: dict[str, LabelledPhoto] = {}
    for photo in photos:
        seen.setdefault(hashlib.sha1(photo.data, usedforsecurity=False).hexdigest(), photo)
    return list(seen.values()), len(photos) - len(seen)


def _check_enough(photos: Sequence[LabelledPhoto]) -> None:
    counts = Counter(p.label for p in photos)
    if len(counts) < 2:
        raise InvalidInput(
            f"photos of {len(counts)} product(s): a recogniser tells products apart, so it needs two or more"
        )
    few = sorted(label for label, count in counts.items() if count < MIN_PHOTOS_PER_PRODUCT)
    if few:
        listed = ", ".join(repr(label) for label in few[:10]) + (" …" if len(few) > 10 else "")
        raise InvalidInput(
            f"{len(few)} product(s) have fewer than {MIN_PHOTOS_PER_PRODUCT} readable, distinct photos"
            f" ({listed}): add photos or leave those products out"
        )


def _held_out_rows(photos: Sequence[LabelledPhoto]) -> list[int]:
    """A fifth of each product's photos (at least one), chosen by content hash: the same photos stay
    held out when a version is trained again on the same folder."""
    by_label: dict[str, list[tuple[str, int]]] = {}
    for row, photo in enumerate(photos):
        digest = hashlib.sha1(photo.data, usedforsecurity=False).hexdigest()
        by_label.setdefault(photo.label, []).append((digest, row))
    rows = []
    for members in by_label.values():
        members.sort()
        rows += [row for _, row in members[: max(1, round(len(members) * HELD_OUT_SHARE))]]
    return sorted(rows)
