"""privacy show|set|expire|export|erase: personal-data rules, retention, and one customer's data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    state,
)
from zhiwen.services.trust.customer_data import CustomerRef

privacy_app = typer.Typer(
    help="Customers' personal data: what is redacted where (`privacy set`), how long conversations and "
    "events are kept, and a customer's right to their data: `privacy export` (everything held, as JSON) "
    "and `privacy erase` (everywhere, release snapshots included).",
    no_args_is_help=True,
)
ConversationOption = typer.Option([], "--conversation", help="A conversation id (repeatable).")
VisitorOption = typer.Option(None, "--visitor-token", help="The widget's visitor token: all its chats.")
ContactOption = typer.Option(None, "--contact", help="The contact they left for a callback.")
UserOption = typer.Option(None, "--user-id", help="Your id for them in behaviour events and reviews.")


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")


def _show(settings: dict[str, Any]) -> None:
    console.print(
        f"stored conversations redacted: {settings['redact_stored']}\n"
        f"documents redacted at ingestion: {settings['redact_ingested']}\n"
        f"kinds: {', '.join(settings['kinds'])}\n"
        f"conversations kept: {settings['keep_conversations_days'] or 'until erased'} days\n"
        f"events kept: {settings['keep_events_days'] or 'until erased'} days\n"
        "Customers' words sent to an LLM or a webhook are always redacted."
    )


@privacy_app.command("show")
def show(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    settings = state.services().privacy.settings(state.workspace(workspace).id).to_dict()
    if as_json:
        print_json(settings)
    else:
        _show(settings)


@privacy_app.command("set")
def set_rules(
    redact_stored: bool | None = typer.Option(
        None, "--redact-stored/--keep-stored", help="Store conversations and answers redacted."
    ),
    redact_ingested: bool | None = typer.Option(
        None, "--redact-ingested/--keep-ingested", help="Redact documents when they are ingested."
    ),
    kinds: str | None = typer.Option(
        None, "--kinds", help="Comma-separated: phone,id_number,bank_card,email (address,name: best effort)."
    ),
    keep_conversations: int | None = typer.Option(
        None, "--keep-conversations-days", min=0, help="Delete older conversations; 0 keeps them."
    ),
    keep_events: int | None = typer.Option(
        None, "--keep-events-days", min=0, help="Delete older behaviour events; 0 keeps them."
    ),
    workspace: str = WorkspaceOption,
) -> None:
    """Change some rules. Example: zhiwen privacy set --redact-stored --keep-conversations-days 365"""
    changes: dict[str, Any] = {}
    if redact_stored is not None:
        changes["redact_stored"] = redact_stored
    if redact_ingested is not None:
        changes["redact_ingested"] = redact_ingested
    if kinds is not None:
        changes["kinds"] = [k.strip() for k in kinds.split(",") if k.strip()]
    if keep_conversations is not None:
        changes["keep_conversations_days"] = keep_conversations or None
    if keep_events is not None:
        changes["keep_events_days"] = keep_events or None
    _show(state.services().privacy.update(state.workspace(workspace).id, changes).to_dict())


@privacy_app.command("expire")
def expire(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Apply the retention rules now (a running server does it every hour)."""
    counts = state.services().customers.expire(state.workspace(workspace).id)
    if as_json:
        print_json(counts)
    else:
        console.print(", ".join(f"{n} {what} deleted" for what, n in counts.items()))


@privacy_app.command("export")
def export(
    conversation: list[str] = ConversationOption,
    visitor_token: str | None = VisitorOption,
    contact: str | None = ContactOption,
    user_id: str | None = UserOption,
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here instead of stdout."),
    workspace: str = WorkspaceOption,
) -> None:
    """Everything held about one customer, as JSON. Example: zhiwen privacy export --contact 13812345678"""
    customer = CustomerRef(tuple(conversation), visitor_token, contact, user_id)
    held = state.services().customers.export(state.workspace(workspace).id, customer)
    if out is None:
        print_json(held)
        return
    with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as file:
        json.dump(held, file, ensure_ascii=False, indent=2)  # one person's data: readable by this user only
    console.print(f"{len(held['conversations'])} conversation(s), {len(held['reviews'])} review(s), "
                  f"{len(held['events'])} event(s) written to {out}.")  # fmt: skip


@privacy_app.command("erase")
def erase(
    conversation: list[str] = ConversationOption,
    visitor_token: str | None = VisitorOption,
    contact: str | None = ContactOption,
    user_id: str | None = UserOption,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Erase one customer everywhere (release snapshots included), then check every table for what was
    erased. Cannot be undone. Example: zhiwen privacy erase --user-id u1029 --yes"""
    customer = CustomerRef(tuple(conversation), visitor_token, contact, user_id)
    if not yes:
        typer.confirm("Erase this customer's data everywhere? This cannot be undone", abort=True)
    erasure = state.services().customers.erase(state.workspace(workspace).id, customer)
    if as_json:
        print_json({"counts": erasure.counts, "remaining": erasure.remaining})
    else:
        console.print("Erased: " + ", ".join(f"{n} {what}" for what, n in erasure.counts.items() if n))
        if erasure.remaining:
            console.print(f"[red]still found in[/red] {', '.join(erasure.remaining)}")
        else:
            console.print("Checked every table: nothing of what was erased is left.")
    if erasure.remaining:
        raise typer.Exit(1)
