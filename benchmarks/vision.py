"""Product recognition on the public Grocery Store photos (81 products: fruit, vegetables, packaged goods)
through the real service: train a version on the train photos plus each product's one catalogue
("iconic") image, measure on the val photos (a separate set no choice saw), and time recognition.

    python -m benchmarks.vision [--data ../shared/data/images/grocery_store] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine
from zhiwen.config import Settings
from zhiwen.services.answers.photos import PRODUCT_NAMED_ABOVE
from zhiwen.services.vision.photos import LabelledPhoto
from zhiwen.wiring import build_services

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "images" / "grocery_store"


def photos(root: Path, listing: str, names: dict[int, tuple[str, str]]) -> list[LabelledPhoto]:
    found = []
    for line in (root / listing).read_text().splitlines():
        path, fine, _ = (part.strip() for part in line.split(","))
        label, category = names[int(fine)]
        found.append(LabelledPhoto(path, label, category, (root / path).read_bytes()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = args.data
    with (root / "classes.csv").open(encoding="utf-8") as listing:
        classes = list(csv.reader(listing))[1:]
    names = {int(row[1]): (row[0], row[2]) for row in classes}
    train = photos(root, "train.txt", names)
    iconic = [
        LabelledPhoto(row[4], row[0], row[2], (root / row[4].lstrip("/")).read_bytes()) for row in classes
    ]
    val = photos(root, "val.txt", names)
    with tempfile.TemporaryDirectory() as data_dir:
        services = build_services(Settings(data_dir=Path(data_dir)))
        workspace = services.workspaces.create_workspace("bench").id
        started = time.perf_counter()
        version = services.vision.train(workspace, [*train, *iconic], "bench", held_out=val)
        training_s = time.perf_counter() - started
        services.vision.promote(workspace, version.version, "bench")
        timings: dict[str, list[float]] = {"recognise": [], "recognise_and_read": []}
        named: list[bool] = []  # right or not, for each photo whose product would join the question
        for number, photo in enumerate(val):
            for key, read in (("recognise", False), ("recognise_and_read", True)):
                if read and number % 3:
                    continue
                started = time.perf_counter()
                seen = services.vision.recognize(workspace, photo.name, photo.data, read_text=read)
                timings[key].append((time.perf_counter() - started) * 1000)
            if seen.probability >= PRODUCT_NAMED_ABOVE:
                named.append(seen.product == photo.label)
        services.close()
    figures = version.report["held_out"]
    result = {
        "machine": machine(),
        "photos": version.report["photos"],
        "chosen": version.params["candidate"],
        "candidates": version.report["candidates"],
        "top1": figures["top1"],
        "top1_interval": figures["top1_interval"],
        "top5": figures["top5"],
        "coarse_top1": figures.get("coarse_top1"),
        "calibration_error": figures["calibration_error"],
        "named_share": round(len(named) / len(val), 4),
        "named_right": round(sum(named) / max(len(named), 1), 4),
        "training_s": round(training_s, 1),
        **{
            f"{key}_ms": {
                "p50": round(float(np.percentile(v, 50)), 1),
                "p95": round(float(np.percentile(v, 95)), 1),
            }
            for key, v in timings.items()
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"machine: {result['machine']}")
    print(f"photos: {result['photos']} · chosen: {result['chosen']} · training {result['training_s']} s")
    for row in result["candidates"]:
        print(f"  {row['candidate']:<22} cross-validated top-1 {row['top1']:.3f}  ({row['seconds']} s)")
    print(
        f"val: top-1 {result['top1']:.3f} {result['top1_interval']} · top-5 {result['top5']:.3f} ·"
        f" coarse top-1 {result['coarse_top1']} · ECE {result['calibration_error']}"
    )
    print(
        f"named in the question (probability ≥ {PRODUCT_NAMED_ABOVE}): {result['named_share']:.1%} of photos,"
        f" right for {result['named_right']:.1%} of them"
    )
    for key in timings:
        print(f"{key}: p50 {result[f'{key}_ms']['p50']} ms, p95 {result[f'{key}_ms']['p95']} ms")


if __name__ == "__main__":
    main()
