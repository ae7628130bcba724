"""People who sign in: admins and agents of a workspace, with passwords and browser sessions.

Passwords are hashed with Argon2id (``argon2-cffi``, its default parameters); a wrong password and an
unknown e-mail get the same answer after the same work, so sign-in does not tell which addresses exist.
A session is a random 256-bit token the browser holds in an HTTP-only cookie (stored here as its
SHA-256, like API keys), with a CSRF token that every change made through the cookie must send back.
Programs keep using API keys.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from zhiwen.errors import InvalidInput, NotFound, Unauthorized
from zhiwen.ports import UserStore
from zhiwen.services.accounts.keys import hash_key
from zhiwen.types import Session, User, utc_now

MIN_PASSWORD = 10
MAX_PASSWORD = 256
SESSION_DAYS = 7
ROLES = ("admin", "agent")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session
    token: str  # the cookie's value: the only time it exists outside the browser


def _email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput(f"{value!r} is not an e-mail address")
    return email


def _password(value: str) -> str:
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return value


class UserService:
    def __init__(self, store: UserStore, hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))  # verified against for unknown e-mails

    def create(self, workspace_id: str, email: str, name: str, role: str, password: str) -> User:
        if role not in ROLES:
            raise InvalidInput(f"role: {role!r} is not one of {', '.join(ROLES)}")
        if not name.strip() or len(name) > 100:
            raise InvalidInput("name: 1 to 100 characters")
        return self._store.create_user(
            workspace_id, _email(email), name.strip(), role, self._hasher.hash(_password(password))
        )

    def list(self, workspace_id: str) -> list[User]:
        return self._store.list_users(workspace_id)

    def get(self, workspace_id: str, user_id: str) -> User:
        user = self._store.get_user(user_id)
        if user.workspace_id != workspace_id:
            raise NotFound(f"no user {user_id!r} in this workspace; see `zhiwen user list`")
        return user

    def sign_in(self, email: str, password: str) -> SignedIn:
        found = self._store.find_user(email.strip().lower())
        try:
            self._hasher.verify(found[1] if found else self._dummy, password)
            verified = found is not None
        except (VerificationError, InvalidHashError):
            verified = False
        if found is None or not verified or found[0].disabled_at is not None:
            raise Unauthorized("wrong e-mail or password, or the account is disabled")
        user, stored_hash = found
        if self._hasher.check_needs_rehash(stored_hash):
            self._store.update_user(user.id, {"password_hash": self._hasher.hash(password)})
        now = datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        session = Session(
            id="ses_" + secrets.token_hex(8),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now.isoformat(timespec="milliseconds"),
            expires_at=(now + timedelta(days=SESSION_DAYS)).isoformat(timespec="milliseconds"),
        )
        self._store.create_session(session, hash_key(token))
        return SignedIn(user, session, token)

    def session(self, token: str) -> tuple[User, Session]:
        """The signed-in user of a session cookie; refused when expired, signed out or disabled."""
        session = self._store.find_session(hash_key(token), utc_now())
        if session is None:
            raise Unauthorized("not signed in (the session ended); sign in again")
        user = self._store.get_user(session.user_id)
        if user.disabled_at is not None:
            raise Unauthorized("this account is disabled")
        return user, session

    def sign_out(self, user: User, session: Session) -> None:
        self._store.delete_sessions(user.id, session.id)

    def set_password(self, workspace_id: str, user_id: str, password: str) -> User:
        """An admin resets a password; every session of that user ends."""
        self.get(workspace_id, user_id)
        user = self._store.update_user(user_id, {"password_hash": self._hasher.hash(_password(password))})
        self._store.delete_sessions(user_id)
        return user

    def set_disabled(self, workspace_id: str, user_id: str, disabled: bool) -> User:
        self.get(workspace_id, user_id)
        user = self._store.update_user(user_id, {"disabled_at": utc_now() if disabled else None})
        if disabled:
            self._store.delete_sessions(user_id)
        return user
