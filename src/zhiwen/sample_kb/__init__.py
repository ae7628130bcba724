"""The bundled demo knowledge base: a fictional consumer-electronics shop, 极光数码 Aurora Digital.

Text formats are shipped as they are; PDF, DOCX and XLSX files are generated from sources here (see
:func:`build_sample_kb`) rather than committed as binaries. ``golden.jsonl`` holds the questions used by
tests, benchmarks and calibration.
"""

from __future__ import annotations

import csv
import io
import shutil
from importlib import resources
from pathlib import Path

from zhiwen.sample_kb.render import markdown_to_docx, markdown_to_pdf, rows_to_xlsx

GOLDEN_FILE = "golden.jsonl"


def _package_dir() -> Path:
    return Path(str(resources.files(__name__)))


def golden_path() -> Path:
    return _package_dir() / GOLDEN_FILE


def build_sample_kb(target: Path) -> Path:
    """Write the demo knowledge base into ``target`` (created if needed) and return it.

    Re-running produces byte-identical files, so re-ingesting the folder finds nothing changed.
    """
    source = _package_dir()
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted((source / "docs").iterdir()):
        destination = target / path.name
        if not destination.exists() or destination.read_bytes() != path.read_bytes():
            shutil.copyfile(path, destination)
    for path in sorted((source / "to_pdf").glob("*.md")):
        _write_if_changed(target / f"{path.stem}.pdf", markdown_to_pdf(path.read_text(encoding="utf-8")))
    for path in sorted((source / "to_docx").glob("*.md")):
        _write_if_changed(target / f"{path.stem}.docx", markdown_to_docx(path.read_text(encoding="utf-8")))
    for path in sorted((source / "to_xlsx").glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        _write_if_changed(target / f"{path.stem}.xlsx", rows_to_xlsx(rows))
    return target


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
