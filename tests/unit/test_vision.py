"""Recognising products in photos: the company's labelled photos in, a gated recogniser out; the real
feature network (the OCR detector's backbone, ONNX on the CPU) on generated photos."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tests.files import PRODUCTS, photo_zip, product_photo
from zhiwen.adapters.image_features import OcrBackboneFeatures
from zhiwen.errors import Conflict, CorruptFile, GateRefused, InvalidInput, TooLarge
from zhiwen.services.answers.photos import with_photo
from zhiwen.services.vision.photos import LabelledPhoto, read_archive
from zhiwen.services.vision.service import ProductRecognition, Recognition, held_out_mask
from zhiwen.stores.sqlite.models import SqliteModelRegistry
from zhiwen.types import Workspace
from zhiwen.wiring import Services


def _photos(
    per_product: int, seed: int = 0, products: tuple[str, ...] = tuple(PRODUCTS)
) -> dict[str, list[bytes]]:
    return {
        p: [product_photo(p, seed + 100 * n + i) for i in range(per_product)] for n, p in enumerate(products)
    }


def _labelled(photos: dict[str, list[bytes]]) -> list[LabelledPhoto]:
    return read_archive("photos.zip", photo_zip(photos))


def test_photo_vectors_are_fixed_size_and_name_the_photo_that_cannot_be_read() -> None:
    features = OcrBackboneFeatures()
    vectors = features.vectors([("a.jpg", product_photo("banana", 1)), ("b.jpg", product_photo("banana", 2))])
    assert vectors.shape == (2, features.dimensions) and np.isfinite(vectors).all()
    assert features.parts["colour"][1] == features.dimensions
    with pytest.raises(CorruptFile, match=r"broken\.jpg: not a readable image"):
        features.vectors([("broken.jpg", product_photo("banana", 1)[:300])])
    with pytest.raises(CorruptFile, match="not a readable image"):
        features.vectors([("x.jpg", b"")])


def test_a_zip_gives_a_label_per_folder_and_a_category_per_folder_above() -> None:
    photos = read_archive(
        "p.zip",
        photo_zip(
            {"banana": [product_photo("banana", 1)]},
            {
                "photos/.DS_Store": b"junk",
                "__MACOSX/photos/banana/._000.jpg": b"junk",
                "photos/README.txt": b"hi",
            },
        ),
    )
    assert [(p.label, p.category, p.name) for p in photos] == [("banana", "photos", "photos/banana/000.jpg")]


def test_a_labels_csv_in_the_zip_names_each_photo_even_in_gbk() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("set/img/1.jpg", product_photo("banana", 1))
        archive.writestr("set/img/2.jpg", product_photo("red-apple", 1))
        archive.writestr(
            "set/labels.csv", "path,label,category\nimg/1.jpg,香蕉,水果\nimg/2.jpg,苹果,水果\n".encode("gbk")
        )
    photos = read_archive("p.zip", out.getvalue())
    assert [(p.label, p.category) for p in photos] == [("香蕉", "水果"), ("苹果", "水果")]


@pytest.mark.parametrize(
    ("entries", "error", "words"),
    [
        ({"photos/a/1.txt": b"x"}, InvalidInput, "no photos"),
        ({"1.jpg": b"x"}, InvalidInput, "is not in a product's folder"),
        ({"labels.csv": b"file,name\n", "a/1.jpg": b"x"}, InvalidInput, "needs the columns path and label"),
        (
            {"labels.csv": b"path,label\nmissing.jpg,a\n", "a/1.jpg": b"x"},
            InvalidInput,
            "no file 'missing.jpg'",
        ),
        (
            {"labels.csv": b"path,label\na/1.jpg,\n", "a/1.jpg": b"x"},
            InvalidInput,
            "line 2: a path and a label",
        ),
    ],
)
def test_an_archive_that_cannot_teach_is_refused_with_the_reason(
    entries: dict[str, bytes], error: type[Exception], words: str
) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(error, match=words):
        read_archive("p.zip", out.getvalue())


def test_not_a_zip_and_a_zip_bomb_are_refused_before_anything_is_unpacked() -> None:
    with pytest.raises(CorruptFile, match="not a zip archive"):
        read_archive("photos.zip", b"PK\x03\x04 truncated")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(3):
            archive.writestr(f"a/{n}.jpg", b"\0" * (30 * 1024 * 1024))  # 90 MB of zeros in a few kB
    assert len(out.getvalue()) < 1_000_000
    with pytest.raises(TooLarge, match="over 20 MB"):
        read_archive("bomb.zip", out.getvalue())


def test_a_recogniser_learns_the_products_and_recognises_a_new_photo(
    services: Services, workspace: Workspace
) -> None:
    vision = services.vision
    version = vision.train(workspace.id, _labelled(_photos(10)), "admin")
    report = version.report
    assert report["products"] == 4 and report["photos"]["train"] + report["photos"]["held_out"] == 40
    assert report["photos"]["held_out"] >= 4  # about a fifth by hash, and at least one per product
    assert report["held_out"]["top1"] >= 0.75 and report["held_out"]["top5"] == 1.0
    assert {c["candidate"] for c in report["candidates"]} >= {"shape C=1", "colour C=1", "shape+colour C=1"}
    assert (
        vision.recognize(workspace.id, "x.jpg", product_photo("banana", 9_999), read_text=False).version
        is None
    )
    vision.promote(workspace.id, version.version, "admin")
    seen = vision.recognize(workspace.id, "x.jpg", product_photo("banana", 9_999))
    assert seen.product == "banana" and seen.version == version.version and len(seen.top) == 4
    assert abs(sum(p for _, p in seen.top) - 1.0) < 1e-6


def test_duplicates_unreadable_photos_and_too_few_per_product_are_reported(
    services: Services, workspace: Workspace
) -> None:
    photos = _photos(6)
    photos["banana"].append(photos["banana"][0])  # the same photo twice: kept once
    photos["banana"].append(product_photo("banana", 5)[:200])  # cut off: reported, not fatal
    version = services.vision.train(workspace.id, _labelled(photos), "admin")
    assert version.report["duplicates_dropped"] == 1 and version.report["skipped"] == 1
    assert "photos/banana/007.jpg" in version.report["skipped_photos"][0]
    few = _photos(6)
    few["banana"] = few["banana"][:3]
    with pytest.raises(InvalidInput, match=r"1 product\(s\) have fewer than 5 .*'banana'"):
        services.vision.train(workspace.id, _labelled(few), "admin")
    with pytest.raises(InvalidInput, match="needs two or more"):
        services.vision.train(workspace.id, _labelled({"banana": _photos(6)["banana"]}), "admin")


def test_a_separate_held_out_set_is_measured_on_and_must_name_known_products(
    services: Services, workspace: Workspace
) -> None:
    version = services.vision.train(
        workspace.id, _labelled(_photos(8)), "admin", held_out=_labelled(_photos(3, seed=50_000))
    )
    assert version.report["photos"] == {"train": 32, "held_out": 12}  # all the folder's photos train
    assert version.report["held_out_from"] == "a separate set"
    with pytest.raises(InvalidInput, match="no training photos"):
        services.vision.train(
            workspace.id,
            _labelled(_photos(8, products=("banana", "red-apple"))),
            "admin",
            held_out=_labelled(_photos(3, products=("banana", "green-tea"))),
        )


def test_the_gate_refuses_a_recogniser_no_better_than_guessing_and_rollback_restores_the_last(
    services: Services, workspace: Workspace
) -> None:
    vision = services.vision
    good = vision.train(workspace.id, _labelled(_photos(8)), "admin")
    vision.promote(workspace.id, good.version, "admin")
    rng = np.random.default_rng(3)
    shuffled: dict[str, list[bytes]] = {p: [] for p in PRODUCTS}
    for photo in [photo for photos in _photos(8, seed=7).values() for photo in photos]:
        shuffled[list(PRODUCTS)[int(rng.integers(0, 4))]].append(photo)  # labels that mean nothing
    shuffled = {p: v for p, v in shuffled.items() if len(v) >= 5}
    noise = vision.train(workspace.id, _labelled(shuffled), "admin")
    verdict = vision.check(workspace.id, noise.version)
    assert not verdict["passed"] and verdict["live"]["version"] == good.version
    with pytest.raises(GateRefused):
        vision.promote(workspace.id, noise.version, "admin")
    with pytest.raises(Conflict, match="never been live"):
        vision.rollback(workspace.id, "admin", noise.version)
    again = vision.train(workspace.id, _labelled(_photos(10, seed=5_000)), "admin")
    vision.promote(workspace.id, again.version, "admin")
    assert vision.rollback(workspace.id, "admin") == good.version


def test_a_photo_names_its_product_in_the_question_only_when_the_recogniser_is_sure() -> None:
    sure = Recognition("R7 扫地机器人", 0.91, [("R7 扫地机器人", 0.91)], "E3", 1)
    unsure = Recognition("R7 扫地机器人", 0.31, [("R7 扫地机器人", 0.31)], "E3", 1)
    asked = with_photo(sure, "这个什么意思？", 2000)
    assert asked.question == "这个什么意思？\nR7 扫地机器人 E3" and asked.read == "E3" and asked.product
    assert with_photo(unsure, "这个什么意思？", 2000).question == "这个什么意思？\nE3"
    assert with_photo(Recognition(None, 0.0, [], "", None), "hi", 2000).question == "hi"
    with pytest.raises(InvalidInput, match="too long"):
        with_photo(sure, "x" * 1995, 2000)


def test_a_photo_stays_on_its_side_of_the_split_when_photos_are_added() -> None:
    first = _labelled(_photos(10))
    more = _labelled(
        {p: photos + [product_photo(p, 70_000 + i) for i in range(10)] for p, photos in _photos(10).items()}
    )
    before = {p.digest for p, held in zip(first, held_out_mask(first), strict=True) if held}
    after = {p.digest for p, held in zip(more, held_out_mask(more), strict=True) if held}
    by_hash = {p.digest for p in first if int(p.digest, 16) % 5 == 0}
    assert by_hash <= after and by_hash <= before
    assert {p.label for p, held in zip(first, held_out_mask(first), strict=True) if held} == set(PRODUCTS)


def test_the_live_recogniser_is_never_judged_on_photos_it_learned_from(
    services: Services, workspace: Workspace
) -> None:
    vision = services.vision
    folder, customers = _labelled(_photos(8)), _labelled(_photos(3, seed=40_000))
    live = vision.train(workspace.id, folder, "admin", held_out=[*customers, folder[0]])
    assert live.report["held_out_in_training_dropped"] == 1 and live.report["photos"]["held_out"] == 12
    vision.promote(workspace.id, live.version, "admin")
    again = vision.train(workspace.id, folder, "admin")  # its held-out photos all trained the live version
    verdict = vision.check(workspace.id, again.version)
    assert verdict["live"] is None and verdict["passed"], verdict


def test_a_coarse_minimum_on_photos_without_categories_says_why_it_fails(
    services: Services, workspace: Workspace
) -> None:
    version = services.vision.train(workspace.id, _labelled(_photos(6)), "admin")
    assert "coarse_top1" not in version.report["held_out"]  # one folder above the products: one category
    services.vision.family.set_gate_policy(workspace.id, {"coarse_top1": 0.5}, None)
    failures = services.vision.check(workspace.id, version.version)["failures"]
    assert any("coarse_top1: the photos had no categories" in f for f in failures), failures


class _OtherFeatures(OcrBackboneFeatures):
    name = "another-feature-set/2"  # what an upgrade that changed the features would bring


def test_a_live_recogniser_that_read_other_features_is_set_aside_and_photos_still_read(
    services: Services, workspace: Workspace
) -> None:
    version = services.vision.train(workspace.id, _labelled(_photos(6)), "admin")
    services.vision.promote(workspace.id, version.version, "admin")
    registry = SqliteModelRegistry(services.db)
    upgraded = ProductRecognition(registry, services.workspaces, _OtherFeatures(), services.ocr)
    seen = upgraded.recognize(workspace.id, "x.jpg", product_photo("banana", 12_345))
    assert seen.product is None and seen.version is None  # and its text is still read


def test_every_product_is_measured_and_keeps_photos_to_learn_from() -> None:
    for seed in range(40):
        photos = [
            LabelledPhoto(f"{label}/{i}.jpg", label, "", f"{seed}-{label}-{i}".encode())
            for label, count in (("a", 5), ("b", 6), ("c", 12))
            for i in range(count)
        ]
        mask = held_out_mask(photos)
        for label, count in (("a", 5), ("b", 6), ("c", 12)):
            held = sum(m for m, p in zip(mask, photos, strict=True) if p.label == label)
            assert 1 <= held <= max(1, count - 3), (seed, label, held)
