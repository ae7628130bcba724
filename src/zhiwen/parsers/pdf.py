"""PDF text, one section per page so citations can name the page."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from zhiwen.errors import CorruptFile, EncryptedFile, InvalidInput
from zhiwen.parsers.base import ParsedDocument, ReadText, SectionCollector, add_text_lines, stem_title
from zhiwen.text.normalize import normalize

MIN_TEXT_CHARS = 20  # a page with less text than this (a page number, a stamp) is read by OCR too
MAX_OCR_PAGES = 300  # about 7 minutes of OCR on 2 cores; the rest of a longer scan is reported, not read


def parse_pdf(name: str, data: bytes, read_text: ReadText | None = None) -> ParsedDocument:
    """One section per page. A page with (almost) no text layer, a scan, is read by OCR from its images
    when ``read_text`` is given; an image that cannot be read is named in a warning and skipped."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise EncryptedFile(
                f"{name}: the PDF is password-protected; remove the password and upload again"
            )
        title = stem_title(name)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        if meta_title.strip():
            title = normalize(meta_title)
        collector = SectionCollector(title)
        scan = _Scan(name, read_text)
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            if len(text.strip()) < MIN_TEXT_CHARS:
                text = "\n".join(filter(None, (text, scan.read(number, page))))
            add_text_lines(collector, text, suffix=f" · p.{number}")
    except EncryptedFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise CorruptFile(f"{name}: not a readable PDF ({error})") from None
    except Exception as error:  # pypdf raises many internal errors on malformed files
        raise CorruptFile(f"{name}: not a readable PDF ({type(error).__name__})") from None
    return ParsedDocument(title=title, sections=collector.sections, warnings=scan.warnings())


class _Scan:
    """The OCR of one PDF's scanned pages, and what to say about it."""

    def __init__(self, name: str, read_text: ReadText | None) -> None:
        self._name, self._read_text = name, read_text
        self.read_pages = 0
        self.skipped: list[str] = []
        self.beyond_limit = 0

    def read(self, number: int, page: Any) -> str:
        if self._read_text is None:
            return ""
        if self.read_pages >= MAX_OCR_PAGES:
            self.beyond_limit += 1
            return ""
        texts = []
        try:
            images = list(page.images)
        except Exception as error:
            self.skipped.append(f"p.{number} ({type(error).__name__})")
            return ""
        for image in images:
            try:
                texts.append(self._read_text(f"{self._name} p.{number}", image.data, True))
            except InvalidInput as error:
                self.skipped.append(f"p.{number} ({error.message.split(': ', 1)[-1]})")
        self.read_pages += bool(images)
        return "\n".join(t for t in texts if t)

    def warnings(self) -> list[str]:
        said = []
        if self.read_pages:
            said.append(f"{self._name}: {self.read_pages} scanned page(s) read by OCR")
        if self.skipped:
            said.append(f"{self._name}: page images that could not be read: {', '.join(self.skipped[:10])}")
        if self.beyond_limit:
            said.append(
                f"{self._name}: {self.beyond_limit} scanned page(s) after the first {MAX_OCR_PAGES} were not"
                " read; split the file"
            )
        return said
