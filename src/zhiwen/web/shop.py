"""A demo shop page served from another origin than Zhiwen, with the chat widget embedded in it: what
`zhiwen demo` shows, and what the browser tests load; and the shop's order lookup
(``GET /api/orders/{number}``), which the demo's order_status intent calls as its tool."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources


def shop_page(widget_src: str, widget_key: str) -> bytes:
    page = resources.files("zhiwen.web").joinpath("demo_shop.html").read_text(encoding="utf-8")
    return page.replace("{{WIDGET_SRC}}", widget_src).replace("{{WIDGET_KEY}}", widget_key).encode()


ORDER_PATH = re.compile(r"^/api/orders/(\d{10,20})$")
_STATES = [
    ("paid", "已付款，等待发货"),
    ("shipped", "已发货"),
    ("out_for_delivery", "派送中"),
    ("delivered", "已签收"),
]


def demo_order(number: str) -> dict[str, str] | None:
    """The shop's order system, as far as the demo needs one: an order per number, from a hash of it (none
    for numbers ending in 0, so the failure path can be tried)."""
    if number.endswith("0"):
        return None
    digest = int(hashlib.sha1(number.encode(), usedforsecurity=False).hexdigest(), 16)
    status, status_zh = _STATES[digest % len(_STATES)]
    eta = date(2026, 12, 1) + timedelta(days=digest % 14)
    return {
        "order_number": number,
        "status": status.replace("_", " "),
        "status_zh": status_zh,
        "carrier": "SF Express",
        "carrier_zh": "顺丰速运",
        "tracking": f"SF{digest % 10**12:012d}",
        "eta": eta.isoformat(),
    }


def serve_shop(host: str, port: int, widget_src: str, widget_key: str) -> ThreadingHTTPServer:
    """Serve the page at ``http://host:port/`` in a daemon thread; ``shutdown()`` stops it."""
    body = shop_page(widget_src, widget_key)

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            order = ORDER_PATH.match(self.path.split("?")[0])
            if order is not None:
                self._order(order.group(1))
                return
            if self.path.split("?")[0] not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _order(self, number: str) -> None:
            found = demo_order(number)
            reply = json.dumps(found or {"error": f"no order {number}"}, ensure_ascii=False).encode()
            self.send_response(200 if found else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the API logs what matters
            return

    server = ThreadingHTTPServer((host, port), Page)
    threading.Thread(target=server.serve_forever, daemon=True, name="demo-shop").start()
    return server
