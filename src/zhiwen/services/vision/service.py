"""Recognising a company's products in its customers' photos: train versions from its labelled photos,
promote them through the gate like every other model family (family ``recognizer`` in the registry), and
recognise a photo with the live one, together with the text the photo shows (a model code, an error on a
screen), which OCR reads."""

from __future__ import annotations

import logging
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
MIN_TRAINING_PHOTOS = 3  # left to each product by the split: cross-validation needs some in every fold
HELD_OUT_SHARE = 0.2
MAX_SKIPPED_LISTED = 20
log = logging.getLogger(__name__)


@dataclass
class TrainedRecognizer:
    """A version: the model, and the held-out photos' vectors (with their hashes) so a later candidate and
    this one can be compared on the same photos; the hashes of the photos it learned from, so it is never
    judged on those."""

    model: Recognizer
    held_out: npt.NDArray[np.float16]
    held_out_labels: list[str]
    held_out_photos: list[str]
    trained_on: frozenset[str]


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
        """Read every photo, hold about a fifth of each product's photos out (or use ``held_out``, a
        separate set), choose a candidate by cross-validation on the rest, fit it there, and store it with
        its held-out figures as a version that is not live until promoted."""
        started = time.perf_counter()
        unique, duplicates = self.check_photos(photos, held_out)
        vectors, kept, skipped = self._vectors(unique, progress)
        _check_enough(kept)
        report: dict[str, Any] = {"duplicates_dropped": duplicates}
        if held_out:
            seen = {p.digest for p in kept}
            separate = _distinct(held_out)[0]
            report["held_out_in_training_dropped"] = sum(1 for p in separate if p.digest in seen)
            test_vectors, test_photos, test_skipped = self._vectors(
                [p for p in separate if p.digest not in seen], progress
            )
            skipped += test_skipped
            if not test_photos:
                raise InvalidInput("none of the held-out photos could be read, or all are training photos")
            train_vectors, train_photos = vectors, kept
        else:
            test = held_out_mask(kept)
            train_vectors = vectors[[not t for t in test]]
            test_vectors = vectors[test]
            train_photos = [p for p, t in zip(kept, test, strict=True) if not t]
            test_photos = [p for p, t in zip(kept, test, strict=True) if t]
        parts = self._features.parts
        labels = [p.label for p in train_photos]
        categories = {p.label: p.category for p in [*train_photos, *test_photos]}
        chosen, tried = choose(self._features.name, parts, train_vectors, labels, progress)
        if progress:
            progress("fit", 0, 1)
        model = fit(self._features.name, parts, chosen, train_vectors, labels, categories)
        test_labels = [p.label for p in test_photos]
        report |= {
            "features": self._features.name,
            "products": len(set(labels)),
            "photos": {"train": len(train_photos), "held_out": len(test_photos)},
            "skipped": len(skipped),
            "skipped_photos": skipped[:MAX_SKIPPED_LISTED],
            "held_out_from": "a separate set"
            if held_out
            else f"about {HELD_OUT_SHARE:.0%} of each product's photos",
            "candidates": tried,
            "held_out": held_out_figures(model, test_vectors, test_labels),
            "seconds": round(time.perf_counter() - started, 1),
        }
        trained = TrainedRecognizer(
            model,
            test_vectors.astype(np.float16),
            test_labels,
            [p.digest for p in test_photos],
            frozenset(p.digest for p in train_photos),
        )
        return self.family.save(
            workspace_id, chosen.view, {"candidate": chosen.name}, report, dump_model(trained), actor
        )

    @staticmethod
    def check_photos(
        photos: Sequence[LabelledPhoto], held_out: Sequence[LabelledPhoto] = ()
    ) -> tuple[list[LabelledPhoto], int]:
        """The distinct photos and how many copies were dropped, or a refusal before any photo is read:
        one product, too few distinct photos of one, held-out photos of a product not trained on."""
        unique, duplicates = _distinct(photos)
        _check_enough(unique)
        unknown = sorted({p.label for p in held_out} - {p.label for p in unique})
        if unknown:
            listed = ", ".join(repr(label) for label in unknown[:10])
            raise InvalidInput(f"held-out photos of products with no training photos: {listed}")
        return unique, duplicates

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
        model = None if version is None else self.load(workspace_id, version)
        if model is None:
            return Recognition(None, 0.0, [], text, None)
        top = model.top(self._features.vectors([(name, image)]))[0]
        return Recognition(top[0][0], top[0][1], top, text, version)

    def load(self, workspace_id: str, version: int) -> Recognizer | None:
        """A version's model; None (with a warning) when it read photos with other features than this
        server's (an upgrade changed them): photos are then only read for their text until a version is
        trained again, rather than every customer's photo failing."""
        key = (workspace_id, version)
        with self._lock:
            if key not in self._loaded:
                model = self._trained(workspace_id, version).model
                self._loaded = {k: v for k, v in self._loaded.items() if k[0] != workspace_id}
                self._loaded[key] = model
            model = self._loaded[key]
        if model.features != self._features.name:
            log.warning(
                "recognizer v%s read %s; this server reads %s: train a new version (`zhiwen vision train`)",
                version,
                model.features,
                self._features.name,
            )
            return None
        return model

    def _trained(self, workspace_id: str, version: int) -> TrainedRecognizer:
        trained = load_model(self.family.load(workspace_id, version))
        assert isinstance(trained, TrainedRecognizer)
        return trained

    # The lifecycle ---------------------------------------------------------------------------------------

    def check(self, workspace_id: str, version: int) -> dict[str, Any]:
        """The gate's verdict: the workspace's minimums, better than always naming the commonest product
        beyond chance, and no drop beyond the tolerance against the live version, both measured on the
        candidate's held-out photos that the live version did not learn from."""
        candidate = self.family.get(workspace_id, version)
        figures = candidate.report["held_out"]
        policy = self.family.gate_policy(workspace_id)
        failures = [
            f"{metric}: the photos had no categories (a folder above each product's folder, or a category"
            " column), so it cannot be measured"
            for metric in policy.minimum
            if figures.get(metric) is None
        ]
        failures += policy.below_minimum(
            {m: figures[m] for m in policy.minimum if figures.get(m) is not None}
        )
        if figures["top1_interval"][0] <= figures["majority_top1"]:
            failures.append(
                f"top1 {figures['top1']:.4f} is not better beyond chance than always naming the commonest"
                f" product ({figures['majority_top1']:.4f})"
            )
        live_version = self.family.live_version(workspace_id)
        live: dict[str, Any] | None = None
        if live_version is not None and live_version != version:
            live, compared = self._side_by_side(workspace_id, version, live_version)
            if live is not None and compared is not None:
                failures += policy.drops(compared, live, COMPARED, live_version)
        return {
            "version": version,
            "passed": not failures,
            "failures": failures,
            "candidate": {m: figures.get(m) for m in (*GATED, "majority_top1")},
            "live": None if live is None else {"version": live_version, **{m: live.get(m) for m in GATED}},
        }

    def _side_by_side(
        self, workspace_id: str, version: int, live_version: int
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The live version's and the candidate's figures on the candidate's held-out photos that the
        live version did not learn from; (None, None) when their features differ or no photo is left."""
        held = self._trained(workspace_id, version)
        live_model = self._trained(workspace_id, live_version)
        if live_model.model.features != held.model.features:
            return None, None
        fresh = [i for i, d in enumerate(held.held_out_photos) if d not in live_model.trained_on]
        if not fresh:
            return None, None
        vectors = held.held_out.astype(np.float32)[fresh]
        labels = [held.held_out_labels[i] for i in fresh]
        return held_out_figures(live_model.model, vectors, labels), held_out_figures(
            held.model, vectors, labels
        )

    def promote(self, workspace_id: str, version: int, actor: str) -> dict[str, Any]:
        return self.family.promote(workspace_id, version, actor, self.check)

    def rollback(self, workspace_id: str, actor: str, version: int | None = None) -> int:
        return self.family.rollback(workspace_id, actor, version)


def _distinct(photos: Sequence[LabelledPhoto]) -> tuple[list[LabelledPhoto], int]:
    """Each photo once (by content): a copy in two folders would sit on both sides of the split."""
    seen: dict[str, LabelledPhoto] = {}
    for photo in photos:
        seen.setdefault(photo.digest, photo)
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


def held_out_mask(photos: Sequence[LabelledPhoto]) -> list[bool]:
    """About a fifth of the photos, each by its own content hash, so a photo stays on its side when more
    photos are added. Every product is measured (one whose photos the hash all leave in gives up the one
    with the lowest hash) and keeps :data:`MIN_TRAINING_PHOTOS` to learn from."""
    chosen = [int(p.digest, 16) % 5 == 0 for p in photos]
    by_label: dict[str, list[int]] = {}
    for row, photo in enumerate(photos):
        by_label.setdefault(photo.label, []).append(row)
    for rows in by_label.values():
        rows.sort(key=lambda row: photos[row].digest)
        held = [row for row in rows if chosen[row]]
        if not held:
            chosen[rows[0]] = True
        for row in held[max(1, len(rows) - MIN_TRAINING_PHOTOS) :]:
            chosen[row] = False
    return chosen
