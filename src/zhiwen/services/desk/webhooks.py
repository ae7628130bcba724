"""Signed webhooks, so a company can run the human side in Chatwoot, Zendesk or WeCom.

Events (``handoff``, ``message``, ``resolve``, ``rating``) are written to an outbox first and sent by a
background worker: a POST of JSON signed with HMAC-SHA256, retried with backoff until the target answers
2xx or the attempts run out; every attempt's outcome is kept for the delivery log. The signature, in
``X-Zhiwen-Signature: t=<unix seconds>,v1=<hex>``, covers ``f"{t}.{body}"`` so a receiver can refuse
replays older than a few minutes (the Stripe scheme). Redirects are never followed: a target that
redirects is a failed delivery, so a webhook cannot be bounced to another host.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from zhiwen.errors import InvalidInput, ZhiwenError
from zhiwen.ports import SecretBox, WebhookStore
from zhiwen.services.trust.privacy import PrivacyPolicy
from zhiwen.types import Webhook, WebhookDelivery

log = logging.getLogger(__name__)
EVENTS = ("handoff", "message", "resolve", "rating")
BACKOFF_S = (10, 60, 300, 1800, 7200)  # after the 1st, 2nd, … failure; then the delivery is given up
TIMEOUT_S = 5.0
BATCH = 50


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_target(url: str) -> str:
    """A webhook URL: http(s), a host, no credentials in it. Private addresses are allowed on purpose:
    a self-hosted desk usually runs next to Zhiwen."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise InvalidInput("put no user name or password in a webhook URL; the signature authenticates")
    try:
        if ipaddress.ip_address(parts.hostname).is_unspecified:
            raise InvalidInput(f"{parts.hostname} is not an address one can send to")
    except ValueError:
        pass  # a host name
    return url.strip()


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        box: SecretBox,
        privacy: PrivacyPolicy,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Signing secrets are stored sealed by ``box``; payloads leave as ``privacy`` allows."""
        self._store = store
        self._box = box
        self._privacy = privacy
        self._transport = transport
        self._now = now
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, workspace_id: str, url: str, events: Sequence[str]) -> tuple[Webhook, str]:
        """A new webhook and its signing secret (shown once)."""
        unknown = set(events) - set(EVENTS)
        if not events or unknown:
            raise InvalidInput(
                f"events: choose from {', '.join(EVENTS)}" + (f" (not {sorted(unknown)})" if unknown else "")
            )
        secret = "whsec_" + secrets.token_urlsafe(24)
        return self._store.add_webhook(
            workspace_id, check_target(url), self._box.seal(secret), list(dict.fromkeys(events))
        ), secret

    def webhooks(self, workspace_id: str) -> list[Webhook]:
        return self._store.list_webhooks(workspace_id)

    def delete(self, workspace_id: str, webhook_id: str) -> None:
        self._store.delete_webhook(workspace_id, webhook_id)

    def deliveries(self, workspace_id: str, webhook_id: str) -> list[WebhookDelivery]:
        return self._store.deliveries(workspace_id, webhook_id)

    def emit(self, workspace_id: str, event: str, data: dict[str, Any]) -> None:
        """Store the event for every webhook that takes it; the worker sends it."""
        at = self._now().isoformat(timespec="milliseconds")
        # Personal data never leaves in a customer's words; the contact they left is for the callback.
        data = self._privacy.outward_values(workspace_id, data, keep=("contact", "conversation_id", "id"))
        payload = {"event": event, "workspace_id": workspace_id, "created_at": at, "data": data}
        if self._store.enqueue(workspace_id, event, payload, at):
            self._wake.set()

    def deliver_due(self) -> int:
        """Send every delivery whose time has come; how many were attempted."""
        now = self._now()
        due = self._store.due(now.isoformat(timespec="milliseconds"), BATCH)
        if not due:
            return 0
        with httpx.Client(transport=self._transport, timeout=TIMEOUT_S, follow_redirects=False) as client:
            for delivery, url, sealed in due:
                try:
                    secret = self._box.open(sealed)
                except ZhiwenError as unreadable:  # a lost master key fails this delivery, not the queue
                    failed = replace(delivery, status="failed", attempts=delivery.attempts + 1)
                    self._store.record_attempt(replace(failed, error=unreadable.message))
                    continue
                self._store.record_attempt(self._attempt(client, delivery, url, secret))
        return len(due)

    def _attempt(
        self, client: httpx.Client, delivery: WebhookDelivery, url: str, secret: str
    ) -> WebhookDelivery:
        body = json.dumps({**delivery.payload, "delivery_id": delivery.id}, ensure_ascii=False).encode()
        now = self._now()
        headers = {
            "content-type": "application/json",
            "user-agent": "zhiwen-webhooks",
            "x-zhiwen-event": delivery.event,
            "x-zhiwen-delivery": delivery.id,
            "x-zhiwen-signature": sign(secret, int(now.timestamp()), body),
        }
        status: int | None = None
        try:
            response = client.post(url, content=body, headers=headers)
            status = response.status_code
            error = (
                ""
                if response.is_success
                else f"HTTP {status}" + (" (redirects are not followed)" if response.is_redirect else "")
            )
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
        attempts = delivery.attempts + 1
        stamp = now.isoformat(timespec="milliseconds")
        if not error:
            return replace(
                delivery,
                status="delivered",
                attempts=attempts,
                response_status=status,
                error="",
                delivered_at=stamp,
            )
        if attempts > len(BACKOFF_S):
            return replace(delivery, status="failed", attempts=attempts, response_status=status, error=error)
        retry = (now + timedelta(seconds=BACKOFF_S[attempts - 1])).isoformat(timespec="milliseconds")
        return replace(
            delivery, attempts=attempts, next_attempt_at=retry, response_status=status, error=error
        )

    # ---- the background worker ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, daemon=True, name="webhooks")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=TIMEOUT_S * 2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
            except Exception:  # the worker must outlive one bad delivery; the log says what happened
                log.exception("webhook delivery failed")
            self._wake.wait(timeout=1.0)
            self._wake.clear()
