"""serve, and demo (what `make run` does)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import tempfile
import threading
from pathlib import Path

import typer
import uvicorn

from zhiwen.api import create_app
from zhiwen.api.duties import Duties
from zhiwen.api.observability import configure_json_logging
from zhiwen.cli.admin import init
from zhiwen.cli.common import console, err_console, state
from zhiwen.ports import ReviewFilter
from zhiwen.sample_kb import build_sample_kb, golden_path
from zhiwen.sample_reviews import generate, to_csv
from zhiwen.sample_shop import DEMO_PRODUCTS, ShopSettings, rows_csv
from zhiwen.sample_shop import generate as generate_shop
from zhiwen.services.intents.definitions import parse_intent
from zhiwen.services.reviews.sentiment_train import SearchSettings
from zhiwen.web.shop import serve_shop
from zhiwen.wiring import build_background, run_worker, worker_name


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.command()(demo)


def serve(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1; ZHIWEN_HOST)."),
    port: int = typer.Option(None, help="Port (default 8000; ZHIWEN_PORT)."),
    processes: int = typer.Option(
        None,
        min=1,
        max=64,
        help="API processes answering on the port (default 1; ZHIWEN_API_PROCESSES). One per core "
        "answers more questions a second; each holds its own model and vectors (674 MB at 100,000 chunks).",
    ),
    api_only: bool = typer.Option(
        False,
        "--api-only",
        help="Only answer requests: uploads, embeddings, webhooks and retention are left to another "
        "`zhiwen serve` on the same data dir (for several servers behind one load balancer).",
    ),
) -> None:
    """Run the HTTP API, the chat page (/) and the OpenAPI docs (/docs). A worker process ingests uploads
    and computes embeddings meanwhile (ZHIWEN_WORKER=thread keeps them in this process).

    With --processes N, N API processes share the port and this process does the background work. Rate
    limits, live messages, releases, settings and the vector index hold across them (they meet in the
    database)."""
    services = state.services()
    settings = services.settings
    configure_json_logging(logging.INFO)
    host, port = host or settings.host, port or settings.port
    processes = processes or settings.api_processes
    err_console.print(
        f"Zhiwen on http://{host}:{port}  ·  chat: /  ·  API docs: /docs"
        + (f"  ·  {processes} API processes" if processes > 1 else "")
        + ("  ·  API only" if api_only else "")
    )
    if processes == 1:
        background = None if api_only else build_background(services, settings.worker)
        app = create_app(services, background, owner=not api_only)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
        return
    duties = None if api_only else Duties(services, build_background(services, settings.worker))
    with tempfile.TemporaryDirectory(prefix="zhiwen-metrics-") as metrics_dir:
        # The API processes are started afresh by uvicorn and read their settings from the environment.
        os.environ["ZHIWEN_DATA_DIR"] = str(settings.data_dir.resolve())
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        if duties is not None:
            duties.start()
        try:
            uvicorn.run(
                "zhiwen.api.server:api_only_app",
                factory=True,
                host=host,
                port=port,
                workers=processes,
                log_config=None,
                access_log=False,
            )
        finally:
            if duties is not None:
                duties.stop()


def _load_sample_reviews(workspace_id: str) -> None:
    """The demo shop's reviews, with a quick n-gram sentiment model promoted, so analytics show at once."""
    services = state.services()
    if services.reviews.list_reviews(workspace_id, ReviewFilter(limit=1)):
        return
    services.reviews.import_file(workspace_id, "sample-reviews.csv", to_csv(generate()), score=False)
    model = services.sentiment.train(workspace_id, "demo", SearchSettings(candidates=("ngram",)))
    services.sentiment.promote(workspace_id, model.version, "demo")
    services.reviews.score(workspace_id)
    console.print(
        "Sample reviews: 600 imported, sentiment model v1 promoted. Try `zhiwen reviews summary` and "
        "`zhiwen reviews topics --build`."
    )


def _load_sample_shop(workspace_id: str) -> None:
    """A demo catalogue (the knowledge base's products among generated ones) and shoppers' behaviour, with a
    recommender trained and promoted, so recommendations and related products work at once."""
    services = state.services()
    if services.catalog.items(workspace_id):
        return
    items, events = generate_shop(ShopSettings(users=400, items=120, featured=DEMO_PRODUCTS))
    services.catalog.import_catalog(workspace_id, "sample-catalog.csv", rows_csv(items))
    services.catalog.import_events(workspace_id, "sample-events.csv", rows_csv(events))
    model = services.recommenders.train(workspace_id, "demo")
    services.recommenders.promote(workspace_id, model.version, "demo")
    console.print(
        f"Sample shop: {len(items)} items, {len(events):,} events, recommender v{model.version} promoted."
        " Try `zhiwen recommend for u00001`, or `zhiwen config set related_products=3` to show related"
        " products with answers."
    )


def worker(
    threads: int = typer.Option(1, min=1, max=64, help="Jobs run at once in this process."),
    embed: bool = typer.Option(
        True,
        "--embed/--no-embed",
        help="Also embed uploaded chunks (the slow part of ingestion); every embedder on the database "
        "takes different chunks.",
    ),
) -> None:
    """Run uploads, embedding, training, scoring and tuning from Redis (ZHIWEN_REDIS_URL) until stopped
    (Ctrl-C or SIGTERM: the job in hand is finished first). Start one on any machine that reaches the same
    database (ZHIWEN_DATABASE_URL) and Redis; a worker that dies mid-job has its job, and the chunks it
    was embedding, taken by another after ZHIWEN_WORKER_DEAD_AFTER_SECONDS (60 by default). It runs at
    the lower CPU priority ZHIWEN_WORKER_NICE (10), so answers on the same machine stay fast."""
    services = state.services()
    configure_json_logging(logging.INFO)
    os.nice(services.settings.worker_nice)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    err_console.print(
        f"zhiwen worker {worker_name()} waiting for jobs ({threads} at a time"
        + (", embedding between them" if embed else "")
        + "); Ctrl-C stops it"
    )
    try:
        run_worker(services, threads, stop, embed)
    finally:
        services.close()


def demo(
    host: str = typer.Option(None, help="Interface to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    no_serve: bool = typer.Option(
        False, "--no-serve", help="Set up and load the sample knowledge, then exit."
    ),
) -> None:
    """Initialise the store, load the bundled sample shop knowledge base, and serve it."""
    init(as_json=False)
    services = state.services()
    workspace = services.workspaces.get_workspace("default")
    folder = build_sample_kb(Path(services.settings.data_dir) / "sample-kb")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    results = services.ingest.ingest_paths(workspace.id, files, base=folder)
    changed = sum(r.status in ("added", "updated") for r in results)
    failed = [r for r in results if r.status == "failed"]
    console.print(f"Sample knowledge base: {len(results)} files ({changed} new or changed) from {folder}")
    for r in failed:
        err_console.print(f"[red]failed[/] {r.source}: {r.error}")
    if not any(v.name == "demo" for v in services.golden.versions(workspace.id)):
        services.golden.import_bytes(
            workspace.id, "demo", "golden.jsonl", golden_path().read_bytes(), "the demo's golden questions"
        )
        console.print(
            "Golden set 'demo' imported: measure with `zhiwen eval run --golden demo`, then release with "
            "`zhiwen release create --golden demo` and `zhiwen release promote 1`."
        )
    _load_sample_reviews(workspace.id)
    _load_sample_shop(workspace.id)
    host = host or services.settings.host
    port = port or services.settings.port
    shop_port = port + 1
    _demo_intents(workspace.id, f"http://127.0.0.1:{shop_port}")
    pending = services.documents.count_chunks_needing_vectors()
    if pending:
        console.print(f"{pending} chunks will be embedded in the background; keyword search works already.")
    if no_serve:
        with console.status("Embedding…"):
            services.embedding_worker.run_until_done()
        return
    agent_password = _demo_person(workspace.id, DEMO_AGENT, "agent")
    admin_password = _demo_person(workspace.id, DEMO_ADMIN, "admin")
    widget_key, agent_key = _desk_keys(
        workspace.id, [f"http://{host}:{shop_port}", f"http://localhost:{shop_port}"]
    )
    serve_shop(host, shop_port, f"http://{host}:{port}/widget.js", widget_key)
    console.print(
        f"Demo shop with the chat widget: http://{host}:{shop_port}/ (another origin; key {widget_key})\n"
        f"Admin console: http://{host}:{port}/admin  sign in as {DEMO_ADMIN} / {admin_password}\n"
        f"Agent inbox: http://{host}:{port}/desk  sign in as {DEMO_AGENT} / {agent_password}\n"
        f"Agent key for programs (shown only now): curl -H 'Authorization: Bearer {agent_key}' "
        f"http://{host}:{port}/v1/desk/queue",
        soft_wrap=True,  # keys stay on one line, ready to copy
    )
    serve(host=host, port=port)


def _order_tool(shop: str) -> dict[str, object]:
    """The demo shop's order lookup as an intent's tool (:func:`zhiwen.web.shop.demo_order`)."""
    return {
        "url": shop + "/api/orders/{order_number}",
        "reply": {
            "zh": "订单 {order_number}：{status_zh}，{carrier_zh} 运单号 {tracking}，预计 {eta} 送达。",
            "en": "Order {order_number}: {status}, {carrier} tracking number {tracking}, expected on {eta}.",
        },
        "timeout_s": 3,
    }


def _demo_intents(workspace_id: str, shop: str) -> None:
    """The built-in intents, with order_status answered by the demo shop's order lookup; a model trained
    and promoted the first time (the definitions are read per message, so the shop's port may change)."""
    services = state.services()
    intents = []
    for intent in services.intents.definitions(workspace_id):
        if intent.name == "order_status":
            definition = intent.to_dict()
            definition.pop("reply", None)
            intent = parse_intent({**definition, "action": "tool", "tool": _order_tool(shop)})
        intents.append(intent)
    services.intents.replace(workspace_id, intents)
    if services.intents.family.live_version(workspace_id) is None:
        model = services.intents.train(workspace_id, "demo")
        services.intents.promote(workspace_id, model.version, "demo")
        console.print(
            f"Intents: {len(intents)} (greeting, thanks, human, complaint, order_status with the demo shop's"
            f" order lookup), model v{model.version} promoted. Try `zhiwen intents try '我的订单到哪了'`."
        )


DEMO_AGENT = "agent@demo.zhiwen"
DEMO_ADMIN = "admin@demo.zhiwen"


def _demo_person(workspace_id: str, email: str, role: str) -> str:
    """A demo account (the agent, the administrator), with a fresh password each run (printed: it is a
    demo)."""
    users = state.services().users
    password = secrets.token_urlsafe(9)
    existing = next((u for u in users.list(workspace_id) if u.email == email), None)
    if existing is None:
        users.create(workspace_id, email, "Demo", role, password)
    else:
        users.set_password(workspace_id, existing.id, password)
    return password


def _desk_keys(workspace_id: str, origins: list[str]) -> tuple[str, str]:
    """A widget key for the demo shop's origin and an agent key, fresh each run (the last run's revoked)."""
    services = state.services()
    for key in services.workspaces.list_keys(workspace_id):
        if key.name in ("demo-widget", "demo-agent") and key.revoked_at is None:
            services.workspaces.revoke_key(key.id)
    widget = services.keys.issue(workspace_id, "demo-widget", "widget", origins)
    agent = services.keys.issue(workspace_id, "demo-agent", "agent")
    return widget.plain, agent.plain
