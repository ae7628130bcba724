"""Dependencies, as ``Annotated`` aliases so a handler's signature says what it needs."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request, UploadFile

from zhiwen.api.observability import Metrics, RateLimiter
from zhiwen.errors import Forbidden, TooLarge, Unauthorized
from zhiwen.ports import Background
from zhiwen.types import USER_ID_PREFIX, ApiKey, User
from zhiwen.wiring import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_background(request: Request) -> Background:
    background: Background = request.app.state.background
    return background


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SESSION_COOKIE = "zhiwen_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _signed_in(request: Request, token: str) -> ApiKey:
    """The user of a session cookie, as a principal like a key; changes need the session's CSRF token."""
    services: Services = request.app.state.services
    user, session = services.users.session(token)
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get("x-csrf-token", ""), session.csrf_token
    ):
        raise Forbidden("missing or wrong X-CSRF-Token: send the csrf_token that sign-in returned")
    request.state.session = (user, session)
    return user_principal(user)


def user_principal(user: User) -> ApiKey:
    """A signed-in person as a principal, like a key (``actor`` tells them apart by the id)."""
    return ApiKey(user.id, user.workspace_id, user.email, "", user.role, user.created_at)


def _authenticate(request: Request, authorization: str | None, x_api_key: str | None) -> ApiKey:
    plain = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        plain = authorization[7:]
    services: Services = request.app.state.services
    try:
        cookie = request.cookies.get(SESSION_COOKIE)
        key = _signed_in(request, cookie) if plain is None and cookie else services.keys.authenticate(plain)
    except Unauthorized:
        failures: RateLimiter = request.app.state.auth_failures
        failures.check(request.client.host if request.client else "unknown")  # 429 once over the limit
        raise
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(key.id)
    request.state.workspace_id = key.workspace_id
    request.state.principal = key  # for the audit log
    return key


def current_key(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer zw_…")] = None,
    x_api_key: Annotated[str | None, Header(description="Alternative to Authorization")] = None,
) -> ApiKey:
    key = _authenticate(request, authorization, x_api_key)
    if key.role == "widget":
        raise Forbidden("a widget key only serves the chat widget's conversations (/v1/conversations)")
    return key


def customer_key(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer zw_… or a widget key zw_pub_…")] = None,
    x_api_key: Annotated[str | None, Header(description="Alternative to Authorization")] = None,
) -> ApiKey:
    """Keys that may hold a customer's conversation: programs' keys, and widget keys from the origins they
    allow (a page elsewhere that copied the key is refused, and no CORS header lets it read anything)."""
    key = _authenticate(request, authorization, x_api_key)
    if key.role == "widget":
        origin = request.headers.get("origin")
        if origin is None or origin.lower() not in key.origins:
            raise Forbidden(
                f"origin {origin or '(none)'} may not use this widget key; allowed: {', '.join(key.origins)}"
            )
    return key


def admin_key(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    if key.role != "admin":
        raise Forbidden(f"this needs an admin key; this key's role is {key.role!r}")
    return key


def agent_key(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
    if key.role not in ("agent", "admin"):
        raise Forbidden(f"this needs an agent or admin key; this key's role is {key.role!r}")
    return key


def person_name(request: Request) -> str | None:
    """The signed-in person's name (what customers read beside an agent's reply); None for a key."""
    signed = getattr(request.state, "session", None)
    return None if signed is None else str(signed[0].name)


def actor(key: ApiKey) -> str:
    """Who did it, for audit fields and the desk: ``user:<e-mail>`` for a signed-in person, else
    ``key:<the key's name>``."""
    return f"user:{key.name}" if key.id.startswith(USER_ID_PREFIX) else f"key:{key.name}"


ServicesDep = Annotated[Services, Depends(get_services)]
BackgroundDep = Annotated[Background, Depends(get_background)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AnyKey = Annotated[ApiKey, Depends(current_key)]
AdminKey = Annotated[ApiKey, Depends(admin_key)]
AgentKey = Annotated[ApiKey, Depends(agent_key)]
CustomerKey = Annotated[ApiKey, Depends(customer_key)]


def read_upload(file: UploadFile, limit: int) -> bytes:
    """An uploaded file's bytes, refused as soon as it passes ``limit`` (read no further than that)."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{file.filename}: over the {limit:,}-byte limit; split it")
    return data
