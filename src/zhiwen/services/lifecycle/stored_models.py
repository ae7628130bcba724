"""Trained models as the registry keeps them: pickled by this code, never loaded from a user's upload, and
readable after the code that wrote them moved. Services moved into capability folders (knowledge,
answers, lifecycle, reviews, recommend, trust, accounts); a model pickled before that names its classes
(and functions such as a vectoriser's analyzer) by the old module paths, which are mapped here."""

from __future__ import annotations

import io
import pickle
from typing import Any

# Old module → new module, for every services module that moved in the regrouping.
MOVED = {
    f"zhiwen.services.{old}": f"zhiwen.services.{new}"
    for old, new in {
        "ingest": "knowledge.ingest",
        "ingest_jobs": "knowledge.ingest_jobs",
        "embedding": "knowledge.embedding",
        "retrieve": "knowledge.retrieve",
        "fusion": "knowledge.fusion",
        "rerank": "knowledge.rerank",
        "curated": "knowledge.curated",
        "hit_test": "knowledge.hit_test",
        "learn": "knowledge.learn",
        "answer": "answers.service",
        "answer_choice": "answers.choice",
        "answer_config": "answers.config",
        "confidence": "answers.confidence",
        "extract": "answers.extract",
        "followup": "answers.followup",
        "feedback": "answers.feedback",
        "photos": "answers.photos",
        "golden": "lifecycle.golden",
        "golden_sets": "lifecycle.golden_sets",
        "evaluate": "lifecycle.evaluate",
        "report": "lifecycle.report",
        "release": "lifecycle.release",
        "gate_policy": "lifecycle.gate_policy",
        "model_family": "lifecycle.model_family",
        "tune": "lifecycle.tune",
        "bench": "lifecycle.bench",
        "metrics": "lifecycle.metrics",
        "targets": "lifecycle.targets",
        "reviews": "reviews.service",
        "review_import": "reviews.importer",
        "review_insights": "reviews.insights",
        "review_charts": "reviews.charts",
        "review_models": "reviews.live_models",
        "sentiment_models": "reviews.sentiment_models",
        "sentiment_train": "reviews.sentiment_train",
        "sentiment_release": "reviews.sentiment_release",
        "topics": "reviews.topics",
        "recommend": "recommend.service",
        "recommend_eval": "recommend.evaluate",
        "recommend_models": "recommend.models",
        "recommend_release": "recommend.release",
        "recommend_train": "recommend.train",
        "catalog": "recommend.catalog",
        "audit": "trust.audit",
        "privacy": "trust.privacy",
        "customer_data": "trust.customer_data",
        "secrets": "trust.secrets",
        "backup_check": "trust.backup_check",
        "keys": "accounts.keys",
        "users": "accounts.users",
    }.items()
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get(module, module), name)


def dump_model(model: object) -> bytes:
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def load_model(blob: bytes) -> Any:
    """A model this code (or an earlier version of it) pickled into the registry."""
    return _Unpickler(io.BytesIO(blob)).load()
