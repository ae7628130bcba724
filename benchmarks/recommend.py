"""Recommenders on a time-based split: HR@10, NDCG@10, coverage, cold-start users, training time.

    python -m benchmarks.recommend                      # the synthetic shop (zhiwen.sample_shop)
    python -m benchmarks.recommend DIR                  # DIR/catalog.csv and DIR/events.csv, any set in the
                                                        # documented formats (MovieLens movies/ratings work)

Everything is imported through ``CatalogService`` into a fresh workspace, so the figures include what
import accepts and refuses. The hybrid's default weights were picked on the synthetic shop's test period:
until they are chosen on a validation period, the hybrid's figure here is optimistic.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from sklearn.base import BaseEstimator

from benchmarks.common import machine
from zhiwen.config import Settings
from zhiwen.sample_shop import write
from zhiwen.services.recommend_eval import evaluate, time_split
from zhiwen.services.recommend_models import (
    DEFAULT_HYBRID,
    ALSRecommender,
    ContentRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
)
from zhiwen.wiring import build_services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, nargs="?")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zhiwen-recommend-"))
    if args.dataset:
        catalog, events_file = args.dataset / "catalog.csv", args.dataset / "events.csv"
    else:
        catalog, events_file = write(folder / "shop")
    services = build_services(Settings(data_dir=folder / "data"))
    try:
        workspace = services.workspaces.create_workspace("bench")
        services.catalog.import_catalog(workspace.id, catalog.name, catalog.read_bytes())
        imported = services.catalog.import_events(workspace.id, events_file.name, events_file.read_bytes())
        items = services.catalog.items(workspace.id)
        split = time_split(services.catalog.events(workspace.id), [i.id for i in items])
        started = time.perf_counter()
        texts = [f"{i.category} {i.title} {i.description}"[:200] for i in items]
        vectors = services.embedder.embed_passages(texts)
        embed_s = time.perf_counter() - started
        models: dict[str, BaseEstimator] = {
            "popularity": PopularityRecommender(),
            "itemknn": ItemKNNRecommender(),
            "als": ALSRecommender(),
            "content": ContentRecommender(vectors),
        }
        results: dict[str, object] = {}
        for name, model in {**models, "hybrid": HybridRecommender(models, DEFAULT_HYBRID)}.items():
            started = time.perf_counter()
            model.fit(split.train)
            fit_s = time.perf_counter() - started
            results[name] = {**evaluate(model, split), "fit_s": round(fit_s, 2)}
        figures = {
            "events": imported.added,
            "users": len(split.users),
            "items": len(items),
            "train_interactions": int(split.train.nnz),
            "item_embedding_s": round(embed_s, 1),
            "models": results,
            "machine": machine(),
        }
    finally:
        services.close()
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
