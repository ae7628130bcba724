"""Sign in and out (an HTTP-only session cookie plus a CSRF token), and the admins' users and API keys."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request, Response, status

from zhiwen.api.deps import SESSION_COOKIE, AdminKey, AnyKey, ServicesDep, user_principal
from zhiwen.api.observability import RateLimiter
from zhiwen.api.schemas import (
    IssuedKeyOut,
    KeyCreate,
    KeyOut,
    PasswordReset,
    SignedInOut,
    SignInRequest,
    UserCreate,
    UserOut,
    WorkspaceOut,
)
from zhiwen.errors import Unauthorized
from zhiwen.services.accounts.users import SESSION_DAYS
from zhiwen.types import ApiKey, User

router = APIRouter(prefix="/v1", tags=["users"])


def user_out(user: User) -> UserOut:
    fields = dataclasses.asdict(user)
    fields.pop("workspace_id")
    return UserOut(**fields)


def key_out(key: ApiKey) -> KeyOut:
    fields = dataclasses.asdict(key)
    fields.pop("workspace_id")
    return KeyOut(**fields)


@router.post("/auth/sign-in", response_model=SignedInOut)
def sign_in(body: SignInRequest, request: Request, response: Response, services: ServicesDep) -> SignedInOut:
    """Sign in with e-mail and password: sets the session cookie (HTTP-only, SameSite=Strict) and returns
    the CSRF token that every change made with it must send as ``X-CSRF-Token``. Failed attempts are
    limited per address and per e-mail."""
    failures: RateLimiter = request.app.state.auth_failures
    address = request.client.host if request.client else "unknown"
    email = body.email.strip().lower()
    request.state.sign_in_email = email  # for the audit log
    # Over the limit, no password is tried at all: were only failures refused, a guess that happened to
    # be right would still sign in, and the limit would slow nobody down.
    failures.check_open(address)
    failures.check_open("email:" + email)
    try:
        signed = services.users.sign_in(body.email, body.password)
    except Unauthorized:
        failures.check(address)
        failures.check("email:" + email)
        raise
    request.state.principal = user_principal(signed.user)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=services.settings.secure_cookies,
        path="/",
    )
    return SignedInOut(
        user=user_out(signed.user), csrf_token=signed.session.csrf_token, expires_at=signed.session.expires_at
    )


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, response: Response, services: ServicesDep, key: AnyKey) -> Response:
    """End this browser session (API keys have nothing to sign out of)."""
    signed = getattr(request.state, "session", None)
    if signed is not None:
        services.users.sign_out(*signed)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=SignedInOut)
def me(request: Request, key: AnyKey) -> SignedInOut:
    """Who the session cookie belongs to, with its CSRF token (a page reloaded after sign-in reads it)."""
    signed = getattr(request.state, "session", None)
    if signed is None:
        raise Unauthorized("not signed in: API keys are not sessions")
    user, session = signed
    return SignedInOut(user=user_out(user), csrf_token=session.csrf_token, expires_at=session.expires_at)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, services: ServicesDep, key: AdminKey) -> UserOut:
    """Add an admin or an agent to this workspace."""
    return user_out(services.users.create(key.workspace_id, body.email, body.name, body.role, body.password))


@router.get("/users", response_model=list[UserOut])
def list_users(services: ServicesDep, key: AdminKey) -> list[UserOut]:
    """This workspace's people who sign in, disabled ones included."""
    return [user_out(u) for u in services.users.list(key.workspace_id)]


@router.post("/users/{user_id}/password", response_model=UserOut)
def reset_password(user_id: str, body: PasswordReset, services: ServicesDep, key: AdminKey) -> UserOut:
    """Set a new password; every session of the user ends."""
    return user_out(services.users.set_password(key.workspace_id, user_id, body.password))


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: str, services: ServicesDep, key: AdminKey) -> UserOut:
    """The user can no longer sign in; their sessions end now."""
    return user_out(services.users.set_disabled(key.workspace_id, user_id, True))


@router.post("/users/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: str, services: ServicesDep, key: AdminKey) -> UserOut:
    """Let a disabled user sign in again."""
    return user_out(services.users.set_disabled(key.workspace_id, user_id, False))


@router.get("/keys", response_model=list[KeyOut], tags=["keys"])
def list_keys(services: ServicesDep, key: AdminKey) -> list[KeyOut]:
    """This workspace's API keys, revoked ones included (prefixes only: secrets are never stored)."""
    return [key_out(k) for k in services.keys.list(key.workspace_id)]


@router.post("/keys", response_model=IssuedKeyOut, status_code=status.HTTP_201_CREATED, tags=["keys"])
def issue_key(body: KeyCreate, services: ServicesDep, key: AdminKey) -> IssuedKeyOut:
    """A new key; its secret is in this response only."""
    issued = services.keys.issue(key.workspace_id, body.name, body.role, body.origins)
    return IssuedKeyOut(**key_out(issued.key).model_dump(), secret=issued.plain)


@router.post("/keys/{key_id}/revoke", response_model=KeyOut, tags=["keys"])
def revoke_key(key_id: str, services: ServicesDep, key: AdminKey) -> KeyOut:
    """Requests with the key get 401 from now on."""
    return key_out(services.keys.revoke(key.workspace_id, key_id))


@router.get("/workspace", response_model=WorkspaceOut, tags=["keys"])
def this_workspace(services: ServicesDep, key: AdminKey) -> WorkspaceOut:
    """The workspace this key or person belongs to, with its size. New workspaces are made on the server
    (``zhiwen workspace create``): a key or a person belongs to one workspace and sees only it."""
    workspace = services.workspaces.get_workspace(key.workspace_id)
    live = services.releases.live(key.workspace_id)
    return WorkspaceOut(
        id=workspace.id,
        name=workspace.name,
        created_at=workspace.created_at,
        documents=services.documents.count_documents(key.workspace_id),
        chunks=services.documents.count_chunks(key.workspace_id),
        waiting_chunks=services.documents.count_chunks_needing_vectors(key.workspace_id),
        releases=len(services.releases.list_releases(key.workspace_id)),
        live_release=None if live is None else live.number,
        users=len(services.users.list(key.workspace_id)),
        active_keys=sum(k.revoked_at is None for k in services.keys.list(key.workspace_id)),
    )
