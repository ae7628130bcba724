"""Run every benchmark and print the figures docs/benchmarks.md reports (`make bench`).

Retrieval indexes are kept under .bench/ so a second run only re-queries (about 12 minutes on 2 cores,
including the learned-ranking runs); the first run also embeds about 12,600 passages. The sentiment runs
start from scratch each time (about 20 minutes, most of it embedding reviews).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import machine

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "retrieval"
BENCH = ROOT / ".bench"
ZHIWEN = [sys.executable, "-m", "zhiwen"]
SETS = ("cmrc2018_trial", "stackfaq_dev", "afqmc_train_faq")


def run_json(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    BENCH.mkdir(exist_ok=True)
    results: dict[str, object] = {"machine": machine()}
    for name in SETS:
        if not (DATA / name).is_dir():
            print(f"skipping {name}: {DATA / name} not found", file=sys.stderr)
            continue
        print(f"retrieval: {name}", file=sys.stderr)
        cache = BENCH / f"idx-{name}"
        results[f"retrieval/{name}"] = run_json(
            [
                *ZHIWEN,
                "bench",
                "retrieval",
                str(DATA / name),
                "--mode",
                "all",
                "--cache-dir",
                str(cache),
                "--json",
            ]
        )
    if (BENCH / "idx-afqmc_train_faq").is_dir():
        print("latency", file=sys.stderr)
        results["latency"] = run_json(
            [
                sys.executable,
                "-m",
                "benchmarks.latency",
                str(BENCH / "idx-afqmc_train_faq"),
                str(DATA / "afqmc_train_faq"),
            ]
        )
        print("promotion and rollback", file=sys.stderr)
        results["release_switch"] = run_json(
            [
                sys.executable,
                "-m",
                "benchmarks.release_switch",
                str(DATA / "afqmc_train_faq"),
                "--cache-dir",
                str(BENCH / "idx-afqmc_train_faq"),
                "--json",
            ]
        )
    for name in ("stackfaq_dev", "afqmc_train_faq"):
        if (BENCH / f"idx-{name}").is_dir():
            print(f"learned ranking: {name}", file=sys.stderr)
            results[f"learned_ranking/{name}"] = run_json(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.learned_ranking",
                    str(DATA / name),
                    "--cache-dir",
                    str(BENCH / f"idx-{name}"),
                    "--json",
                ]
            )
    for name in ("waimai_10k", "online_shopping_10_cats"):
        if (DATA.parent / "sentiment" / name).is_dir():
            print(f"sentiment: {name}", file=sys.stderr)
            results[f"sentiment/{name}"] = run_json(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.sentiment",
                    str(DATA.parent / "sentiment" / name),
                    "--json",
                ]
            )
    if (DATA.parent / "intent" / "banking77").is_dir():
        print("intents", file=sys.stderr)
        results["intents"] = run_json(
            [sys.executable, "-m", "benchmarks.intents", str(DATA.parent / "intent" / "banking77"), "--json"]
        )
    print("desk", file=sys.stderr)
    results["desk"] = run_json([sys.executable, "-m", "benchmarks.desk", "--json"])
    print("personal data, OCR", file=sys.stderr)
    results["pii"] = run_json([sys.executable, "-m", "benchmarks.pii", "--json"])
    results["ocr"] = run_json([sys.executable, "-m", "benchmarks.ocr", "--json"])
    if (DATA.parent / "images" / "grocery_store").is_dir():
        print("product recognition", file=sys.stderr)
        results["vision"] = run_json([sys.executable, "-m", "benchmarks.vision", "--json"])
    print("answers while documents are uploaded; memory of a big upload", file=sys.stderr)
    results["load"] = run_json([sys.executable, "-m", "benchmarks.load", "--json"])
    print("two API processes", file=sys.stderr)
    results["load_two_processes"] = run_json(
        [
            sys.executable,
            "-m",
            "benchmarks.load",
            "--seconds",
            "20",
            "--big-mb",
            "0",
            "--askers",
            "8",
            "--processes",
            "2",
            "--json",
        ]
    )
    print("keyword search on SQLite and PostgreSQL", file=sys.stderr)
    results["keyword_backends"] = run_json([sys.executable, "-m", "benchmarks.keyword_backends", "--json"])
    print("kill -9 and integrity checks", file=sys.stderr)
    results["faults"] = run_json([sys.executable, "-m", "benchmarks.faults", "--json"])
    print("ingestion", file=sys.stderr)
    results["ingestion"] = run_json([sys.executable, "-m", "benchmarks.ingestion"])
    print("embedding engines side by side", file=sys.stderr)
    results["embedding"] = run_json([sys.executable, "-m", "benchmarks.embedding", "--json"])
    print("latency at 100,000 chunks (the first run builds the store: about 12 minutes)", file=sys.stderr)
    results["scale"] = run_json([sys.executable, "-m", "benchmarks.scale", "--json"])
    print("answers on the demo golden set", file=sys.stderr)
    demo = BENCH / "demo"
    shutil.rmtree(demo, ignore_errors=True)
    subprocess.run(
        [*ZHIWEN, "--data-dir", str(demo), "demo", "--no-serve"], cwd=ROOT, check=True, capture_output=True
    )
    golden = str(ROOT / "src" / "zhiwen" / "sample_kb" / "golden.jsonl")
    results["answers"] = run_json([*ZHIWEN, "--data-dir", str(demo), "bench", "answers", golden, "--json"])
    results["calibration"] = run_json(
        [*ZHIWEN, "--data-dir", str(demo), "calibrate", "--golden", golden, "--dry-run", "--json"]
    )
    subprocess.run(
        [*ZHIWEN, "--data-dir", str(demo), "golden", "import", golden, "--name", "bench"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    tuned = run_json(
        [*ZHIWEN, "--data-dir", str(demo), "tune", "--golden", "bench", "--trials", "30", "--json"]
    )
    results["tune"] = {key: tuned[key] for key in ("best_params", "held_out", "calibration")}
    (BENCH / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
