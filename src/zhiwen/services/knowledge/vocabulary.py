"""Whether a word is in the knowledge: what a synonym needs to be checked against before it is kept.

A synonym replaces the customer's word with the documents' word. If the documents use the customer's
word themselves ("fapiao" in an invoices page), replacing it can only lose what it matched; if they never
use the documents' word (a typo, a product not loaded), the question then searches for nothing. Both are
said when the synonym is added, not found out at the release gate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from zhiwen.errors import ZhiwenError
from zhiwen.services.answers.synonyms import occurs
from zhiwen.services.knowledge.retrieve import Retriever
from zhiwen.text.tokenize import keyword_tokens

CHECKED_AT_MOST = 200  # synonyms checked per change (each is two keyword searches)
log = logging.getLogger(__name__)
LOOKED_AT = 20  # passages of a keyword search looked into for the whole word


def where_found(retriever: Retriever, workspace_id: str, word: str) -> str | None:
    """The title of a document that holds ``word`` as a whole word, or None. A keyword search finds the
    candidates (none for a word it does not search); the word must stand whole in one of the first
    :data:`LOOKED_AT`."""
    for hit in retriever.retrieve(workspace_id, word, k=LOOKED_AT, mode="keyword").hits:
        chunk = hit.chunk
        if occurs(word, f"{chunk.title_path}\n{chunk.question or ''}\n{chunk.text}"):
            return hit.document_title or chunk.title_path
    return None


def synonym_warnings(retriever: Retriever, workspace_id: str, changes: Mapping[str, str]) -> list[str]:
    """What may make these synonyms (customer's word → documents' word) hurt answers, in words. They are
    stored before this runs, so a search that fails here becomes a warning, not an error."""
    try:
        return _warnings(retriever, workspace_id, changes)
    except ZhiwenError as error:
        log.warning("synonyms not checked against the documents: %s", error)
        return [f"the synonyms were stored but not checked against the documents ({error.message})"]


def _warnings(retriever: Retriever, workspace_id: str, changes: Mapping[str, str]) -> list[str]:
    found: list[str] = []
    for said, written in list(changes.items())[:CHECKED_AT_MOST]:
        if not keyword_tokens(said):
            found.append(f"{said!r} is too common a word to stand for anything (it is not searched)")
        elif (title := where_found(retriever, workspace_id, said)) is not None:
            found.append(
                f"{said!r} is in your documents ({title}): questions using it will search for {written!r}"
                " instead, and may lose what it found"
            )
        if not keyword_tokens(written):
            found.append(
                f"{written!r} is too common a word to search for: questions saying {said!r} find less"
            )
        elif where_found(retriever, workspace_id, written) is None:
            found.append(
                f"{written!r} is in none of your documents: questions saying {said!r} will search for it"
            )
    if len(changes) > CHECKED_AT_MOST:
        found.append(
            f"only the first {CHECKED_AT_MOST} of {len(changes):,} were checked against the documents"
        )
    return found
