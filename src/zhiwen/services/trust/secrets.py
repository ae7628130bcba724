"""A workspace's secrets for its tools (``{secret:NAME}`` in a tool's URL or headers), set by an admin
through the API, the console or the CLI, stored sealed, and never shown again: only their names and when
they changed are listed. Server-wide ``ZHIWEN_SECRET_<NAME>`` settings still apply where a workspace has
no secret of that name."""

from __future__ import annotations

import re

from zhiwen.errors import InvalidInput
from zhiwen.ports import SecretBox, SecretStore

SECRET_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # as {secret:NAME} in intents' tools
MAX_SECRET_CHARS = 4096


class SecretService:
    def __init__(self, store: SecretStore, box: SecretBox) -> None:
        self._store = store
        self._box = box

    def put(self, workspace_id: str, name: str, value: str) -> None:
        if not SECRET_NAME.fullmatch(name):
            raise InvalidInput(
                f"secret name {name[:80]!r}: capital letters, digits and _, starting with a letter"
                " (used as {secret:NAME})"
            )
        if not value or len(value) > MAX_SECRET_CHARS or value != value.strip():
            raise InvalidInput(f"a secret's value needs 1 to {MAX_SECRET_CHARS} characters, no spaces around")
        self._store.put_secret(workspace_id, name, self._box.seal(value))

    def names(self, workspace_id: str) -> list[tuple[str, str]]:
        return self._store.secret_names(workspace_id)

    def delete(self, workspace_id: str, name: str) -> None:
        self._store.delete_secret(workspace_id, name)

    def values(self, workspace_id: str) -> dict[str, str]:
        """The workspace's secrets, opened: only for a tool about to be called."""
        sealed = self._store.sealed_secrets(workspace_id)
        return {name: self._box.open(value) for name, value in sealed.items()}

    def rotate(self) -> int:
        """Reseal every stored secret with the newest master key; how many. Afterwards the older keys
        can be dropped from ``ZHIWEN_MASTER_KEY``."""
        return self._store.reseal_all(self._box.reseal)
