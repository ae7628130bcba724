"""Several API processes on one database: what is changed through one is seen through the other.

Two real `zhiwen serve` processes: A does the background work, B is `--api-only` (as behind a load
balancer). On SQLite they share one data dir; on PostgreSQL each has a data dir of its own, as on two
machines, and they share only the database and the master key. And one `zhiwen serve --processes 2`,
whose processes share a port.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.system.servers import free_port, serve
from zhiwen.adapters.secret_box import new_key as new_master_key

SHOP = "https://shop.example.com"
LIMIT = 40  # requests a minute per key, for every process together
ENV = {"ZHIWEN_RATE_LIMIT_PER_MINUTE": str(LIMIT), "ZHIWEN_METRICS_PUBLIC": "true"}


def _zhiwen(data_dir: Path, *args: str, env: Mapping[str, str] = ENV) -> str:
    return subprocess.run(
        [sys.executable, "-m", "zhiwen", "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    ).stdout


def _key(data_dir: Path, role: str, *extra: str, env: Mapping[str, str] = ENV) -> dict[str, str]:
    made = json.loads(
        _zhiwen(data_dir, "key", "create", "--name", role, "--role", role, *extra, "--json", env=env)
    )
    return {"Authorization": f"Bearer {made['secret']}"}


def _serve(data_dir: Path, port: int, *options: str, env: Mapping[str, str] = ENV) -> subprocess.Popen[bytes]:
    return serve(data_dir, port, *options, env=env)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        raise


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, object]]:
    a_dir = tmp_path_factory.mktemp("two-processes")
    b_dir, env = a_dir, ENV
    if request.param == "postgresql":  # two machines: a data dir each, one database, one master key
        b_dir = tmp_path_factory.mktemp("second-machine")
        url = request.getfixturevalue("postgres_server_url")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE two_machines")
        env = {**ENV, "ZHIWEN_DATABASE_URL": url.rsplit("/", 1)[0] + "/two_machines"}
        env["ZHIWEN_MASTER_KEY"] = new_master_key()
    _zhiwen(a_dir, "init", "--json", env=env)
    keys = {
        "admin": _key(a_dir, "admin", env=env),
        "poller": _key(a_dir, "admin", env=env),  # its own bucket for waiting on the worker
        "agent": _key(a_dir, "agent", env=env),
        "client": _key(a_dir, "client", env=env),
        "widget": {**_key(a_dir, "widget", "--origin", SHOP, env=env), "Origin": SHOP},
    }
    a_port, b_port = free_port(), free_port()
    a = _serve(a_dir, a_port, env=env)
    b = _serve(b_dir, b_port, "--api-only", env=env)
    try:
        yield {
            "a": f"http://127.0.0.1:{a_port}",
            "b": f"http://127.0.0.1:{b_port}",
            # uploads are spooled in the data dir of the server that took them, for A's worker
            "uploads": f"http://127.0.0.1:{a_port if a_dir != b_dir else b_port}",
            "keys": keys,
            "env": env,
            "a_dir": a_dir,
        }
    finally:
        _stop(b)
        _stop(a)


def _stream(url: str, headers: dict[str, str], found: queue.Queue[dict[str, str]]) -> None:
    """Put each server-sent event of ``url`` on ``found``, until the stream ends."""
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=60)) as response:
        block: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if block:
                    found.put(block)
                block = {}
                continue
            name, _, value = line.partition(":")
            block[name] = value.strip()


def test_an_agents_reply_through_one_process_reaches_the_customers_stream_on_the_other(
    site: dict[str, object],
) -> None:
    a, b, keys = site["a"], site["b"], site["keys"]
    assert isinstance(keys, dict)
    started = httpx.post(f"{a}/v1/conversations", headers=keys["widget"]).json()
    conversation = started["conversation_id"]
    visitor = {**keys["widget"], "X-Visitor-Token": started["visitor_token"]}
    asked = httpx.post(f"{a}/v1/conversations/{conversation}/human", headers=visitor, json={}, timeout=30)
    assert asked.json()["state"]["status"] == "waiting"
    events: queue.Queue[dict[str, str]] = queue.Queue()
    url = f"{a}/v1/conversations/{conversation}/events"
    threading.Thread(target=_stream, args=(url, visitor, events), daemon=True).start()
    while events.get(timeout=10).get("event") != "state":  # the stream is open and caught up
        pass
    claimed = httpx.post(f"{b}/v1/desk/conversations/{conversation}/claim", headers=keys["agent"])
    assert claimed.status_code == 200, claimed.text
    sent = time.monotonic()
    reply = httpx.post(
        f"{b}/v1/desk/conversations/{conversation}/reply",
        headers=keys["agent"],
        json={"text": "您好，我来帮您"},
    )
    assert reply.status_code == 201, reply.text
    while True:
        event = events.get(timeout=5)  # a stream rechecks by itself only every 10 s
        if event.get("event") == "message" and json.loads(event["data"])["text"] == "您好，我来帮您":
            break
    assert time.monotonic() - sent < 3


def test_a_keys_rate_limit_holds_for_both_processes_together(site: dict[str, object]) -> None:
    a, b, keys = site["a"], site["b"], site["keys"]
    assert isinstance(keys, dict)
    started = time.monotonic()
    statuses = [
        httpx.get(f"{server}/v1/documents", headers=keys["client"]).status_code
        for _ in range(LIMIT)
        for server in (a, b)
    ]
    refilled = (time.monotonic() - started) * LIMIT / 60  # tokens back while the requests ran
    # Each process counting alone would let all 2 x LIMIT through.
    assert LIMIT <= statuses.count(200) <= LIMIT + refilled + 1
    assert set(statuses) == {200, 429}


def test_knowledge_and_settings_changed_through_one_process_are_used_by_the_other(
    site: dict[str, object],
) -> None:
    a, b, keys = site["a"], site["b"], site["keys"]
    assert isinstance(keys, dict)
    admin = keys["admin"]
    text = "# Pickup\n\nParcels wait at the Harbin pickup point for 7 days before they are returned.\n"
    uploaded = httpx.post(
        f"{site['uploads']}/v1/documents",
        headers=admin,
        files=[("files", ("pickup.md", text.encode()))],
        timeout=60,
    )
    assert uploaded.status_code in (200, 201, 202), uploaded.text
    deadline = time.monotonic() + 60
    while True:  # the upload is ingested and embedded by A's worker; B searches it
        question = {"query": "how long does a parcel wait at pickup"}
        found = httpx.post(f"{b}/v1/search", headers=keys["poller"], json=question, timeout=30).json()
        if found.get("hits") and found["hits"][0]["title"] == "Pickup" and found["hits"][0]["vector_score"]:
            break
        assert time.monotonic() < deadline, found
        time.sleep(1.5)  # at most 40 polls in the minute
    changed = httpx.patch(f"{a}/v1/settings", headers=admin, json={"top_k": "3"}, timeout=30)
    assert changed.status_code == 200, changed.text
    assert httpx.get(f"{b}/v1/settings", headers=admin).json()["top_k"] == 3


def test_a_second_server_doing_the_background_work_refuses_to_start(
    site: dict[str, object], tmp_path: Path
) -> None:
    env, a_dir = site["env"], site["a_dir"]
    assert isinstance(env, dict)
    on_postgresql = "ZHIWEN_DATABASE_URL" in env  # then from another machine: a data dir of its own
    refused = subprocess.run(
        [sys.executable, "-m", "zhiwen", "serve", "--port", str(free_port())],
        env={**os.environ, **env, "ZHIWEN_DATA_DIR": str(tmp_path if on_postgresql else a_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "already does the background work" in refused.stderr + refused.stdout


def test_one_serve_runs_several_api_processes_on_its_port(tmp_path: Path) -> None:
    _zhiwen(tmp_path, "init", "--json")
    admin = _key(tmp_path, "admin")
    port = free_port()
    server = _serve(tmp_path, port, "--processes", "2")
    try:
        tasks = Path(f"/proc/{server.pid}/task").iterdir()
        children = [c for task in tasks for c in (task / "children").read_text().split()]
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"spawn_main" in c for c in commands) >= 3  # 2 API processes and the worker
        base = f"http://127.0.0.1:{port}"
        for _ in range(LIMIT):
            assert httpx.get(f"{base}/v1/documents", headers=admin).status_code == 200
        metrics = httpx.get(f"{base}/metrics").text  # summed over the processes, whichever answers
        line = f'zhiwen_requests_total{{method="GET",route="/v1/documents",status="200"}} {LIMIT}.0'
        assert line in metrics
    finally:
        _stop(server)
