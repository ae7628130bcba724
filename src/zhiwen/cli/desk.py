"""desk queue|show|claim|reply|resolve|reopen|presence|ratings|stats|settings: the desk in a terminal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    state,
)
from zhiwen.cli.feedback import actor
from zhiwen.errors import InvalidInput
from zhiwen.types import DeskConversation, DeskMessage

desk_app = typer.Typer(
    help="The human desk: conversations the assistant handed off (or customers asked a person for). "
    "Agents claim them, reply (the customer sees it in the chat widget), add internal notes and resolve; "
    "what they answer goes to `zhiwen review list`. The browser inbox and the API "
    "(/v1/desk/…) do the same.",
    no_args_is_help=True,
)
AgentOption = typer.Option(None, "--as", help="Agent id to act as (default: cli:<your user name>).")


def register(app: typer.Typer) -> None:
    app.add_typer(desk_app, name="desk")


def _conversation_dict(conversation: DeskConversation) -> dict[str, object]:
    fields = dataclasses.asdict(conversation)
    fields.pop("visitor_hash")
    return fields


def _print_message(message: DeskMessage) -> None:
    who = {"customer": "[green]customer[/]", "bot": "[cyan]bot[/]", "system": "[dim]system[/]"}.get(
        message.author, f"[blue]{message.author} {message.author_name}[/]"
    )
    console.print(f"[dim]{message.created_at[11:19]} #{message.id}[/] {who}: ", end="")
    console.print(message.text, markup=False, highlight=False)


@desk_app.command("queue")
def queue(
    status: list[str] = typer.Option(
        ["waiting", "open"], "--status", "-s", help="bot, waiting, open or resolved (repeatable)."
    ),
    language: str | None = typer.Option(None, "--language", help="zh or en."),
    team: str | None = typer.Option(None, "--team"),
    mine: bool = typer.Option(False, "--mine", help="Only those assigned to you (see --as)."),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Conversations with people, longest waiting first. Example: zhiwen desk queue --status waiting"""
    found = state.services().desk.queue(
        state.workspace(workspace).id, status, language, team, (agent or actor()) if mine else None
    )
    if as_json:
        print_json([_conversation_dict(c) for c in found])
        return
    if not found:
        console.print("Nobody is waiting.")
        return
    table = Table("conversation", "status", "why", "lang", "assignee", "queued", "contact", "last message")
    for c in found:
        table.add_row(
            c.id,
            c.status,
            c.reason or "",
            c.language,
            c.assignee or "",
            (c.queued_at or "")[:19],
            c.contact,
            c.last_message[:60],
        )
    console.print(table)


@desk_app.command("show")
def show(
    conversation_id: str = typer.Argument(..., help="conv_… from `zhiwen desk queue`."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Every message (with internal notes) and, for each bot reply, its confidence and withheld draft."""
    context = state.services().desk.context(state.workspace(workspace).id, conversation_id)
    if as_json:
        print_json(
            {
                "conversation": _conversation_dict(context["conversation"]),
                "messages": [dataclasses.asdict(m) for m in context["messages"]],
                "answers": context["answers"],
            }
        )
        return
    held = context["conversation"]
    console.print(f"[bold]{held.id}[/] {held.status} ({held.reason or 'bot'}), {held.language}")
    for message in context["messages"]:
        _print_message(message)
        answer = context["answers"].get(message.answer_id or "")
        if answer:
            draft = (answer.get("withheld") or {}).get("text", "")
            console.print(f"    [dim]confidence {answer['confidence']}; withheld draft: {draft[:120]}[/]")


def _act(verb: str, conversation_id: str, agent: str | None, workspace: str, as_json: bool) -> None:
    desk = state.services().desk
    workspace_id = state.workspace(workspace).id
    done = getattr(desk, verb)(workspace_id, conversation_id, agent or actor())
    if as_json:
        print_json(_conversation_dict(done))
    else:
        console.print(f"{conversation_id}: {done.status}, assigned to {done.assignee or 'nobody'}.")


@desk_app.command("claim")
def claim(
    conversation_id: str = typer.Argument(...),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Take a waiting conversation (refused if another agent was first)."""
    _act("claim", conversation_id, agent, workspace, as_json)


@desk_app.command("resolve")
def resolve(
    conversation_id: str = typer.Argument(...),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Close it; your answer to the handed-off question goes to the review queue."""
    _act("resolve", conversation_id, agent, workspace, as_json)


@desk_app.command("reopen")
def reopen(
    conversation_id: str = typer.Argument(...),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    _act("reopen", conversation_id, agent, workspace, as_json)


@desk_app.command("reply")
def reply(
    conversation_id: str = typer.Argument(...),
    text: str = typer.Argument(..., help="What the customer reads."),
    note: bool = typer.Option(False, "--note", help="An internal note instead: the customer never sees it."),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Reply to the customer (claims a waiting conversation). Example: zhiwen desk reply conv_1 "您好" """
    desk = state.services().desk
    workspace_id = state.workspace(workspace).id
    say = desk.note if note else desk.reply
    message = say(workspace_id, conversation_id, agent or actor(), text)
    if as_json:
        print_json(dataclasses.asdict(message))
    else:
        _print_message(message)


@desk_app.command("presence")
def presence(
    status: str = typer.Argument(..., help="online, away or offline."),
    team: list[str] = typer.Option([], "--team", help="Teams you take (repeatable)."),
    language: list[str] = typer.Option([], "--language", help="Languages you take: zh, en (repeatable)."),
    agent: str | None = AgentOption,
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Say you are online (expires after 2 minutes without a new heartbeat) or away."""
    given = state.services().desk.set_presence(
        state.workspace(workspace).id, agent or actor(), status, team, language
    )
    if as_json:
        print_json(dataclasses.asdict(given))
    else:
        console.print(f"{given.agent} is {given.status}.")


@desk_app.command("ratings")
def ratings(
    since: str | None = typer.Option(None, "--since", help="ISO date, e.g. 2026-12-01."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Customers' ratings (1–5) of their conversations, with the agent and release that served them."""
    found = state.services().desk.ratings(state.workspace(workspace).id, since)
    if as_json:
        print_json([dataclasses.asdict(r) for r in found])
        return
    table = Table("conversation", "score", "agent", "release", "when", "comment")
    for r in found:
        table.add_row(
            r.conversation_id,
            str(r.score),
            r.agent or "bot",
            str(r.release or ""),
            r.created_at[:19],
            r.comment,
        )
    console.print(table)


@desk_app.command("stats")
def stats(
    by: str = typer.Option("day", "--by", help="day, agent or release."),
    days: int = typer.Option(30, "--days", min=1, max=3650),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """CSAT, handoff rate, containment, reply and resolution times. Example: zhiwen desk stats --by agent"""
    figures = state.services().desk.stats(state.workspace(workspace).id, days, by)  # type: ignore[arg-type]
    if as_json:
        print_json([dataclasses.asdict(f) for f in figures])
        return
    table = Table(
        by,
        "conversations",
        "handoff rate",
        "containment",
        "CSAT",
        "mean",
        "ratings",
        "1st reply min",
        "resolved min",
    )

    def show(value: float | None, percent: bool = False) -> str:
        return "–" if value is None else f"{value:.0%}" if percent else f"{value:g}"

    for f in figures:
        table.add_row(
            f.group,
            str(f.conversations),
            show(f.handoff_rate, True),
            show(f.containment, True),
            show(f.csat, True),
            show(f.mean_score),
            str(f.ratings),
            show(f.first_response_minutes),
            show(f.resolution_minutes),
        )
    console.print(table)


@desk_app.command("settings")
def settings(
    file: Path | None = typer.Option(
        None,
        "--set",
        help="A JSON file with hours, welcome, suggestions, failed_answers, teams (see docs/desk.md); "
        "without it, print the current settings.",
    ),
    workspace: str = WorkspaceOption,
) -> None:
    """Business hours, the widget's welcome and suggested questions, when repeated dislikes hand off."""
    desk = state.services().desk
    workspace_id = state.workspace(workspace).id
    if file is None:
        print_json(desk.settings(workspace_id).to_dict())
        return
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"{file}: not a readable UTF-8 JSON file ({error})") from None
    print_json(desk.configure(workspace_id, value).to_dict())
