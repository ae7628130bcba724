"""Recommenders: quality on a time-based split, training time, serving latency over HTTP, and how soon a
new event shows.

    python -m benchmarks.recommend                         # the synthetic shop (2,000 users, 600 items)
    python -m benchmarks.recommend --users 41000 --items 3000   # about 1M events
    python -m benchmarks.recommend DIR                     # DIR/catalog.csv and DIR/events.csv in the
                                                           # documented formats (MovieLens movies/ratings)

Everything goes through the product: files are imported by ``CatalogService``, ``zhiwen recommend train``'s
service searches on a validation period and reports the test period (the last 20 % of events), and
requests go to a real server on 127.0.0.1. Item embeddings are timed apart from training: they are computed
once per item text and kept.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import machine, percentile, serving
from zhiwen.config import Settings
from zhiwen.sample_shop import ShopSettings, write
from zhiwen.wiring import Services, build_services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path, nargs="?", help="a folder with catalog.csv and events.csv")
    parser.add_argument("--users", type=int, default=2000, help="synthetic shop: customers")
    parser.add_argument("--items", type=int, default=600, help="synthetic shop: items")
    parser.add_argument("--requests", type=int, default=500, help="GET /v1/recommendations to time")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="zhiwen-recommend-"))
    if args.dataset:
        catalog, events_file = args.dataset / "catalog.csv", args.dataset / "events.csv"
    else:
        catalog, events_file = write(folder / "shop", ShopSettings(users=args.users, items=args.items))
    # one client sends every request here: the per-key limit (600/minute) would cut the run short
    services = build_services(Settings(data_dir=folder / "data", rate_limit_per_minute=1_000_000))
    try:
        workspace = services.workspaces.create_workspace("bench")
        services.catalog.import_catalog(workspace.id, catalog.name, catalog.read_bytes())
        started = time.perf_counter()
        imported = services.catalog.import_events(workspace.id, events_file.name, events_file.read_bytes())
        import_s = time.perf_counter() - started
        started = time.perf_counter()
        services.recommenders.item_vectors(workspace.id, services.catalog.items(workspace.id))
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        model = services.recommenders.train(workspace.id, "bench")
        train_s = time.perf_counter() - started
        services.recommenders.promote(workspace.id, model.version, "bench")
        serving = _serve_and_time(services, workspace.id, args.requests)
        figures = {
            "events": imported.added,
            "event_problems": len(imported.problems),
            "users": model.report["users"],
            "items": model.report["items"],
            "import_s": round(import_s, 1),
            "item_embedding_s": round(embed_s, 1),
            "train_s": round(train_s, 1),
            "chosen": {"kind": model.kind, **model.params},
            "split": model.report["split"],
            "validation_ndcg_at_10": {
                **model.report["validation"]["models"],
                "hybrid": model.report["validation"]["hybrid"],
            },
            "test": model.report["test"],
            **serving,
            "machine": machine(),
        }
    finally:
        services.close()
    print(json.dumps(figures, ensure_ascii=False, indent=2))


def _serve_and_time(services: Services, workspace_id: str, requests: int) -> dict[str, Any]:
    """p50/p95 of GET /v1/recommendations for random known users, and the time from POST /v1/events to
    a GET that no longer recommends the item just bought."""
    key = {"Authorization": f"Bearer {services.keys.issue(workspace_id, 'bench', 'client').plain}"}
    users = sorted({e.user_id for e in services.catalog.events(workspace_id)})
    chosen = random.Random(0).choices(users, k=requests)
    latencies: list[float] = []
    shown_s: list[float] = []
    with serving(services) as url, httpx.Client(base_url=url, headers=key, timeout=30) as client:
        client.get("/v1/recommendations", params={"user": chosen[0]}).raise_for_status()  # loads the model
        for user in chosen:
            started = time.perf_counter()
            client.get("/v1/recommendations", params={"user": user, "k": 10}).raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
        for user in chosen[:50]:
            top = client.get("/v1/recommendations", params={"user": user}).json()["items"][0]["item"]["id"]
            started = time.perf_counter()
            event = {
                "user_id": user,
                "item_id": top,
                "event": "purchase",
                "timestamp": datetime.now(UTC).isoformat(),
            }
            client.post("/v1/events", json={"events": [event]}).raise_for_status()
            after = client.get("/v1/recommendations", params={"user": user}).json()["items"]
            assert top not in {r["item"]["id"] for r in after}, "the new purchase was recommended again"
            shown_s.append(time.perf_counter() - started)
    return {
        "requests": len(latencies),
        "recommend_p50_ms": round(percentile(latencies, 50), 1),
        "recommend_p95_ms": round(percentile(latencies, 95), 1),
        "event_to_changed_recommendations_s": {
            "max": round(max(shown_s), 3),
            "p95": round(percentile(shown_s, 95), 3),
        },
    }


if __name__ == "__main__":
    main()
