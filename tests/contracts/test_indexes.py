"""KeywordIndex and VectorIndex contracts; every backend runs them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.contracts.conftest import Connect
from zhiwen.ports import KeywordIndex, VectorIndex
from zhiwen.stores.keyword_search import query_terms
from zhiwen.stores.postgres.db import PgDatabase
from zhiwen.stores.postgres.keyword import PgKeywordIndex, recount
from zhiwen.stores.postgres.vectors import PgVectorIndex
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.documents import SqliteDocumentStore
from zhiwen.stores.sqlite.keyword import SqliteKeywordIndex
from zhiwen.stores.sqlite.vectors import NumpyVectorIndex
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore
from zhiwen.types import Chunk, Document

TEXTS = {
    "c1": "七天无理由退货，运费由买家承担。",
    "c2": "扫地机器人整机保修 2 年，电机保修 3 年。",
    "c3": "Refunds arrive within 1 working day for Alipay.",
}


def _two_workspaces(database: Database) -> tuple[str, str]:
    workspaces, documents = SqliteWorkspaceStore(database), SqliteDocumentStore(database)
    ids = []
    for name in ("a", "b"):
        ws = workspaces.create_workspace(name).id
        documents.replace_document(
            Document(f"doc_{name}", ws, "kb.md", "KB", "h", (), 0, "t", "t"),
            [Chunk(f"{name}{cid}", ws, f"doc_{name}", 0, "KB", text) for cid, text in TEXTS.items()],
        )
        ids.append(ws)
    return ids[0], ids[1]


@pytest.fixture
def keywords(connect: Connect) -> tuple[KeywordIndex, str, str]:
    """SQLite's FTS5 index, or PostgreSQL's postings with the same BM25."""
    database = connect()
    a, b = _two_workspaces(database)
    index: KeywordIndex = (
        PgKeywordIndex(database) if isinstance(database, PgDatabase) else SqliteKeywordIndex(database)
    )
    for ws, prefix in ((a, "a"), (b, "b")):
        index.add(
            [Chunk(f"{prefix}{cid}", ws, f"doc_{prefix}", 0, "KB", text) for cid, text in TEXTS.items()]
        )
    return index, a, b


def test_keyword_search_finds_chinese_and_english_terms(keywords: tuple[KeywordIndex, str, str]) -> None:
    index, a, _ = keywords
    assert index.search(a, "退货运费谁出", 3)[0][0] == "ac1"
    assert index.search(a, "How long for Alipay refunds?", 3)[0][0] == "ac3"


def test_keyword_search_never_crosses_workspaces(keywords: tuple[KeywordIndex, str, str]) -> None:
    index, a, b = keywords
    assert {cid for cid, _ in index.search(b, "退货 保修 refunds", 10)} == {"bc1", "bc2", "bc3"}
    assert all(cid.startswith("a") for cid, _ in index.search(a, "退货 保修 refunds", 10))


def test_keyword_search_survives_query_syntax_and_injection(keywords: tuple[KeywordIndex, str, str]) -> None:
    index, a, _ = keywords
    for query in ['"unbalanced', "NEAR(退货 AND", "'; DROP TABLE chunks; --", "***", '退货"OR"1']:
        index.search(a, query, 5)  # no exception
    assert index.search(a, "的 了 吗", 5) == []  # only stop words


def test_keyword_removal_and_restriction(keywords: tuple[KeywordIndex, str, str]) -> None:
    index, a, _ = keywords
    assert [cid for cid, _ in index.search(a, "保修 退货", 5, restrict_to={"ac2"})] == ["ac2"]
    index.remove(a, ["ac1"])
    assert all(cid != "ac1" for cid, _ in index.search(a, "退货", 5))


def test_term_weights_favour_rare_terms(keywords: tuple[KeywordIndex, str, str]) -> None:
    index, a, _ = keywords
    weights = index.search_weighted(a, "退货 alipay 不存在的词", 5)[1]
    assert set(weights) == {"退货", "alipay"}
    assert all(w > 0 for w in weights.values())
    for query, restrict in (("退货 alipay 不存在的词", None), ("保修 退货", {"ac2"})):
        assert index.search_weighted(a, query, 5, restrict)[0] == index.search(a, query, 5, restrict)


def test_a_word_jieba_guessed_beside_another_is_searched_as_the_known_word_in_it(
    keywords: tuple[KeywordIndex, str, str],
) -> None:
    index, a, _ = keywords
    index.add([Chunk("ac4", a, "doc_a", 1, "KB", "- 银卡：在网满 2 年，或月均消费不低于 99 元。")])
    hits, weights = index.search_weighted(a, "银卡要什么条件", 5)  # jieba reads 银卡要 / 条件
    assert set(weights) == {"银卡"}
    assert [cid for cid, _ in hits] == ["ac4"]


def test_one_workspaces_terms_never_change_anothers_statistics(
    keywords: tuple[KeywordIndex, str, str],
) -> None:
    index, a, b = keywords
    before = (index.search(a, "退货 保修", 3), index.search_weighted(a, "退货 蓝牙耳机", 1)[1])
    index.add([Chunk(f"bx{i}", b, "doc_b", 0, "KB", "蓝牙耳机 退货 退货 保修") for i in range(20)])
    assert (index.search(a, "退货 保修", 3), index.search_weighted(a, "退货 蓝牙耳机", 1)[1]) == before
    assert "耳机" in index.search_weighted(b, "蓝牙耳机", 1)[1]


def _vector_index(database: Database) -> VectorIndex:
    """The backend's own: pgvector's HNSW index in PostgreSQL, numpy over SQLite's rows."""
    if isinstance(database, PgDatabase):
        return PgVectorIndex(database, dim=4)
    return NumpyVectorIndex(database, dim=4)


@pytest.fixture
def vectors(connect: Connect) -> tuple[VectorIndex, Database, str, str]:
    database = connect()
    a, b = _two_workspaces(database)
    return _vector_index(database), database, a, b


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_vector_search_ranks_by_cosine_within_a_workspace(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    index, _, a, b = vectors
    index.add(a, ["ac1", "ac2", "ac3"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(1, 1, 0, 0)]))
    index.add(b, ["bc1"], np.vstack([_unit(1, 0, 0, 0)]))
    hits = index.search(a, _unit(1, 0.1, 0, 0), 2)
    assert [cid for cid, _ in hits] == ["ac1", "ac3"]
    assert index.count(b) == 1
    assert {cid for cid, _ in index.search(b, _unit(1, 0, 0, 0), 5)} == {"bc1"}


def test_vectors_persist_and_removed_ones_are_gone_after_reload(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    index, database, a, _ = vectors
    index.add(a, ["ac1", "ac2"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    index.remove(a, ["ac1"])
    reloaded = _vector_index(database)
    assert [cid for cid, _ in reloaded.search(a, _unit(1, 0, 0, 0), 5)] == ["ac2"]
    assert reloaded.scores(a, _unit(0, 1, 0, 0), ["ac1", "ac2"]) == pytest.approx({"ac2": 1.0})


def test_the_mean_vector_counts_only_this_workspaces_chunks_that_have_one(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    index, _, a, b = vectors
    index.add(a, ["ac1", "ac2"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    index.add(b, ["bc3"], np.vstack([_unit(0, 0, 1, 0)]))
    found = index.mean(a, ["ac1", "ac2", "ac3", "bc3"])
    assert found is not None
    mean, count = found
    assert count == 2
    assert mean == pytest.approx([0.5, 0.5, 0.0, 0.0])
    assert index.mean(a, ["ac3"]) is None
    assert index.mean(a, []) is None


def test_vectors_for_deleted_chunks_are_not_added(vectors: tuple[VectorIndex, Database, str, str]) -> None:
    index, _, a, _ = vectors
    index.add(a, ["ac1", "gone"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    assert index.count(a) == 1


def test_vector_search_can_be_restricted(vectors: tuple[VectorIndex, Database, str, str]) -> None:
    index, _, a, _ = vectors
    index.add(a, ["ac1", "ac2"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    assert [cid for cid, _ in index.search(a, _unit(1, 0, 0, 0), 5, restrict_to={"ac2"})] == ["ac2"]


def test_vectors_written_by_another_process_are_seen_without_a_restart(
    vectors: tuple[VectorIndex, Database, str, str], connect: Connect
) -> None:
    """`zhiwen ingest` in one process while `zhiwen serve` runs in another: the server sees new vectors."""
    server_index, _, a, _ = vectors
    server_index.add(a, ["ac1"], np.vstack([_unit(1, 0, 0, 0)]))
    assert server_index.count(a) == 1
    other = connect()  # a second connection, as a second process would have
    _vector_index(other).add(a, ["ac2"], np.vstack([_unit(0, 1, 0, 0)]))
    other.close()
    assert [cid for cid, _ in server_index.search(a, _unit(0, 1, 0, 0), 1)] == ["ac2"]


def test_vectors_replaced_or_removed_by_another_process_are_seen(
    vectors: tuple[VectorIndex, Database, str, str], connect: Connect
) -> None:
    """The worker process re-embeds a changed chunk and removes a deleted one; the server, which reads
    only newer rows after another process wrote, must see both."""
    server_index, _, a, _ = vectors
    server_index.add(a, ["ac1", "ac2"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    assert [cid for cid, _ in server_index.search(a, _unit(1, 0, 0, 0), 1)] == ["ac1"]
    other = connect()
    worker_index = _vector_index(other)
    worker_index.add(a, ["ac1"], np.vstack([_unit(0, 0, 1, 0)]))
    [(found, score)] = server_index.search(a, _unit(0, 0, 1, 0), 1)
    assert found == "ac1" and score == pytest.approx(1.0)
    worker_index.remove(a, ["ac2"])
    other.close()
    assert server_index.count(a) == 1
    assert [cid for cid, _ in server_index.search(a, _unit(0, 1, 0, 0), 5)] == ["ac1"]


def test_a_chunk_scores_by_its_closest_sentence_within_its_own_workspace(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    index, _, a, b = vectors
    index.add_sentences(
        a, ["ac1", "ac2"], [np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]), _unit(0, 0, 1, 0)[None]]
    )
    index.add_sentences(b, ["bc1"], [_unit(0, 1, 0, 0)[None]])
    scores = index.sentence_scores(a, _unit(0, 1, 0, 0), ["ac1", "ac2", "ac3", "bc1"])
    assert scores == pytest.approx({"ac1": 1.0, "ac2": 0.0}, abs=1e-3)  # float16 storage
    index.add_sentences(a, ["ac1"], [_unit(0, 0, 0, 1)[None]])  # re-embedding replaces
    assert index.sentence_scores(a, _unit(0, 1, 0, 0), ["ac1"]) == pytest.approx({"ac1": 0.0}, abs=1e-3)


def test_sentence_vectors_go_with_their_chunk(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    index, database, a, _ = vectors
    index.add_sentences(a, ["ac1", "ac2", "gone"], [_unit(1, 0, 0, 0)[None]] * 3)
    index.remove(a, ["ac1"])
    SqliteDocumentStore(database).delete_document(a, "doc_a")  # ac2 goes with its document
    assert index.sentence_scores(a, _unit(1, 0, 0, 0), ["ac1", "ac2", "gone"]) == {}


def test_a_document_deleted_by_another_process_takes_its_vectors_out_of_the_search(
    vectors: tuple[VectorIndex, Database, str, str], connect: Connect
) -> None:
    """Deleting a document removes its chunks' vectors by cascade, without the vector index being called."""
    server_index, _, a, _ = vectors
    server_index.add(a, ["ac1", "ac2"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]))
    assert server_index.count(a) == 2
    other = connect()
    SqliteDocumentStore(other).delete_document(a, "doc_a")
    other.close()
    assert server_index.count(a) == 0 and server_index.search(a, _unit(1, 0, 0, 0), 5) == []


def test_postgresql_ranks_exactly_as_fts5(tmp_path: Path, postgres_url: str) -> None:
    """The same chunks in both backends: every query gets the same chunks with the same BM25 scores."""
    files = sorted((Path(__file__).parents[2] / "src/zhiwen/sample_kb").rglob("*.md"))
    blocks = [
        (path.stem, block) for path in files for block in path.read_text().split("\n\n") if block.strip()
    ]
    chunks = [Chunk(f"x{i}", "", "doc", 0, title, block) for i, (title, block) in enumerate(blocks)]
    questions = (
        "退货运费谁出",
        "扫地机器人保修多久",
        "how long do refunds take",
        "会员 积分 有效期",
        "R7 电池",
    )
    found = []
    for database in (Database(tmp_path / "fts5.sqlite3"), PgDatabase(postgres_url)):
        workspace = SqliteWorkspaceStore(database).create_workspace("kb").id
        placed = [dataclasses.replace(c, workspace_id=workspace) for c in chunks]
        SqliteDocumentStore(database).replace_document(
            Document("doc", workspace, "kb", "KB", "h", (), 0, "t", "t"), placed
        )
        index = PgKeywordIndex(database) if isinstance(database, PgDatabase) else SqliteKeywordIndex(database)
        index.add(placed)
        found.append([index.search_weighted(workspace, q, 10) for q in questions])
        database.close()
    assert len(chunks) > 100
    for (fts5_hits, fts5_weights), (pg_hits, pg_weights) in zip(*found, strict=True):
        assert [c for c, _ in pg_hits] == [c for c, _ in fts5_hits]
        assert [s for _, s in pg_hits] == pytest.approx([s for _, s in fts5_hits], rel=1e-9)
        assert pg_weights == pytest.approx(fts5_weights, rel=1e-9)


def test_common_terms_are_left_out_only_where_the_top_k_stays_the_same(connect: Connect) -> None:
    """The pruned search (common terms read only next to chunks that hold a rarer one) returns exactly what
    reading every posting returns: words of Zipf-like frequencies, texts repeated (equal scores must be
    cut alike at the k-th place), short chunks that say a common word many times (where BM25's ceiling
    is nearly reached), ids in no particular order."""
    random = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(150)]
    frequency = 1 / np.arange(1, 151) ** 0.9
    texts = [
        " ".join(random.choice(vocabulary, size, p=frequency / frequency.sum()))
        for size in random.integers(4, 60, 400)
    ]
    texts += [texts[i] for i in random.integers(0, 400, 40)]  # the same text again
    texts += [
        " ".join([vocabulary[int(common)]] * int(times) + [vocabulary[int(rare)]])
        for common, times, rare in zip(
            random.integers(1, 12, 40), random.integers(5, 20, 40), random.integers(40, 80, 40), strict=True
        )
    ]
    order = random.permutation(len(texts))
    database = connect()
    workspace = SqliteWorkspaceStore(database).create_workspace("zipf").id
    chunks = [
        Chunk(f"z{random.integers(16**8):08x}", workspace, "doc", int(i), "KB", texts[i]) for i in order
    ]
    SqliteDocumentStore(database).replace_document(
        Document("doc", workspace, "kb", "KB", "h", (), 0, "t", "t"), chunks
    )
    index = PgKeywordIndex if isinstance(database, PgDatabase) else SqliteKeywordIndex
    pruned, whole = index(database, probe_postings=0), index(database, probe_postings=10**9)
    pruned.add(chunks)
    queries = [" ".join(random.choice(vocabulary[1:80], 5, replace=False)) for _ in range(40)]
    queries += [
        f"{vocabulary[int(c)]} {vocabulary[int(r)]}" for c, r in zip(range(1, 12), range(40, 51), strict=True)
    ]
    left_out = 0
    for query in queries:
        for k in (1, 3, 5, 20):
            expected = whole.search(workspace, query, k)
            found = pruned.search(workspace, query, k)
            assert [c for c, _ in found] == [c for c, _ in expected], (query, k)
            assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9)
        terms = query_terms(query)
        left_out += pruned._top_pruned(workspace, terms, pruned._statistics(workspace, terms), 5) is not None
    assert left_out >= len(queries) // 2  # the pruned way was taken, not only the fallback
    database.close()


def test_rare_terms_held_by_the_same_few_chunks_give_no_floor(connect: Connect) -> None:
    """Two rare terms in the same three chunks count six postings but only three chunks: fewer than k,
    so they give no floor, and the common term must still fill the rest of the top k."""
    database = connect()
    workspace = SqliteWorkspaceStore(database).create_workspace("floor").id
    texts = ["alpha beta gamma"] * 3 + [" ".join(["gamma"] * (1 + i % 4) + ["filler"] * i) for i in range(20)]
    texts += ["delta epsilon"] * 40  # gamma stays in fewer than half the chunks
    chunks = [Chunk(f"c{i:03d}", workspace, "doc", i, "KB", text) for i, text in enumerate(texts)]
    SqliteDocumentStore(database).replace_document(
        Document("doc", workspace, "kb", "KB", "h", (), 0, "t", "t"), chunks
    )
    index = PgKeywordIndex if isinstance(database, PgDatabase) else SqliteKeywordIndex
    pruned, whole = index(database, probe_postings=6), index(database, probe_postings=10**9)
    pruned.add(chunks)
    expected = whole.search(workspace, "alpha beta gamma", 5)
    assert len(expected) == 5
    found = pruned.search(workspace, "alpha beta gamma", 5)
    assert [c for c, _ in found] == [c for c, _ in expected]
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9)
    database.close()


def test_a_small_workspace_among_many_rows_still_gets_its_nearest(
    vectors: tuple[VectorIndex, Database, str, str],
) -> None:
    """An approximate index over every workspace's rows may run out of one workspace's before it finds
    k of them: the search must still return them all, nearest first."""
    index, database, a, b = vectors
    SqliteDocumentStore(database).replace_document(
        Document("doc_many", b, "many.md", "Many", "h", (), 0, "t", "t"),
        [Chunk(f"bx{i}", b, "doc_many", i, "Many", f"passage {i}") for i in range(300)],
    )
    many = np.random.default_rng(7).normal(size=(300, 4)).astype(np.float32)
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    index.add(b, [f"bx{i}" for i in range(300)], many)
    index.add(a, ["ac1", "ac2", "ac3"], np.vstack([_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(1, 1, 0, 0)]))
    assert [cid for cid, _ in index.search(a, _unit(1, 0.1, 0, 0), 3)] == ["ac1", "ac3", "ac2"]
    assert len(index.search(b, _unit(0, 0, 1, 0), 50)) == 50


def test_postgresql_searches_with_pgvectors_hnsw_index(postgres_url: str) -> None:
    database = PgDatabase(postgres_url)
    a, _ = _two_workspaces(database)
    SqliteDocumentStore(database).replace_document(
        Document("doc_many", a, "many.md", "Many", "h", (), 0, "t", "t"),
        [Chunk(f"ax{i}", a, "doc_many", i, "Many", f"passage {i}") for i in range(2000)],
    )
    many = np.random.default_rng(7).normal(size=(2000, 4)).astype(np.float32)
    many /= np.linalg.norm(many, axis=1, keepdims=True)
    index = PgVectorIndex(database, dim=4)
    index.add(a, [f"ax{i}" for i in range(2000)], many)
    with database.reading() as conn:
        conn.execute("ANALYZE vectors")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT chunk_id FROM vectors WHERE workspace_id = ? AND vector_dims(embedding) = 4"
                " ORDER BY embedding::vector(4) <#> CAST(? AS vector(4)) LIMIT 5",
                (a, "[1,0,0,0]"),
            )
        )
    assert "vectors_hnsw_4" in plan
    exact = np.argsort(-(many @ _unit(1, 0, 0, 0)))[:5]
    assert [cid for cid, _ in index.search(a, _unit(1, 0, 0, 0), 5)] == [f"ax{i}" for i in exact]
    database.close()


def test_postgresql_keeps_its_keyword_statistics_exact_through_changes(postgres_url: str) -> None:
    """Counts and document frequencies are moved by each add and remove rather than counted per question:
    after re-indexing and removing, they must equal a count from scratch."""
    database = PgDatabase(postgres_url)
    a, b = _two_workspaces(database)
    index = PgKeywordIndex(database)
    index.add([Chunk(f"ax{i}", a, "doc_a", i, "KB", "退货 保修 退货 蓝牙耳机") for i in range(5)])
    index.add([Chunk("ax1", a, "doc_a", 1, "KB", "发票 开具")])  # indexed again: its terms change
    index.remove(a, ["ax2", "ax3", "not-indexed"])
    index.add([Chunk("bx0", b, "doc_b", 0, "KB", "退货")])

    def statistics() -> list[tuple[object, ...]]:
        with database.reading() as conn:
            return [
                tuple(r)
                for table in ("keyword_stats", "keyword_terms")
                for r in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            ]

    kept = statistics()
    with database.transaction() as conn:
        recount(conn, a)
        recount(conn, b)
    assert statistics() == kept and "退货" in index.search_weighted(a, "退货 发票", 1)[1]
    database.close()
