"""Which requests the audit log records, and recording them.

Every change made through the API is recorded, refused ones too (a 403 says someone tried), with who,
what, when and from where; exports are recorded although they change nothing. Customers' own traffic is
not: questions, conversation messages, likes and behaviour events are data, kept in their own tables
(and erasable, which an append-only log is not). Searches and checks that change nothing are not either.
"""

from __future__ import annotations

import logging

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from zhiwen.api.deps import SAFE_METHODS, actor
from zhiwen.wiring import Services

log = logging.getLogger("zhiwen.audit")

_NOT_CHANGES = frozenset(
    {
        "/v1/search",
        "/v1/hit-test",
        "/v1/ask",
        "/v1/chat/completions",
        "/v1/intents/classify",
        "/v1/reviews/classify",
        "/v1/backends/check",
        "/v1/events",
        "/v1/feedback",
        "/v1/desk/presence",  # an agent's heartbeat
    }
)
_CUSTOMER_TRAFFIC = "/v1/conversations"


def audited(method: str, route: str) -> bool:
    if route.startswith(_CUSTOMER_TRAFFIC) or route in _NOT_CHANGES:
        return False
    return method not in SAFE_METHODS or route.endswith("/export")


async def record(request: Request, response: Response, route: str) -> None:
    """Append the request to the audit log when it is a change (or an export) by a key or a person."""
    if not audited(request.method, route):
        return
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        workspace_id, who = principal.workspace_id, actor(principal)
        if principal.prefix:  # key names need not be unique; their prefixes are
            who += f" ({principal.prefix}…)"
    elif route == "/v1/auth/sign-in" and response.status_code == 401:
        # A wrong password: no workspace is known for the address typed. Attempts past the rate limit
        # (429) are not recorded, so guessing cannot grow the log faster than the limit allows.
        workspace_id, who = "", "user:" + str(getattr(request.state, "sign_in_email", "?"))[:200]
    else:
        return  # no valid key: refused before any change
    services: Services = request.app.state.services
    try:
        await run_in_threadpool(
            services.audit.record,
            workspace_id,
            who,
            f"{request.method} {route}",
            request.url.path,
            response.status_code,
            request.client.host if request.client else "unknown",
        )
    except Exception:  # the change is made: its caller must not think it failed and try again
        log.exception("not recorded in the audit log", extra={"fields": {"route": route, "actor": who}})
