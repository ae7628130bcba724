"""API keys: shown once, stored as SHA-256 hashes (keys are 256-bit random, so a slow hash adds nothing)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from zhiwen.errors import Unauthorized
from zhiwen.ports import WorkspaceStore
from zhiwen.types import ApiKey, Role

KEY_PREFIX = "zw_"


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plain: str  # the only time the secret exists outside the client


class KeyService:
    def __init__(self, workspaces: WorkspaceStore) -> None:
        self._workspaces = workspaces

    def issue(self, workspace_id: str, name: str, role: Role) -> IssuedKey:
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        key = self._workspaces.create_key(workspace_id, name, role, hash_key(plain), plain[:10])
        return IssuedKey(key, plain)

    def authenticate(self, plain: str | None) -> ApiKey:
        if not plain:
            raise Unauthorized("missing API key: send 'Authorization: Bearer zw_...'")
        key = self._workspaces.find_key(hash_key(plain.strip()))
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        return key
