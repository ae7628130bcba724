"""A demo shop page served from another origin than Zhiwen, with the chat widget embedded in it: what
`zhiwen demo` shows, and what the browser tests load."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources


def shop_page(widget_src: str, widget_key: str) -> bytes:
    page = resources.files("zhiwen.web").joinpath("demo_shop.html").read_text(encoding="utf-8")
    return page.replace("{{WIDGET_SRC}}", widget_src).replace("{{WIDGET_KEY}}", widget_key).encode()


def serve_shop(host: str, port: int, widget_src: str, widget_key: str) -> ThreadingHTTPServer:
    """Serve the page at ``http://host:port/`` in a daemon thread; ``shutdown()`` stops it."""
    body = shop_page(widget_src, widget_key)

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the API logs what matters
            return

    server = ThreadingHTTPServer((host, port), Page)
    threading.Thread(target=server.serve_forever, daemon=True, name="demo-shop").start()
    return server
