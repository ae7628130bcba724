from __future__ import annotations

from zhiwen.services.knowledge.fusion import Candidate, reciprocal_rank_fusion, spread_weighted_fusion
from zhiwen.services.lifecycle.metrics import mrr_at_k, ndcg_at_k, recall_at_k


def test_a_keyword_match_that_stands_out_lifts_its_passage() -> None:
    candidates = [
        Candidate("semantic", vector=0.90),
        Candidate("exact", vector=0.89, keyword=9.0, keyword_share=0.9),
    ]
    candidates += [Candidate(f"weak{i}", vector=0.80, keyword=1.0, keyword_share=0.1) for i in range(12)]
    scores = spread_weighted_fusion(candidates)
    assert max(scores, key=scores.__getitem__) == "exact"


def test_keyword_matches_that_tie_leave_the_dense_ranking_alone() -> None:
    candidates = [Candidate("semantic", vector=0.90)]
    candidates += [Candidate(f"tie{i}", vector=0.89, keyword=5.0, keyword_share=0.5) for i in range(12)]
    scores = spread_weighted_fusion(candidates)
    assert max(scores, key=scores.__getitem__) == "semantic"


def test_chunks_without_vectors_are_still_ranked_by_keywords() -> None:
    candidates = [
        Candidate("embedded", vector=0.85),
        Candidate("fresh", keyword=8.0, keyword_share=0.95),
        Candidate("other", keyword=0.5, keyword_share=0.05),
    ]
    scores = spread_weighted_fusion(candidates)
    assert scores["fresh"] > scores["other"]


def test_a_passage_whose_one_sentence_matches_beats_one_that_matches_only_as_a_whole() -> None:
    blurred = Candidate("blurred", vector=0.86, sentence=0.87)  # every sentence a little related
    focused = Candidate("focused", vector=0.85, sentence=0.92)  # one sentence says it, amid others
    scores = spread_weighted_fusion([blurred, focused])
    assert scores["focused"] > scores["blurred"]
    assert focused.dense == (0.85 + 0.92) / 2


def test_without_sentence_vectors_the_passage_cosine_ranks_alone() -> None:
    assert Candidate("old", vector=0.8).dense == 0.8
    assert Candidate("waiting", sentence=0.9).dense is None  # no passage vector: not ranked by meaning
    scores = spread_weighted_fusion(
        [Candidate("old", vector=0.8), Candidate("new", vector=0.7, sentence=0.8)]
    )
    assert scores == {"old": 0.8, "new": 0.75}


def test_reciprocal_rank_fusion_sums_reciprocal_ranks() -> None:
    scores = reciprocal_rank_fusion(
        [Candidate("a", keyword_rank=0, vector_rank=1), Candidate("b", vector_rank=0)]
    )
    assert scores["a"] == 1 / 61 + 1 / 62 and scores["b"] == 1 / 61


def test_ranking_metrics_match_hand_computed_values() -> None:
    qrels = {"d1": 1, "d3": 1}
    ranked = ["d1", "d2", "d3"]
    assert ndcg_at_k(ranked, qrels, 10) == (1 + 1 / 2) / (1 + 1 / 1.584962500721156)
    assert recall_at_k(ranked, qrels, 2) == 0.5
    assert mrr_at_k(["d2", "d3"], qrels) == 0.5
