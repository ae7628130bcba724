"""DocumentStore contract; every backend runs it."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.contracts.conftest import Connect
from zhiwen.errors import NotFound
from zhiwen.ports import DocumentStore, WorkspaceStore
from zhiwen.stores.sqlite.documents import SqliteDocumentStore
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore
from zhiwen.text.fingerprints import signature
from zhiwen.types import Chunk, Document


@pytest.fixture
def stores(connect: Connect) -> tuple[DocumentStore, WorkspaceStore]:
    db = connect()
    return SqliteDocumentStore(db), SqliteWorkspaceStore(db)


def _document(workspace_id: str, doc_id: str = "doc_1", source: str = "a.md") -> Document:
    return Document(doc_id, workspace_id, source, "A", "hash", ("policy",), 0, "t0", "t0")


def _chunk(workspace_id: str, chunk_id: str, doc_id: str = "doc_1", text: str = "text") -> Chunk:
    return Chunk(chunk_id, workspace_id, doc_id, 0, "A", text, content_hash=chunk_id)


def test_replace_document_swaps_chunks_and_reports_removed_ones(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1"), _chunk(ws, "c2")])
    removed = documents.replace_document(_document(ws), [_chunk(ws, "c2"), _chunk(ws, "c3")])
    assert removed == ["c1"]
    assert set(documents.get_chunks(ws, ["c1", "c2", "c3"])) == {"c2", "c3"}
    assert documents.get_document(ws, "doc_1").chunk_count == 2


def test_documents_and_chunks_are_invisible_from_another_workspace(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    mine, theirs = workspaces.create_workspace("mine").id, workspaces.create_workspace("theirs").id
    documents.replace_document(_document(mine), [_chunk(mine, "c1")])
    assert documents.get_chunks(theirs, ["c1"]) == {}
    assert documents.list_documents(theirs) == []
    assert documents.find_document(theirs, "a.md") is None
    with pytest.raises(NotFound):
        documents.get_document(theirs, "doc_1")
    with pytest.raises(NotFound):
        documents.delete_document(theirs, "doc_1")
    assert documents.get_document(mine, "doc_1").source == "a.md"
    assert documents.titles_and_sources(theirs, ["doc_1"]) == {}
    assert documents.titles_and_sources(mine, ["doc_1", "doc_gone"]) == {"doc_1": ("A", "a.md")}
    assert documents.titles_and_sources(mine, []) == {}


def test_settings_are_read_together_and_kept_per_workspace(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    _, workspaces = stores
    mine, theirs = workspaces.create_workspace("mine").id, workspaces.create_workspace("theirs").id
    workspaces.put_setting(mine, "answers", {"top_k": 3})
    workspaces.put_setting(mine, "reranker", None)
    workspaces.put_setting(theirs, "answers", {"top_k": 7})
    assert workspaces.get_settings(mine, ["answers", "reranker", "never_set"]) == {
        "answers": {"top_k": 3},
        "reranker": None,
    }
    assert workspaces.get_settings(theirs, ["answers"]) == {"answers": {"top_k": 7}}
    assert workspaces.get_settings(mine, []) == {}


def test_a_failed_transaction_leaves_nothing_half_written(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1", text="old")])

    def crash_midway() -> None:
        with documents.transaction():
            documents.replace_document(_document(ws), [_chunk(ws, "c9", text="new")])
            raise RuntimeError("crash in the middle of an update")

    with pytest.raises(RuntimeError):
        crash_midway()
    assert set(documents.get_chunks(ws, ["c1", "c9"])) == {"c1"}


def test_delete_document_removes_its_chunks(stores: tuple[DocumentStore, WorkspaceStore]) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1"), _chunk(ws, "c2")])
    assert sorted(documents.delete_document(ws, "doc_1")) == ["c1", "c2"]
    assert documents.get_chunks(ws, ["c1", "c2"]) == {}
    assert documents.count_chunks(ws) == 0


def test_pending_vectors_are_tracked_until_marked(stores: tuple[DocumentStore, WorkspaceStore]) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1"), _chunk(ws, "c2")])
    assert documents.count_chunks_needing_vectors(ws) == 2
    assert [c.id for c in documents.claim_chunks_needing_vectors(1, "a", stale_before=0.0)] == ["c1"]
    assert documents.mark_embedded(["c1"], "a") == 1
    assert [c.id for c in documents.claim_chunks_needing_vectors(10, "a", stale_before=0.0)] == ["c2"]
    document = documents.get_document(ws, "doc_1")
    assert (document.chunk_count, document.waiting_chunks, document.characters) == (2, 1, 8)


def test_embedders_claim_different_chunks_and_take_over_stale_claims(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, f"c{n}") for n in range(1, 4)])
    long_ago = time.time() - 3600
    assert [c.id for c in documents.claim_chunks_needing_vectors(2, "a", long_ago)] == ["c1", "c2"]
    assert [c.id for c in documents.claim_chunks_needing_vectors(2, "b", long_ago)] == ["c3"]
    assert documents.claim_chunks_needing_vectors(2, "c", long_ago) == []
    assert documents.vector_claim_holders() == {"a", "b"}
    # Claims made before `stale_before` are taken for dead: a's first chunk goes to c; a cannot mark it.
    assert [c.id for c in documents.claim_chunks_needing_vectors(1, "c", time.time() + 1)] == ["c1"]
    assert documents.mark_embedded(["c1"], "a") == 0
    assert documents.mark_embedded(["c1", "c2"], "c") == 1  # c2 is a's
    assert documents.release_vector_claims("a") == 1
    assert documents.vector_claim_holders() == {"b"}
    assert [c.id for c in documents.claim_chunks_needing_vectors(5, "d", long_ago)] == ["c2"]
    assert documents.count_chunks_needing_vectors(ws) == 2


def test_a_chunk_replaced_while_it_was_embedded_stays_waiting(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    """The vectors written may be of its old text: it is embedded again."""
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1")])
    [claimed] = documents.claim_chunks_needing_vectors(1, "a", time.time() - 60)
    documents.replace_document(_document(ws), [_chunk(ws, "c1", text="new text")])
    assert documents.mark_embedded([claimed.id], "a") == 0
    assert [c.id for c in documents.claim_chunks_needing_vectors(1, "a", time.time() - 60)] == ["c1"]


def test_a_document_replaced_keeps_the_rows_of_the_chunks_it_still_has(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    """Re-uploading a document must not embed again what did not change: an unchanged chunk keeps its
    row (so its vectors) and takes its new position; a changed or new one waits to be embedded."""
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1"), _chunk(ws, "c2"), _chunk(ws, "c3")])
    claimed = documents.claim_chunks_needing_vectors(3, "a", time.time() - 60)
    assert documents.mark_embedded([c.id for c in claimed], "a") == 3
    moved = dataclasses.replace(_chunk(ws, "c3"), position=1)
    removed = documents.replace_document(
        _document(ws), [_chunk(ws, "c1"), moved, _chunk(ws, "c2", text="edited"), _chunk(ws, "c4")]
    )
    assert removed == []
    assert documents.count_chunks_needing_vectors(ws) == 2
    waiting = documents.claim_chunks_needing_vectors(5, "b", time.time() - 60)
    assert sorted(c.id for c in waiting) == ["c2", "c4"]
    chunks = documents.get_chunks(ws, ["c1", "c2", "c3", "c4"])
    assert chunks["c3"].position == 1 and chunks["c2"].text == "edited"


def test_a_near_duplicate_is_found_by_its_buckets_in_its_workspace_only(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws, other = workspaces.create_workspace("w").id, workspaces.create_workspace("o").id
    text = "Aurora Digital ships to every province of mainland China with SF Express within three days."
    near, unrelated = signature(text + "!"), signature("Refunds arrive within 3 working days of the return.")
    assert near is not None and unrelated is not None
    documents.replace_document(_document(ws), [_chunk(ws, "c1", text=text)])
    stored = signature(text)
    assert stored is not None
    documents.save_signatures({"c1": stored})
    assert documents.near_duplicate_of(ws, near) == "c1"
    assert documents.near_duplicate_of(ws, near, ignore={"c1"}) is None  # the document's own old chunk
    assert documents.near_duplicate_of(ws, unrelated) is None
    assert documents.near_duplicate_of(other, near) is None
    documents.delete_document(ws, "doc_1")
    assert documents.near_duplicate_of(ws, near) is None  # its buckets went with it


def test_a_documents_chunks_come_in_position_order_within_its_workspace(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws, other = workspaces.create_workspace("w").id, workspaces.create_workspace("o").id
    chunks = [
        Chunk(f"c{n}", ws, "doc_1", position, "A", f"t{n}", content_hash=f"h{n}")
        for n, position in ((1, 2), (2, 0), (3, 1))
    ]
    documents.replace_document(_document(ws), chunks)
    assert [c.id for c in documents.document_chunks(ws, "doc_1")] == ["c2", "c3", "c1"]
    assert documents.document_chunks(other, "doc_1") == []


def test_tag_and_document_filters_select_chunks(stores: tuple[DocumentStore, WorkspaceStore]) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, "c1")])
    documents.replace_document(
        Document("doc_2", ws, "b.md", "B", "h", ("manual",), 0, "t", "t"), [_chunk(ws, "c2", doc_id="doc_2")]
    )
    assert documents.chunk_ids_with_tags(ws, ["manual"]) == {"c2"}
    assert documents.chunk_ids_for_documents(ws, ["doc_1"]) == {"c1"}


def test_one_documents_chunks_can_be_claimed_ahead_of_earlier_uploads(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    ws = workspaces.create_workspace("w").id
    documents.replace_document(_document(ws), [_chunk(ws, f"c{n}") for n in range(1, 4)])
    documents.replace_document(_document(ws, "doc_2", "b.md"), [_chunk(ws, "d1", doc_id="doc_2")])
    long_ago = time.time() - 3600
    assert [c.id for c in documents.claim_chunks_needing_vectors(5, "a", long_ago, "doc_2")] == ["d1"]
    assert documents.claim_chunks_needing_vectors(5, "b", long_ago, "doc_2") == []
    assert documents.claim_chunks_needing_vectors(5, "b", long_ago, "doc_missing") == []
    assert [c.id for c in documents.claim_chunks_needing_vectors(5, "b", long_ago)] == ["c1", "c2", "c3"]


def test_row_titles_are_the_titles_of_rows_not_of_sections(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    mine, theirs = workspaces.create_workspace("mine").id, workspaces.create_workspace("theirs").id
    guide = Document("doc_g", mine, "guide.md", "手表 S2 使用手册", "h1", (), 0, "t0", "t0")
    catalogue = Document("doc_p", mine, "products.jsonl", "products", "h2", (), 0, "t0", "t0")
    documents.replace_document(
        guide,
        [
            Chunk("g1", mine, "doc_g", 0, "手表 S2 使用手册 > 续航", "5 天", content_hash="g1"),
            Chunk("g2", mine, "doc_g", 1, "手表 S2 使用手册", "GPS", content_hash="g2"),
        ],
    )
    documents.replace_document(
        catalogue,
        [
            Chunk("p1", mine, "doc_p", 0, "Phone X1 手机 / Aurora Phone X1", "3,999 yuan", content_hash="p1"),
            Chunk("p2", mine, "doc_p", 1, "Air 14 laptop", "5,999 yuan", content_hash="p2"),
            Chunk("p3", mine, "doc_p", 2, "Air 14 laptop", "1 TB: 6,799 yuan", content_hash="p3"),
            Chunk("p4", mine, "doc_p", 3, "", "no title", content_hash="p4"),
        ],
    )
    assert documents.row_titles(mine) == ["Air 14 laptop", "Phone X1 手机 / Aurora Phone X1"]
    assert documents.row_titles(theirs) == []


def test_the_documents_version_changes_with_any_document(
    stores: tuple[DocumentStore, WorkspaceStore],
) -> None:
    documents, workspaces = stores
    mine, theirs = workspaces.create_workspace("mine").id, workspaces.create_workspace("theirs").id
    versions = [documents.documents_version(mine)]
    documents.replace_document(_document(mine), [_chunk(mine, "c1")])
    versions.append(documents.documents_version(mine))
    replaced = dataclasses.replace(_document(mine), content_hash="h2", updated_at="t1")  # re-uploaded
    documents.replace_document(replaced, [_chunk(mine, "c2")])
    versions.append(documents.documents_version(mine))
    documents.delete_document(mine, "doc_1")
    versions.append(documents.documents_version(mine))
    assert len(set(versions[:3])) == 3 and versions[3] != versions[2]
    assert documents.documents_version(theirs) == versions[0], "another workspace's documents do not count"
