"""Secrets at rest, sealed with Fernet (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package).

A secret Zhiwen has to send again later (a webhook's signing secret, a tool's token) cannot be hashed
like an API key; it is stored sealed under a master key that is not in the database, so a copied
database file or backup does not give the secrets away. Several keys make rotation possible: the first
seals, any opens (:class:`cryptography.fernet.MultiFernet`), and ``zhiwen secrets rotate`` reseals
every stored secret with the first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from zhiwen.errors import ZhiwenError

SEALED_PREFIX = "fernet:"  # what a sealed value starts with; older plain values do not


def new_key() -> str:
    return Fernet.generate_key().decode()


class FernetSecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one master key is needed")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError:
                raise ZhiwenError(
                    f"master key {position} is not a Fernet key (32 bytes in URL-safe base64); make one"
                    " with `zhiwen secrets new-key`"
                ) from None
        self._box = MultiFernet(fernets)

    def seal(self, plain: str) -> str:
        return SEALED_PREFIX + self._box.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        """The plain secret. A value stored before secrets were sealed is returned as it is (and resealed
        by the next ``rotate``)."""
        if not sealed.startswith(SEALED_PREFIX):
            return sealed
        try:
            return self._box.decrypt(sealed[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise ZhiwenError(
                "a stored secret cannot be opened with the master key(s) given: was ZHIWEN_MASTER_KEY"
                " changed without keeping the old key after the new one?"
            ) from None

    def reseal(self, sealed: str) -> str:
        """Sealed with the first key (a plain legacy value gets sealed)."""
        if not sealed.startswith(SEALED_PREFIX):
            return self.seal(sealed)
        return SEALED_PREFIX + self._box.rotate(sealed[len(SEALED_PREFIX) :].encode()).decode()


def master_keys(configured: str | None, key_file: Path) -> list[str]:
    """The keys from ``ZHIWEN_MASTER_KEY`` (comma-separated, newest first); without it, the key in
    ``key_file``, made on first use and readable by this user only."""
    if configured:
        return [k.strip() for k in configured.split(",") if k.strip()]
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it just now
            pass
        else:
            with os.fdopen(descriptor, "w") as out:
                out.write(new_key() + "\n")
    return [k.strip() for k in key_file.read_text().split(",") if k.strip()]
