"""API keys: shown once, stored as SHA-256 hashes (keys are 256-bit random, so a slow hash adds nothing)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from zhiwen.errors import Conflict, InvalidInput, NotFound, Unauthorized
from zhiwen.ports import WorkspaceStore
from zhiwen.types import ApiKey, Role

KEY_PREFIX = "zw_"
WIDGET_PREFIX = "zw_pub_"
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(?::\d{1,5})?$")


def web_origin(value: str) -> str:
    """``value`` as a browser sends it in the Origin header (scheme://host[:port], no path), or an error."""
    origin = value.strip().rstrip("/").lower()
    if not _ORIGIN.match(origin):
        raise InvalidInput(
            f"{value!r} is not a web origin like https://shop.example.com or http://localhost:8080"
        )
    return origin


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plain: str  # the only time the secret exists outside the client


class KeyService:
    def __init__(self, workspaces: WorkspaceStore) -> None:
        self._workspaces = workspaces

    def issue(self, workspace_id: str, name: str, role: Role, origins: Sequence[str] = ()) -> IssuedKey:
        """A new key. A widget key (public: it sits in a web page) names the origins that may use it."""
        if role == "widget":
            if not origins:
                raise InvalidInput(
                    "a widget key needs the web origins allowed to use it (origins; --origin in the CLI),"
                    " e.g. https://shop.example.com"
                )
            origins = [web_origin(o) for o in origins]
        elif origins:
            raise InvalidInput("only widget keys have allowed origins")
        prefix = WIDGET_PREFIX if role == "widget" else KEY_PREFIX
        plain = prefix + secrets.token_urlsafe(32)
        key = self._workspaces.create_key(
            workspace_id, name, role, hash_key(plain), plain[: len(prefix) + 7], origins
        )
        return IssuedKey(key, plain)

    def list(self, workspace_id: str) -> list[ApiKey]:
        return self._workspaces.list_keys(workspace_id)

    def revoke(self, workspace_id: str, key_id: str) -> ApiKey:
        """Revoke one of this workspace's keys at once (another workspace's key is not found)."""
        key = next((k for k in self._workspaces.list_keys(workspace_id) if k.id == key_id), None)
        if key is None:
            raise NotFound(f"no API key {key_id!r} in this workspace")
        if key.revoked_at is not None:
            raise Conflict(f"key {key_id} was already revoked at {key.revoked_at}")
        return self._workspaces.revoke_key(key_id)

    def authenticate(self, plain: str | None) -> ApiKey:
        if not plain:
            raise Unauthorized("missing API key: send 'Authorization: Bearer zw_...'")
        key = self._workspaces.find_key(hash_key(plain.strip()))
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        return key

    def widget_origins(self) -> set[str]:
        """Every origin some live widget key allows (what a CORS preflight may be answered for)."""
        return {
            origin
            for workspace in self._workspaces.list_workspaces()
            for key in self._workspaces.list_keys(workspace.id)
            if key.role == "widget" and key.revoked_at is None
            for origin in key.origins
        }
