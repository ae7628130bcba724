"""feedback, review list|show|replay|approve|dismiss, curated list|add|edit|enable|disable|delete."""

from __future__ import annotations

import dataclasses
import getpass

import typer
from rich.table import Table

from zhiwen.cli.common import (
    JsonOption,
    WorkspaceOption,
    console,
    print_json,
    state,
)
from zhiwen.errors import InvalidInput

review_app = typer.Typer(
    help="Review disliked and handed-off questions (most frequent first) and turn them into curated answers.",
    no_args_is_help=True,
)
curated_app = typer.Typer(
    help="Curated answers: approved question-answer pairs, matched before anything else.",
    no_args_is_help=True,
)


def actor() -> str:
    """Who did it, for the audit fields: the operating-system user of the CLI."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def register(app: typer.Typer) -> None:
    app.command()(feedback)
    app.add_typer(review_app, name="review")
    app.add_typer(curated_app, name="curated")


def feedback(
    answer_id: str = typer.Argument(..., help="The answer_id that `ask` (or POST /v1/ask) returned."),
    like: bool = typer.Option(False, "--like", help="The answer was helpful."),
    dislike: bool = typer.Option(False, "--dislike", help="The answer was wrong or unhelpful."),
    comment: str = typer.Option("", "--comment", "-m", help="What was wrong, in words."),
    correct: str = typer.Option(
        "", "--correct", help="The correct answer; an agent can approve it in review."
    ),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Rate an answer. Example: zhiwen feedback ans_1a2b --dislike --correct "退货运费由我们承担" """
    if like == dislike:
        raise InvalidInput("say --like or --dislike (exactly one)")
    services = state.services()
    workspace_id = state.workspace(workspace).id
    given = services.feedback.give(
        workspace_id, answer_id, "like" if like else "dislike", comment, correct, actor()
    )
    if dislike:
        services.desk.answer_disliked(workspace_id, answer_id)
    if as_json:
        print_json(dataclasses.asdict(given))
    else:
        console.print(f"Recorded {given.rating} on {answer_id} ({given.id}).")


@review_app.command("list")
def review_list(
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=2000),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """The review queue: similar questions grouped, the most frequent first."""
    groups = state.services().feedback.queue(state.workspace(workspace).id, limit)
    if as_json:
        print_json(groups)
        return
    if not groups:
        console.print("The review queue is empty.")
        return
    table = Table("#", "asked", "question (and similar)", "dislikes", "handoffs", "correction")
    # Whole even in a narrow terminal: `review approve` needs it.
    table.add_column("answer id", no_wrap=True, min_width=max(len(g["answer_ids"][0]) for g in groups))
    for i, g in enumerate(groups, start=1):
        table.add_row(
            str(i),
            str(g["count"]),
            "\n".join(g["questions"]),
            str(g["dislikes"]),
            str(g["handoffs"]),
            g["correction"][:80],
            g["answer_ids"][0],
        )
    console.print(table)
    console.print('Approve with: zhiwen review approve ANSWER_ID --answer "..." [--golden NAME]')


@review_app.command("show")
def review_show(answer_id: str, workspace: str = WorkspaceOption) -> None:
    """Everything recorded about one answer: question, retrieved chunks with scores, citations, confidence,
    release, and its feedback (always JSON)."""
    print_json(state.services().feedback.answer_record(state.workspace(workspace).id, answer_id))


@review_app.command("replay")
def review_replay(answer_id: str, workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Ask the question of a recorded answer again with the release that gave it (even if rolled back), and
    say whether the answer is the same."""
    services = state.services()
    workspace_id = state.workspace(workspace).id
    record = services.feedback.answer_record(workspace_id, answer_id)
    stored = record["answer"]
    assert isinstance(stored, dict)
    number = stored.get("release")
    target = (
        services.targets.working(workspace_id)
        if number is None
        else services.targets.of_release(services.releases.get(workspace_id, int(number)))
    )
    again = services.answerer.answer(
        workspace_id,
        str(stored["question"]),
        record=False,
        target=target,
        use_llm=stored.get("mode") == "llm",
    )
    result = {
        "answer_id": answer_id,
        "release": number,
        "same_text": again.text == stored["text"],
        "same_citations": [c.chunk_id for c in again.citations]
        == [c["chunk_id"] for c in stored["citations"]],
        "recorded": {"text": stored["text"], "confidence": stored["confidence"], "mode": stored["mode"]},
        "replayed": {"text": again.text, "confidence": again.confidence, "mode": again.mode},
    }
    if as_json:
        print_json(result)
        return
    console.print(f"Release: {number if number is not None else 'working knowledge'}")
    console.print(f"Recorded: {stored['text']}\nReplayed: {again.text}")
    console.print("[green]identical[/]" if result["same_text"] else "[yellow]different[/]")


@review_app.command("approve")
def review_approve(
    answer_id: str = typer.Argument(..., help="Any answer id of the group (see `zhiwen review list`)."),
    answer: str | None = typer.Option(
        None, "--answer", "-a", help="The approved answer (default: the correction)."
    ),
    question: str | None = typer.Option(
        None, "--question", "-q", help="Question to store (default: as asked)."
    ),
    golden: str | None = typer.Option(None, "--golden", "-g", help="Also add the pair to this golden set."),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Approve a correction: it becomes a curated answer (in the working knowledge; the next release ships
    it) and closes the whole group."""
    curated = state.services().feedback.approve(
        state.workspace(workspace).id, answer_id, actor(), answer, question, golden
    )
    if as_json:
        print_json(dataclasses.asdict(curated))
    else:
        console.print(
            f"Curated answer {curated.id} created" + (f"; added to golden set {golden}" if golden else "")
        )
        say_when_customers_see_it(curated.workspace_id)


@review_app.command("dismiss")
def review_dismiss(answer_ids: list[str], workspace: str = WorkspaceOption) -> None:
    """Close groups that need no change (the answer was right, or the question is out of scope)."""
    closed = state.services().feedback.dismiss(state.workspace(workspace).id, answer_ids)
    console.print(f"Closed {closed} answer(s).")


@curated_app.command("list")
def curated_list(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every curated answer, on or off, with who changed it last and when."""
    items = state.services().curated.list_curated(state.workspace(workspace).id)
    if as_json:
        print_json([dataclasses.asdict(c) for c in items])
        return
    table = Table("id", "on", "question", "answer", "by", "updated")
    for c in items:
        table.add_row(
            c.id, "yes" if c.enabled else "no", c.question, c.answer[:100], c.updated_by, c.updated_at[:19]
        )
    console.print(table)


@curated_app.command("add")
def curated_add(
    question: str, answer: str, workspace: str = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Add a curated answer.

    Example: zhiwen curated add "可以开发票吗？" "可以，下单后在订单页申请电子发票。"
    """
    curated = state.services().curated.add(state.workspace(workspace).id, question, answer, actor())
    if as_json:
        print_json(dataclasses.asdict(curated))
    else:
        console.print(f"Added {curated.id}.")
        say_when_customers_see_it(curated.workspace_id)


@curated_app.command("edit")
def curated_edit(
    curated_id: str,
    question: str | None = typer.Option(None, "--question", "-q"),
    answer: str | None = typer.Option(None, "--answer", "-a"),
    workspace: str = WorkspaceOption,
) -> None:
    """Change a curated answer's question or answer text (the next release ships the change)."""
    workspace_id = state.workspace(workspace).id
    state.services().curated.update(workspace_id, curated_id, actor(), question, answer)
    console.print(f"Updated {curated_id}.")
    say_when_customers_see_it(workspace_id)


@curated_app.command("enable")
def curated_enable(curated_id: str, workspace: str = WorkspaceOption) -> None:
    """Match a disabled curated answer again."""
    workspace_id = state.workspace(workspace).id
    state.services().curated.update(workspace_id, curated_id, actor(), enabled=True)
    console.print(f"Enabled {curated_id}.")
    say_when_customers_see_it(workspace_id)


@curated_app.command("disable")
def curated_disable(curated_id: str, workspace: str = WorkspaceOption) -> None:
    """Stop matching it (kept, with its history); `enable` brings it back."""
    workspace_id = state.workspace(workspace).id
    state.services().curated.update(workspace_id, curated_id, actor(), enabled=False)
    console.print(f"Disabled {curated_id}.")
    say_when_customers_see_it(workspace_id)


@curated_app.command("delete")
def curated_delete(curated_id: str, workspace: str = WorkspaceOption) -> None:
    """Delete a curated answer for good (`disable` keeps it)."""
    workspace_id = state.workspace(workspace).id
    state.services().curated.delete(workspace_id, curated_id)
    console.print(f"Deleted {curated_id}.")
    say_when_customers_see_it(workspace_id)


def say_when_customers_see_it(workspace_id: str) -> None:
    """Curated answers change the working knowledge; a live release keeps answering as it was frozen."""
    live = state.services().releases.live(workspace_id)
    if live is None:
        console.print(
            "Customers see this now: no release is live, so answers come from the working knowledge."
        )
    else:
        console.print(
            f"Customers see this with the next release (release {live.number} is live): "
            "`zhiwen release create --golden NAME`, then `zhiwen release promote N`. "
            'Try it first: zhiwen ask --working "…"'
        )
