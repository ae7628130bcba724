"""HTML (boilerplate stripped) and Markdown (rendered to HTML first), split into sections at headings."""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt

from zhiwen.parsers.base import ParsedDocument, SectionCollector, stem_title
from zhiwen.text.normalize import decode, normalize

_BOILERPLATE = [
    "script",
    "style",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "noscript",
    "iframe",
    "svg",
    "button",
]
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "li", "pre", "blockquote", "dd", "dt", "tr", "figcaption", "caption", "summary"}
_BOILERPLATE_HINTS = ("cookie", "breadcrumb", "sidebar", "advert", "share", "related", "newsletter", "menu")


def _is_boilerplate(tag: Tag) -> bool:
    attrs = " ".join(
        [*(tag.get("class") or []), str(tag.get("id") or ""), str(tag.get("role") or "")]
    ).lower()
    return any(hint in attrs for hint in _BOILERPLATE_HINTS) or attrs.strip() in ("navigation", "banner")


def _sections_from_html(html: str, fallback_title: str) -> ParsedDocument:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_BOILERPLATE):
        tag.decompose()
    for tag in soup.find_all(True):
        is_block = isinstance(tag, Tag) and tag.name in ("div", "section", "ul", "p", "span")
        if is_block and not tag.decomposed and _is_boilerplate(tag):
            tag.decompose()
    head_title = normalize(soup.title.get_text(" ", strip=True)) if soup.title else ""
    body = soup.body or soup
    first_h1 = body.find("h1")
    title = normalize(first_h1.get_text(" ", strip=True)) if first_h1 else head_title or fallback_title
    collector = SectionCollector(title)
    for tag in body.find_all([*_HEADINGS, *_BLOCKS]):
        if not isinstance(tag, Tag):
            continue
        if tag.name in _HEADINGS:
            collector.heading(_HEADINGS[tag.name], normalize(tag.get_text(" ", strip=True)))
        elif not tag.find_parent(list(_BLOCKS)):
            if tag.name == "tr":
                collector.paragraph(
                    " | ".join(c.get_text(" ", strip=True) for c in tag.find_all(["td", "th"]))
                )
            else:
                collector.paragraph(tag.get_text(" ", strip=True))
    collector.flush()
    return ParsedDocument(title=title, sections=collector.sections)


def parse_html(name: str, data: bytes) -> ParsedDocument:
    return _sections_from_html(decode(data, name), stem_title(name))


_markdown = MarkdownIt("commonmark").enable("table")


def parse_markdown(name: str, data: bytes) -> ParsedDocument:
    return _sections_from_html(_markdown.render(decode(data, name)), stem_title(name))
