"""PDF text, one section per page so citations can name the page."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from zhiwen.errors import CorruptFile, EncryptedFile, TooLarge
from zhiwen.parsers.base import ParsedDocument, SectionCollector, stem_title
from zhiwen.text.normalize import normalize


def unwrap_lines(text: str) -> str:
    """Rejoin lines the PDF's layout wrapped: a line nearly as long as the page's longest continues.

    Shorter lines, and lines that finish a sentence, end a paragraph or are headings.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return ""
    longest = max(len(line) for line in lines)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if current:
            space = " " if current[-1].isascii() and line[0].isascii() else ""
            current = f"{current}{space}{line}"
        else:
            current = line
        if len(line) < 0.8 * longest or line.endswith(("。", "！", "？", ".", "!", "?")):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def looks_like_heading(paragraph: str) -> bool:
    """PDF text has no markup: a short line with no sentence punctuation is taken for a heading."""
    return 0 < len(paragraph) <= 40 and not re.search(r"[。！？，,.!?:：；;]", paragraph)


def parse_pdf(name: str, data: bytes, read_text: Callable[[str, bytes], str] | None = None) -> ParsedDocument:
    """One section per page. A page with no text layer (a scan) is read by OCR from its images when
    ``read_text`` is given; a page that has text is never OCRed."""
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
        scanned = 0
        for number, page in enumerate(reader.pages, start=1):
            text = normalize(page.extract_text() or "")
            if not text.strip() and read_text is not None:
                images = [image.data for image in page.images]
                text = "\n".join(read_text(f"{name} p.{number}", image) for image in images)
                scanned += bool(images)
            for paragraph in unwrap_lines(normalize(text)).split("\n\n"):
                if looks_like_heading(paragraph):
                    collector.heading(2, paragraph, suffix=f" · p.{number}")
                elif paragraph:
                    collector.paragraph(paragraph)
            collector.flush(suffix=f" · p.{number}")
    except (EncryptedFile, TooLarge):
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        raise CorruptFile(f"{name}: not a readable PDF ({error})") from None
    except Exception as error:  # pypdf raises many internal errors on malformed files
        raise CorruptFile(f"{name}: not a readable PDF ({type(error).__name__})") from None
    warnings = [f"{name}: {scanned} scanned page(s) read by OCR"] if scanned else []
    return ParsedDocument(title=title, sections=collector.sections, warnings=warnings)
