"""Answer quality on customers' own words: the three sample knowledge bases, single questions and
conversations.

    python -m benchmarks.answers [--split held_out] [--synonyms] [--json]

Builds (and keeps under .bench/) the demo shop, the bank and the telecom help centre, then runs `zhiwen
bench answers` on each golden file: the shop's knowledge-worded set (golden.jsonl) and, for each knowledge
base, the customer-worded questions (customers.jsonl) and conversations (conversations.jsonl), and
conversations whose later turns switch what they ask about ("那手表呢", "and to Germany?": switches.jsonl,
written in session 30 by a helper that never saw how follow-ups are read). Report the
held-out half: the bundled chooser and confidence model were fitted on the shop's tuning halves, and the
bundled question adapter on the tuning halves of all three knowledge bases, so every held-out question is
unseen but no knowledge base is. For a knowledge base nothing saw, train an adapter without it
(`python -m benchmarks.question_adapter --train ...`); `python -m benchmarks.answer_study` also fits the
chooser and the confidence on two knowledge bases and scores the third.

``--synonyms`` gives the shop and the telecom operator the synonyms in benchmarks/synonyms/ for the run
(and takes them away after). A helper wrote them as a support lead would: from the documents and the
questions of the tuning halves that were answered wrongly or handed off, never seeing the held-out halves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.common import machine

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "zhiwen"
BENCH = ROOT / ".bench"
SYNONYMS = ROOT / "benchmarks" / "synonyms"
ZHIWEN = [sys.executable, "-m", "zhiwen"]
SETS = {
    "shop": ("sample_kb", ("golden", "customers", "conversations", "switches")),
    "bank": ("sample_bank", ("customers", "conversations", "switches")),
    "telecom": ("sample_telecom", ("customers", "conversations", "switches")),
}
FIGURES = (
    "questions",
    "answer_accuracy",
    "answerable_handed_off",
    "handoff_precision",
    "handoff_recall",
    "expected_calibration_error",
    "confident_answers",
    "confident_wrong",
    "follow_up_right",
    "conversations_right",
    "latency_p50_ms",
)


def _run(command: list[str]) -> str:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def knowledge_base(name: str) -> Path:
    """The data dir of one sample knowledge base, built once."""
    data_dir = BENCH / f"answers-{name}"
    if (data_dir / "zhiwen.sqlite3").exists():
        return data_dir
    print(f"building the {name} knowledge base in {data_dir}", file=sys.stderr)
    if name == "shop":
        _run([*ZHIWEN, "--data-dir", str(data_dir), "demo", "--no-serve"])
    else:
        _run([*ZHIWEN, "--data-dir", str(data_dir), "init", "--json"])
        _run([*ZHIWEN, "--data-dir", str(data_dir), "ingest", str(SAMPLES / SETS[name][0] / "docs")])
    return data_dir


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", default="held_out", choices=("held_out", "tune", "all"))
    parser.add_argument("--synonyms", action="store_true", help="with the synonyms in " + str(SYNONYMS))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results: dict[str, object] = {"machine": machine(), "split": args.split, "synonyms": args.synonyms}
    for name, (folder, files) in SETS.items():
        data_dir = knowledge_base(name)
        synonyms = [*ZHIWEN, "--data-dir", str(data_dir), "synonyms"]
        _run([*synonyms, "remove", "--all", "--yes"])
        if args.synonyms and (SYNONYMS / f"{name}.csv").exists():
            _run([*synonyms, "import", str(SYNONYMS / f"{name}.csv")])
        for stem in files:
            golden = SAMPLES / folder / f"{stem}.jsonl"
            print(f"{name}/{stem} ({args.split})", file=sys.stderr)
            report = json.loads(
                _run(
                    [
                        *ZHIWEN,
                        "--data-dir",
                        str(data_dir),
                        "bench",
                        "answers",
                        str(golden),
                        "--split",
                        args.split,
                        "--json",
                    ]
                )
            )
            results[f"{name}/{stem}"] = report
        _run([*synonyms, "remove", "--all", "--yes"])
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    print(f"{machine()}; split: {args.split}" + ("; with synonyms" if args.synonyms else ""))
    names = [k for k in results if "/" in k]
    print("| figure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for figure in FIGURES:
        cells = []
        for key in names:
            report = results[key]
            assert isinstance(report, dict)
            value = report.get(figure, "")
            cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
        print(f"| {figure} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
