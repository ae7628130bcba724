"""The desk under load, through a real `zhiwen serve` process on 127.0.0.1.

1. Reply to screen: ``--conversations`` customers (default 200) each hold an open event stream; an
   agent replies to every one of them, one after another; the figure is the time from sending the
   reply to the customer's stream delivering it (p50, p95, max).
2. Open streams: ``--streams`` more event streams (default 1,000) held open at once, with the server
   process's resident memory before and after.
3. Webhook deliveries per second: ``--webhooks`` events (default 2,000) delivered to a receiver on
   127.0.0.1 by the webhook worker of one process.

    python -m benchmarks.desk [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import cli, machine, percentile, process_rss_mb, start_server
from zhiwen.adapters.secret_box import FernetSecretBox, new_key
from zhiwen.services.desk.webhooks import WebhookService
from zhiwen.services.trust.privacy import PrivacyPolicy
from zhiwen.stores.sqlite.db import Database
from zhiwen.stores.sqlite.webhooks import SqliteWebhookStore
from zhiwen.stores.sqlite.workspaces import SqliteWorkspaceStore


async def _stream(
    client: httpx.AsyncClient,
    conversation: str,
    headers: dict[str, str],
    arrived: dict[str, float],
    ready: asyncio.Event,
) -> None:
    async with client.stream("GET", f"/v1/conversations/{conversation}/events", headers=headers) as response:
        ready.set()
        async for line in response.aiter_lines():
            if line.startswith("data:") and '"author":"agent"' in line.replace(" ", ""):
                arrived[conversation] = time.perf_counter()
                return


async def reply_to_screen(base: str, client_key: str, agent_key: str, count: int) -> dict[str, Any]:
    customer = {"Authorization": f"Bearer {client_key}"}
    agent = {"Authorization": f"Bearer {agent_key}"}
    limits = httpx.Limits(max_connections=count + 20, max_keepalive_connections=count + 20)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        conversations = []
        for _ in range(count):
            started = (await client.post("/v1/conversations", headers=customer)).json()["conversation_id"]
            await client.post(
                f"/v1/conversations/{started}/human", headers=customer, json={"message": "请人工帮我看看订单"}
            )
            conversations.append(started)
        arrived: dict[str, float] = {}
        readies = [asyncio.Event() for _ in conversations]
        tasks = [
            asyncio.create_task(_stream(client, c, customer, arrived, r))
            for c, r in zip(conversations, readies, strict=True)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        await asyncio.sleep(1.0)  # every stream has read its backlog and waits
        sent: dict[str, float] = {}
        for conversation in conversations:
            sent[conversation] = time.perf_counter()
            response = await client.post(
                f"/v1/desk/conversations/{conversation}/reply",
                headers=agent,
                json={"text": "您好，我来帮您查"},
            )
            response.raise_for_status()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    latencies = sorted((arrived[c] - sent[c]) * 1000 for c in conversations)
    return {
        "open_conversations": count,
        "reply_to_screen_ms_p50": round(percentile(latencies, 50), 1),
        "reply_to_screen_ms_p95": round(percentile(latencies, 95), 1),
        "reply_to_screen_ms_max": round(latencies[-1], 1),
    }


async def open_streams(base: str, client_key: str, count: int, pid: int) -> dict[str, Any]:
    customer = {"Authorization": f"Bearer {client_key}"}
    limits = httpx.Limits(max_connections=count + 20, max_keepalive_connections=count + 20)
    before = process_rss_mb(pid)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        conversation = (await client.post("/v1/conversations", headers=customer)).json()["conversation_id"]
        readies = [asyncio.Event() for _ in range(count)]
        never: dict[str, float] = {}
        tasks = [asyncio.create_task(_stream(client, conversation, customer, never, r)) for r in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=120)
        await asyncio.sleep(2.0)
        after = process_rss_mb(pid)
        health = await client.get("/healthz")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "open_streams": count,
        "server_rss_mb_before": round(before, 1),
        "server_rss_mb_with_streams": round(after, 1),
        "kb_per_stream": round((after - before) * 1024 / count, 1),
        "health_while_open": health.status_code,
    }


def webhook_rate(count: int) -> dict[str, Any]:
    received = 0

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            nonlocal received
            self.rfile.read(int(self.headers["content-length"]))
            received += 1
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "hooks.sqlite3")
        with db.transaction() as conn:
            conn.execute("INSERT INTO workspaces (id, name, created_at) VALUES ('ws_b', 'b', 't')")
        privacy = PrivacyPolicy(SqliteWorkspaceStore(db))
        hooks = WebhookService(SqliteWebhookStore(db), FernetSecretBox([new_key()]), privacy)
        hooks.add("ws_b", f"http://127.0.0.1:{server.server_address[1]}/hook", ["message"])
        for n in range(count):
            hooks.emit("ws_b", "message", {"n": n, "text": "您好" * 20})
        started = time.perf_counter()
        while hooks.deliver_due():
            pass
        elapsed = time.perf_counter() - started
        db.close()
    server.shutdown()
    server.server_close()
    return {"webhook_events": count, "delivered": received, "deliveries_per_s": round(received / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        cli(data, "init", "--json")
        client_key = cli(data, "key", "create", "--role", "client", "--name", "bench", "--json")["secret"]
        agent_key = cli(data, "key", "create", "--role", "agent", "--name", "alice", "--json")["secret"]
        server, base = start_server(data)
        try:
            results: dict[str, Any] = {"machine": machine()}
            results |= asyncio.run(reply_to_screen(base, client_key, agent_key, args.conversations))
            results |= asyncio.run(open_streams(base, client_key, args.streams, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=30)
    results |= webhook_rate(args.webhooks)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name:32} {value}")


if __name__ == "__main__":
    main()
