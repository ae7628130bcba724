"""The FastAPI application factory. Services are built by the caller and passed in: no global state."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

import zhiwen
from zhiwen.api import audit
from zhiwen.api.body_limit import BodyLimit
from zhiwen.api.cors import WidgetCors
from zhiwen.api.deps import customer_key
from zhiwen.api.docs_page import add_docs_page, inline_script_hashes
from zhiwen.api.duties import Duties
from zhiwen.api.observability import Metrics, RateLimiter
from zhiwen.api.openapi_schema import tidy_openapi
from zhiwen.api.routes import (
    accounts,
    ask,
    catalog,
    conversations,
    desk,
    documents,
    health,
    intents,
    lifecycle,
    openai_compat,
    quality,
    recommend,
    reviews,
    table_models,
    trust,
    vision,
)
from zhiwen.api.schemas import ErrorResponse
from zhiwen.api.signals import Signals
from zhiwen.errors import NotFound, TooLarge, ZhiwenError
from zhiwen.ports import Background
from zhiwen.wiring import Services, build_background

log = logging.getLogger("zhiwen.http")


# Pages carry no scripts but the chat page's own (allowed by its hash), load nothing from elsewhere and
# cannot be framed: a planted passage or question shown in a report or the chat cannot run or phish.
# Images come from this server only (the photos customers sent, shown in the desk).
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


PUBLIC_PATHS = frozenset({"/v1/auth/sign-in"})  # the only /v1 route that needs no key or session


# What any route may answer besides its own success, all in the one error shape (schemathesis checks
# every response against this).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "The request could not be read",
        401: "No key, or an unknown or revoked one",
        403: "The key's role may not do this",
        404: "No such thing in this workspace",
        409: "In conflict with the current state (the message says which)",
        413: "Over a size limit",
        415: "A file type Zhiwen cannot read",
        422: "Invalid input (the message names the field)",
        429: "Rate limited; see Retry-After",
        503: "A backend (store, model server) is unavailable",
    }.items()
}


def _error(status: int, code: str, message: str, details: object = None) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _add_page(app: FastAPI, path: str, page: str) -> None:
    """Serve one of Zhiwen's pages: its own inline script allowed by hash, talking only to this server."""
    policy = f"{_PAGE_POLICY}; script-src {inline_script_hashes(page)}; connect-src 'self'"

    def show() -> HTMLResponse:
        return HTMLResponse(page, headers={"content-security-policy": policy})

    app.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse, include_in_schema=False)


_CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_ASSET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _add_console(app: FastAPI) -> None:
    """The admin console: a page and its ES modules and stylesheet, all served from the package (no build
    step, no CDN), calling the same /v1 API as programs do."""
    folder = resources.files("zhiwen.web").joinpath("console")
    page = folder.joinpath("index.html").read_bytes()
    assets = {
        item.name: (item.read_bytes(), _ASSET_TYPES[Path(item.name).suffix])
        for item in folder.iterdir()
        if Path(item.name).suffix in _ASSET_TYPES
    }
    headers = {"content-security-policy": _CONSOLE_POLICY, "cache-control": "no-cache"}

    def console_page() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    def console_asset(name: str) -> Response:
        if name not in assets:
            raise NotFound(f"no console file {name!r}")
        body, media_type = assets[name]
        return Response(body, media_type=media_type, headers={"cache-control": "no-cache"})

    app.add_api_route("/admin", console_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/admin/{name}", console_asset, methods=["GET"], include_in_schema=False)


CHANGES_POLL_S = 0.3  # how soon a stream here learns of a message another process wrote


async def _relay_desk_changes(services: Services, signals: Signals) -> None:
    """Wake this process's event streams for the conversations other processes changed (the desk's
    change feed): a reply an agent sent through one API process reaches a customer connected to another."""
    after: int | None = None
    while True:
        try:
            after, changed = await run_in_threadpool(services.desk.changes_elsewhere, after)
        except Exception:
            log.exception("desk change feed: cannot read it")
        else:
            for workspace_id, conversation_id in changed:
                signals.notify(workspace_id, conversation_id)
        await asyncio.sleep(CHANGES_POLL_S)


def create_app(
    services: Services,
    background: Background | None = None,
    run_embedding_worker: bool = True,
    owner: bool = True,
) -> FastAPI:
    """The API over ``services``. ``background`` runs queued uploads and embeddings: by default a thread
    of this process (embedding too unless ``run_embedding_worker`` is False); `zhiwen serve` passes a
    worker process. ``owner``: this process also does what one process per database must
    (:mod:`zhiwen.api.duties`); False for API processes beside one that does."""
    signals = Signals()
    if not owner:
        if background is not None:
            raise ValueError("an API-only app runs no background work: pass no background")
        background = build_background(services, "elsewhere")
    background = background or build_background(services, "thread", embed=run_embedding_worker)
    duties = Duties(services, background) if owner else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        signals.bind(asyncio.get_running_loop())
        services.desk.listeners.append(signals.notify)
        relay = asyncio.create_task(_relay_desk_changes(services, signals))
        if duties is not None:
            duties.start()
        yield
        relay.cancel()
        if duties is not None:
            await run_in_threadpool(duties.stop)
        services.desk.listeners.remove(signals.notify)

    app = FastAPI(
        title="Zhiwen API",
        version=zhiwen.__version__,
        description=(
            "Self-hosted bilingual customer-service assistant. Every `/v1` call but sign-in needs an API "
            "key (`Authorization: Bearer zw_…`) or a signed-in session (cookie plus `X-CSRF-Token` for "
            "changes); a widget key (`zw_pub_…`) serves only the chat widget's conversations from its "
            "allowed origins. A key sees only its own workspace. Errors are "
            '`{"error": {"code", "message"}}` with a stable code.'
        ),
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # add_docs_page serves it without a CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.background = background
    app.state.signals = signals
    app.state.metrics = Metrics()
    buckets, settings = services.rate_buckets, services.settings
    app.state.visitor_limiter = RateLimiter(
        buckets, "visitor", settings.visitor_messages_per_minute, "messages from this visitor"
    )
    app.state.rate_limiter = RateLimiter(buckets, "key", settings.rate_limit_per_minute)
    app.state.auth_failures = RateLimiter(
        buckets, "auth", settings.failed_auth_per_minute, "failed sign-ins from this address"
    )
    upload_ceiling = services.settings.max_upload_bytes + 1024 * 1024  # multipart framing on top of the file
    app.add_middleware(BodyLimit, limit=upload_ceiling)
    app.add_middleware(WidgetCors, origins=services.keys.widget_origins)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("x-request-id") or secrets.token_hex(8)
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > upload_ceiling:
            response: Response = _error(413, TooLarge.code, f"request body over {upload_ceiling:,} bytes")
        else:
            try:
                response = await call_next(request)
            except Exception:  # caught here, not by an exception handler, so that /metrics counts it
                log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
                response = _error(500, "internal", "internal error; the server log has the details")
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        await audit.record(request, response, route)
        metrics: Metrics = app.state.metrics
        metrics.requests.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        metrics.latency.labels(route=route).observe(elapsed)
        response.headers["x-request-id"] = request_id
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("content-security-policy", _PAGE_POLICY)
            response.headers["x-frame-options"] = "DENY"
        log.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                    "workspace_id": getattr(request.state, "workspace_id", None),
                }
            },
        )
        return response

    @app.exception_handler(ZhiwenError)
    async def zhiwen_error(request: Request, error: ZhiwenError) -> JSONResponse:
        response = _error(error.status, error.code, error.message, getattr(error, "details", None))
        if error.status == 429:
            response.headers["retry-after"] = "".join(ch for ch in error.message if ch.isdigit()) or "1"
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        """Starlette's own errors (no such route, wrong method, a body it cannot parse) in our shape."""
        codes = {404: "not_found", 405: "method_not_allowed", 400: "invalid_input"}
        response = _error(error.status_code, codes.get(error.status_code, "http_error"), str(error.detail))
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        public = request.url.path in PUBLIC_PATHS
        if (
            request.url.path.startswith("/v1/")
            and not public
            and getattr(request.state, "workspace_id", None) is None
        ):
            # A body is parsed before the key is checked: whoever has no valid key learns nothing more
            # about the request than that it is unauthorised.
            try:  # reads the key and takes from its rate bucket: not on the event loop
                await run_in_threadpool(
                    customer_key,
                    request,
                    request.headers.get("authorization"),
                    request.headers.get("x-api-key"),
                )
            except ZhiwenError as refused:
                return await zhiwen_error(request, refused)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in error.errors()[:5]
        )
        return _error(422, "invalid_input", problems)

    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(ask.router)
    app.include_router(openai_compat.router)
    app.include_router(quality.router)
    app.include_router(lifecycle.router)
    app.include_router(reviews.router)
    app.include_router(catalog.router)
    app.include_router(recommend.router)
    app.include_router(intents.router)
    app.include_router(table_models.router)
    app.include_router(vision.router)
    app.include_router(conversations.router)
    app.include_router(desk.router)
    app.include_router(accounts.router)
    app.include_router(trust.router)

    widget_script = resources.files("zhiwen.web").joinpath("widget.js").read_bytes()

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        """The chat widget for a company's own pages (docs/desk.md)."""
        return Response(
            widget_script,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=300", "cross-origin-resource-policy": "cross-origin"},
        )

    for path, name in (("/", "chat.html"), ("/desk", "desk.html")):
        _add_page(app, path, resources.files("zhiwen.web").joinpath(name).read_text(encoding="utf-8"))

    _add_console(app)
    app.openapi = lambda: tidy_openapi(app)  # type: ignore[method-assign]
    add_docs_page(app)
    return app
