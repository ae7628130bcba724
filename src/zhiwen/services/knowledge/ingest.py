"""Ingestion: file bytes → parsed sections → chunks → store + keyword index, in one transaction.

Embeddings are computed afterwards by :class:`~zhiwen.services.knowledge.embedding.EmbeddingWorker`, so a
document is keyword-searchable as soon as this returns. Re-ingesting unchanged bytes is a hash lookup; a
changed file replaces its chunks; any failure leaves the previous version untouched.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from zhiwen.errors import InvalidInput, TooLarge, ZhiwenError
from zhiwen.parsers import SUPPORTED_SUFFIXES, parse
from zhiwen.ports import DocumentStore, KeywordIndex, Ocr, VectorIndex
from zhiwen.text.chunking import chunk_sections
from zhiwen.text.fingerprints import content_hash, signature
from zhiwen.text.pii import redacted_with_matches
from zhiwen.text.sensitive import instruction_like, redact_secrets
from zhiwen.text.tokenize import indexed_terms
from zhiwen.types import Chunk, Document, utc_now

PIPELINE_VERSION = "3"  # bump when parsing or chunking changes, so unchanged files are re-chunked once

Status = Literal["added", "updated", "unchanged", "failed"]


@dataclass
class IngestResult:
    source: str
    status: Status
    document_id: str | None = None
    chunks: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    warnings: list[str] = field(default_factory=list)
    error_code: str | None = None
    error: str | None = None


def _screened(
    source: str, drafts: list[tuple[str, str, str | None]], pii_kinds: Collection[str] = ()
) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Chunk drafts with secrets (and, when the workspace asks, personal data of ``pii_kinds``) redacted,
    and what the ingestion report should say about them and about text that reads like instructions to
    an AI (:mod:`zhiwen.text.sensitive`)."""
    screened, secrets, instructions = [], [], []
    personal: Counter[str] = Counter()
    for position, (title_path, text, question) in enumerate(drafts, start=1):
        body, asked = redact_secrets(text), redact_secrets(question) if question is not None else None
        secrets += [*body.found, *(asked.found if asked else ())]
        body_text, asked_text = body.text, asked.text if asked else None
        if pii_kinds:
            body_text, found = redacted_with_matches(body_text, pii_kinds)
            if asked_text is not None:
                asked_text, found_in_question = redacted_with_matches(asked_text, pii_kinds)
                found += found_in_question
            personal.update(match.kind for match in found)
        screened.append((title_path, body_text, asked_text))
        phrase = instruction_like(f"{question or ''} {text}")
        if phrase:
            instructions.append(f"passage {position} (“{phrase}”)")
    warnings = []
    if secrets:
        kinds = ", ".join(dict.fromkeys(secrets))
        warnings.append(
            f"{source}: {len(secrets)} secret-like string(s) redacted ({kinds}); keep credentials out of "
            "the knowledge base and change any that were real"
        )
    if personal:
        by_kind = ", ".join(f"{kind} {count}" for kind, count in personal.most_common())
        warnings.append(f"{source}: {personal.total()} personal data item(s) redacted ({by_kind})")
    if instructions:
        warnings.append(
            f"{source}: text that reads like an instruction to an AI assistant, kept as text (LLMs are told "
            f"passages are not instructions): {'; '.join(instructions[:3])}"
        )
    return screened, warnings


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def document_id(workspace_id: str, source: str) -> str:
    return "doc_" + _short_hash(f"{workspace_id}\0{source}")


def _chunk_id(doc_id: str, title_path: str, digest: str, occurrence: int) -> str:
    """Named by what is embedded (its headings and text) and not by its place, so that a document
    uploaded again keeps the rows, and the vectors, of every chunk it still has where an edit moved
    it; ``occurrence`` tells apart the same text kept twice (``dedup=False``)."""
    return "chk_" + _short_hash(f"{doc_id}\0{title_path}\0{digest}\0{occurrence}")


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files under ``paths`` (recursively), minus hidden ones; unsupported files are kept, to be reported."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


class IngestService:
    def __init__(
        self,
        store: DocumentStore,
        keywords: KeywordIndex,
        vectors: VectorIndex,
        max_chars: int,
        max_bytes: int,
        pii_kinds: Callable[[str], Collection[str]] | None = None,
        ocr: Ocr | None = None,
    ) -> None:
        """``pii_kinds``: per workspace, the personal data to redact from documents (none by default);
        ``ocr`` reads images and scanned PDF pages (without it, images are refused)."""
        self._pii_kinds = pii_kinds
        self._ocr = ocr
        self._store = store
        self._keywords = keywords
        self._vectors = vectors
        self._max_chars = max_chars
        self._max_bytes = max_bytes

    def ingest_bytes(
        self,
        workspace_id: str,
        source: str,
        data: bytes,
        tags: Sequence[str] = (),
        dedup: bool = True,
    ) -> IngestResult:
        """Ingest one file; errors are returned in the result, never raised, so batches carry on.

        ``dedup=False`` keeps duplicate chunks (benchmarks whose judgements name each copy need that).
        """
        try:
            return self._ingest(workspace_id, source, data, tuple(tags), dedup)
        except ZhiwenError as error:
            return IngestResult(source, "failed", error_code=error.code, error=error.message)

    def ingest_paths(
        self,
        workspace_id: str,
        paths: Sequence[Path],
        tags: Sequence[str] = (),
        base: Path | None = None,
        on_file: Callable[[IngestResult], None] = lambda r: None,
    ) -> list[IngestResult]:
        results = []
        for path in paths:
            source = str(path.relative_to(base)) if base and path.is_relative_to(base) else path.name
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                result = IngestResult(
                    source,
                    "failed",
                    error_code="unsupported_format",
                    error=f"{source}: unsupported file type",
                )
            else:
                try:
                    size = path.stat().st_size
                    if size > self._max_bytes:
                        raise TooLarge(f"{source}: {size:,} bytes is over the {self._max_bytes:,}-byte limit")
                    data = path.read_bytes()
                except OSError as error:
                    result = IngestResult(
                        source, "failed", error_code="unreadable", error=f"{source}: {error}"
                    )
                except TooLarge as error:
                    result = IngestResult(source, "failed", error_code=error.code, error=error.message)
                else:
                    result = self.ingest_bytes(workspace_id, source, data, tags)
            results.append(result)
            on_file(result)
        return results

    def delete_document(self, workspace_id: str, doc_id: str) -> int:
        with self._store.transaction():
            removed = self._store.delete_document(workspace_id, doc_id)
            self._keywords.remove(workspace_id, removed)
        self._vectors.remove(workspace_id, removed)
        return len(removed)

    def _ingest(
        self,
        workspace_id: str,
        source: str,
        data: bytes,
        tags: tuple[str, ...],
        dedup: bool,
    ) -> IngestResult:
        if not source.strip() or len(source) > 500:
            raise InvalidInput("a document needs a file name of 1 to 500 characters")
        if len(data) > self._max_bytes:
            raise TooLarge(f"{source}: {len(data):,} bytes is over the {self._max_bytes:,}-byte limit")
        doc_id = document_id(workspace_id, source)
        digest = hashlib.sha256(
            data + f"\0{PIPELINE_VERSION}\0{self._max_chars}\0{sorted(tags)}".encode()
        ).hexdigest()
        existing = self._store.find_document(workspace_id, source)
        if existing is not None and existing.content_hash == digest:
            return IngestResult(source, "unchanged", doc_id, chunks=existing.chunk_count)

        parsed = parse(source, data, self._ocr.read if self._ocr is not None else None)
        drafts: list[tuple[str, str, str | None]] = [
            (c.title_path, c.text, None) for c in chunk_sections(parsed.sections, self._max_chars)
        ]
        drafts += [(parsed.title, entry.answer, entry.question) for entry in parsed.faq]
        drafts, warnings = _screened(source, drafts, self._pii_kinds(workspace_id) if self._pii_kinds else ())

        own_old = self._store.chunk_ids_for_documents(workspace_id, [doc_id])
        hashes = [content_hash(f"{question or ''}\n{text}") for _, text, question in drafts]
        elsewhere = (
            {
                h: cid
                for h, cid in self._store.chunk_ids_by_hash(workspace_id, set(hashes)).items()
                if cid not in own_old
            }
            if dedup
            else {}
        )
        result = IngestResult(
            source, "updated" if existing else "added", doc_id, warnings=[*parsed.warnings, *warnings]
        )
        chunks: list[Chunk] = []
        signatures: dict[str, bytes] = {}
        seen: set[str] = set()
        occurrences: Counter[tuple[str, str]] = Counter()
        for (title_path, text, question), digest_ in zip(drafts, hashes, strict=True):
            if dedup and (digest_ in seen or digest_ in elsewhere):
                result.duplicates += 1
                continue
            sig = signature(text) if question is None and dedup else None
            if sig is not None and self._store.near_duplicate_of(workspace_id, sig, ignore=own_old):
                result.near_duplicates += 1
                continue
            seen.add(digest_)
            occurrences[digest_, title_path] += 1
            chunk = Chunk(
                id=_chunk_id(doc_id, title_path, digest_, occurrences[digest_, title_path]),
                workspace_id=workspace_id,
                document_id=doc_id,
                position=len(chunks),
                title_path=title_path,
                text=text,
                kind="faq" if question is not None else "passage",
                question=question,
                content_hash=digest_,
            )
            chunks.append(chunk)
            if sig is not None and chunk.id not in own_old:  # a kept chunk keeps its signature
                signatures[chunk.id] = sig
        now = utc_now()
        document = Document(
            id=doc_id,
            workspace_id=workspace_id,
            source=source,
            title=parsed.title,
            content_hash=digest,
            tags=tags,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        terms = [indexed_terms(c) for c in chunks]  # CPU work stays outside the write lock
        with self._store.transaction():
            removed = self._store.replace_document(document, chunks)
            self._keywords.remove(workspace_id, sorted(own_old))
            self._keywords.add(chunks, terms)
            self._store.save_signatures(signatures)
        self._vectors.remove(workspace_id, removed)
        result.chunks = len(chunks)
        return result
