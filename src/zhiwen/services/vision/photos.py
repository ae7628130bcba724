"""A company's labelled product photos, as it has them: a zip (or folder) with a folder per product, or
with a ``labels.csv`` of ``path,label[,category]``. Nothing is written to disk and nothing outside the
archive is read: a path in the CSV names an entry of the same archive.

With folders, the label is the photo's folder and the category (for a coarse figure such as "apple"
over "Granny Smith") is the folder above it when every photo has one. Files that are not photos by their
extension (``.DS_Store``, a README) are passed over; photos that cannot be decoded are found later, when
their features are read, and reported by name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath

from zhiwen.errors import CorruptFile, InvalidInput, TooLarge
from zhiwen.text.normalize import decode

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
MAX_PHOTOS = 20_000
MAX_PHOTO_BYTES = 20 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024**3  # unpacked: a zip bomb is refused before anything is read
MAX_LABEL_CHARS = 200
LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class LabelledPhoto:
    name: str  # its path in the archive, for errors and reports
    label: str
    category: str
    data: bytes

    @cached_property
    def digest(self) -> str:
        """The photo's content hash: the same photo under two names is one photo."""
        return hashlib.sha1(self.data, usedforsecurity=False).hexdigest()


def read_archive(filename: str, data: bytes) -> list[LabelledPhoto]:
    """The labelled photos in a zip archive; a clear error for what is not one or holds none."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise CorruptFile(
            f"{filename}: not a zip archive; zip a folder with a folder per product in it"
        ) from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        if sum(i.file_size for i in entries) > MAX_TOTAL_BYTES:
            raise TooLarge(f"{filename}: over {MAX_TOTAL_BYTES // 1024**3} GB unpacked; split it")
        names = {i.filename: i for i in entries}
        labels_entry = next((n for n in names if PurePosixPath(n).name.lower() == LABELS_FILE), None)
        if labels_entry is not None:
            rows = _labels_csv(filename, _read(archive, names[labels_entry], filename))
            base = PurePosixPath(labels_entry).parent
            listed = []
            for number, (path, label, category) in enumerate(rows, start=2):
                path = path.replace("\\", "/").removeprefix("./")  # as Windows and shells write them
                entry = names.get(str(base / path) if str(base) != "." else path)
                if entry is None:
                    raise InvalidInput(f"{LABELS_FILE} line {number}: no file {path!r} in {filename}")
                listed.append((entry, label, category))
            return _photos(filename, archive, listed)
        photos = [i for i in entries if _is_photo(i.filename)]
        return _photos(filename, archive, _by_folder(filename, [(i.filename, i) for i in photos]))


def read_folder(folder: str) -> list[LabelledPhoto]:
    """The labelled photos under a local folder (the CLI's ``--from DIR``): the same rules as a zip."""
    from pathlib import Path

    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput(f"{folder}: not a folder")
    chosen, total = [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if _is_photo(relative) or path.name.lower() == LABELS_FILE:
            chosen.append((path, relative))
            total += path.stat().st_size
        if len(chosen) > MAX_PHOTOS + 1 or total > MAX_TOTAL_BYTES:  # checked before anything is read
            raise TooLarge(
                f"{folder}: over {MAX_PHOTOS:,} photos or {MAX_TOTAL_BYTES // 1024**3} GB; split it"
            )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as packed:
        for path, relative in chosen:
            packed.write(path, relative)
    return read_archive(folder, buffer.getvalue())


def _is_photo(name: str) -> bool:
    path = PurePosixPath(name)
    return path.suffix.lower() in PHOTO_SUFFIXES and not any(
        p.startswith((".", "__MACOSX")) for p in path.parts
    )


def _by_folder(
    filename: str, photos: list[tuple[str, zipfile.ZipInfo]]
) -> list[tuple[zipfile.ZipInfo, str, str]]:
    if any(len(PurePosixPath(name).parts) < 2 for name, _ in photos):
        loose = next(name for name, _ in photos if len(PurePosixPath(name).parts) < 2)
        raise InvalidInput(
            f"{filename}: {loose!r} is not in a product's folder; put each product's photos in a folder"
            f" named after it, or list them in a {LABELS_FILE} (path,label)"
        )
    with_category = all(len(PurePosixPath(name).parts) >= 3 for name, _ in photos)
    return [
        (
            entry,
            PurePosixPath(name).parts[-2],
            PurePosixPath(name).parts[-3] if with_category else "",
        )
        for name, entry in photos
    ]


def _labels_csv(filename: str, data: bytes) -> list[tuple[str, str, str]]:
    reader = csv.DictReader(io.StringIO(decode(data, f"{filename}/{LABELS_FILE}")))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    if "path" not in columns or "label" not in columns:
        raise InvalidInput(
            f"{LABELS_FILE} needs the columns path and label (category optional); it has"
            f" {', '.join(columns) or 'none'}"
        )
    rows = []
    for number, row in enumerate(reader, start=2):
        path = (row.get(columns["path"]) or "").strip()
        label = (row.get(columns["label"]) or "").strip()
        category = (row.get(columns.get("category", ""), "") or "").strip()
        if not path or not label:
            raise InvalidInput(f"{LABELS_FILE} line {number}: a path and a label are both needed")
        rows.append((path, label, category))
    return rows


def _photos(
    filename: str, archive: zipfile.ZipFile, listed: Iterable[tuple[zipfile.ZipInfo, str, str]]
) -> list[LabelledPhoto]:
    chosen = list(listed)
    if not chosen:
        raise InvalidInput(
            f"{filename}: no photos ({', '.join(PHOTO_SUFFIXES)}) in it; zip a folder with a folder per"
            " product"
        )
    if len(chosen) > MAX_PHOTOS:
        raise TooLarge(f"{filename}: {len(chosen):,} photos, over the {MAX_PHOTOS:,} a version learns from")
    photos = []
    for entry, label, category in chosen:
        if len(label) > MAX_LABEL_CHARS or len(category) > MAX_LABEL_CHARS:
            raise InvalidInput(f"{entry.filename}: a label or category over {MAX_LABEL_CHARS} characters")
        photos.append(LabelledPhoto(entry.filename, label, category, _read(archive, entry, filename)))
    return photos


def _read(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, filename: str) -> bytes:
    if entry.file_size > MAX_PHOTO_BYTES:
        raise TooLarge(f"{filename}/{entry.filename}: over {MAX_PHOTO_BYTES // 1024**2} MB")
    try:
        with archive.open(entry) as stream:
            data = stream.read(MAX_PHOTO_BYTES + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError) as error:
        raise CorruptFile(f"{filename}/{entry.filename}: cannot be unpacked ({error})") from None
    if len(data) > MAX_PHOTO_BYTES:  # the header lied about the size
        raise TooLarge(f"{filename}/{entry.filename}: over {MAX_PHOTO_BYTES // 1024**2} MB")
    return data
