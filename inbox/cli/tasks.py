"""Task commands: schedule, tasks, show, runs, pause, resume, cancel, run, update."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inbox.cli.graph import neighbours, print_neighbours
from inbox.cli.options import Every, Json, Limit, Session, field_help, open_inbox, read_script, rows_wanted
from inbox.cli.render import console, print_json, table, tell_more, when
from inbox.cli.task_table import print_tasks, short
from inbox.event_names import parse_data

if TYPE_CHECKING:
    from inbox.views import MessageDetail, RunRecord, Task

# The options are the fields of inbox.task_fields.NewTask / TaskChange under their flags; the commands build the
# model from them, so its checks (and its words for each field) are the ones every way in shares.
Ident = Annotated[str, typer.Argument(help="The series id or any occurrence id (a unique prefix will do).")]
AnyId = Annotated[
    str, typer.Argument(help="A task (series id, occurrence id or name) or a message id; a unique prefix will do.")
]
CronOpt = Annotated[str | None, typer.Option("--cron", help=field_help("cron"))]
EveryOpt = Annotated[str | None, typer.Option("--every", help=field_help("every"))]
AtOpt = Annotated[str | None, typer.Option("--at", help=field_help("at"))]
InOpt = Annotated[str | None, typer.Option("--in", help=field_help("in"))]
TzOpt = Annotated[str | None, typer.Option("--tz", help=field_help("tz"))]
NameOpt = Annotated[str | None, typer.Option("--name", help=field_help("name"))]
ScriptOpt = Annotated[str | None, typer.Option("--script", help="Pre-script file, or - for standard input.")]
OnOpt = Annotated[list[str] | None, typer.Option("--on", help=field_help("on") + " Repeatable.")]
AfterOpt = Annotated[list[str] | None, typer.Option("--after", help=field_help("after") + " Repeatable.")]
WhenOpt = Annotated[str | None, typer.Option("--when", help=field_help("when"))]
PriorityOpt = Annotated[int | None, typer.Option("--priority", help=field_help("priority"))]
ActiveHoursOpt = Annotated[str | None, typer.Option("--active-hours", help=field_help("active_hours"))]


def schedule(
    prompt: Annotated[str, typer.Argument(help=field_help("prompt"))],
    cron: CronOpt = None,
    every: EveryOpt = None,
    at: AtOpt = None,
    in_: InOpt = None,
    on: OnOpt = None,
    after: AfterOpt = None,
    when: WhenOpt = None,
    tz: TzOpt = None,
    session: Session = "main",
    name: NameOpt = None,
    script: ScriptOpt = None,
    context: Annotated[str | None, typer.Option("--context", help=field_help("context"))] = None,
    catch_up: Annotated[str, typer.Option("--catch-up", help=field_help("catch_up"))] = "once",
    max_runs: Annotated[int | None, typer.Option("--max-runs", help=field_help("max_runs"))] = None,
    timeout: Annotated[str | None, typer.Option("--timeout", help=field_help("timeout"))] = None,
    retries: Annotated[int, typer.Option("--retries", help=field_help("retries"))] = 3,
    remind: Annotated[bool, typer.Option("--remind", help=field_help("remind"))] = False,
    model: Annotated[str | None, typer.Option("--model", help=field_help("model"))] = None,
    provider: Annotated[str | None, typer.Option("--provider", help=field_help("provider"))] = None,
    deliver: Annotated[str | None, typer.Option("--deliver", help=field_help("deliver"))] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", help=field_help("tags") + " Repeatable.")] = None,
    priority: Annotated[int, typer.Option("--priority", help=field_help("priority"))] = 0,
    do: Annotated[str | None, typer.Option("--do", help=field_help("do"))] = None,
    with_: Annotated[str | None, typer.Option("--with", help=field_help("with") + " JSON.")] = None,
    active_hours: ActiveHoursOpt = None,
    as_json: Json = False,
) -> None:
    """Schedule a task (or a reminder, a request, a command, a worker's job)."""
    # the parameters are NewTask's fields by name (in_ for --in), besides --json
    fields = {key: value for key, value in locals().items() if key != "as_json"}
    from inbox.task_fields import NewTask, validated  # the models load for a command that uses them, not for --help

    fields.update(script=read_script(script), with_=parse_data(with_, field="with") if with_ is not None else None)
    task = validated(NewTask, fields, by_name=True)
    with open_inbox() as inbox:
        made = inbox.schedule(task)
    if as_json:
        print_json(made)
        return
    console.print(f"Scheduled {made.series_id} ({made.schedule}, {made.timezone})")
    if not made.next_runs:
        console.print(f"  next: {_untimed_next(task.on, task.after)}")
    # Seconds only when a fire time has them (sub-minute intervals), so the usual echo stays short.
    clock = "%H:%M:%S" if any(t.second for t in made.next_runs) else "%H:%M"
    for instant in made.next_runs:
        console.print(f"  next: {instant.strftime(f'%a %Y-%m-%d {clock} %Z (UTC%z)')}")


def _untimed_next(on: list[str] | None, after: list[str] | None) -> str:
    """When a task no time starts runs next, in words."""
    starts = (["a matching event is emitted (inbox emit NAME)"] if on else []) + (
        ["the tasks it runs after have ended (inbox graph ID)"] if after else []
    )
    return "when " + " or when ".join(starts)


def tasks(
    status: Annotated[str, typer.Option("--status", help="active | paused | ended | all")] = "active",
    session: Annotated[str | None, typer.Option("--session", "-s")] = None,
    limit: Limit = None,
    every: Every = False,
    tag: Annotated[str | None, typer.Option("--tag", help="Only the tasks with this tag.")] = None,
    as_json: Json = False,
) -> None:
    """List tasks, one row per series: the live ones soonest next run first, then the ended ones newest first."""
    with open_inbox() as inbox:
        page = inbox.tasks_page(status=status, session=session, tag=tag, limit=rows_wanted(limit, every), count=True)
    found = page.rows
    if as_json:
        print_json(found)
    elif not found:
        console.print("No tasks.")
    else:
        print_tasks(found)
    tell_more(page)


def shown_progress(progress: dict[str, Any] | None) -> str:
    """``40% copying 2 of 5`` (reported at ...), or ``-``."""
    if not progress:
        return "-"
    note = f" {progress['note']}" if progress.get("note") else ""
    return f"{float(progress['fraction']):.0%}{note} (reported {progress.get('at', '?')})"


def _kind(do: str, given: dict[str, Any] | None) -> str:
    return do + (f" {json.dumps(given, ensure_ascii=False)}" if given else "")


def _print_task(task: Task) -> None:
    console.print(f"{task.series_id}  {task.name or ''}".rstrip())
    fields = {
        "status": task.status
        + (f" ({task.reason})" if task.reason else "")
        + (f" ({task.waiting_on})" if task.waiting_on else ""),
        "session": task.session,
        "schedule": f"{task.schedule} in {task.timezone}",
        "next run": when(task.next_run, task.timezone)
        if task.next_run or not (task.on or task.after)
        else _untimed_next(task.on, task.after),
        "catch-up": task.catch_up,
        "max runs": str(task.max_runs or "-"),
        "runs": f"{task.runs} (last: {task.last_outcome or '-'})",
        "kind": _kind(task.do, task.with_)
        + (f" (the running occurrence does {_kind(task.running_do, task.running_with)})" if task.running_do else ""),
        "progress": shown_progress(task.progress),
        "deliver": task.deliver or "its session's channel",
        "tags": ", ".join(task.tags) or "-",
        "priority": str(task.priority),
        "active hours": f"{task.active_hours} {task.timezone}" if task.active_hours else "its session's, if any",
        "script": f"yes, written by {task.script_by}" if task.script else "no",
        "created": f"{when(task.created_at)} by {task.created_by}",
        "prompt": task.prompt,
    }
    for key, value in fields.items():
        console.print(f"  {key + ':':<13} {value}", highlight=False)


def show(ident: AnyId, as_json: Json = False) -> None:
    """Show a task and its recent runs, or a message: its status, error and attempts."""
    with open_inbox() as inbox:
        message = inbox.message(ident, runs=10)
        if message.series_id is None:
            _show_message(message, as_json)
            return
        task = inbox.get(message.series_id)
        recent = inbox.runs(message.series_id, limit=10)
        seen = inbox.events(message.series_id, limit=10) if task.on else []
        near = neighbours(inbox.graph(message.series_id), message.series_id)
    if as_json:
        shown = {"task": task.model_dump(mode="json"), "runs": [r.model_dump(mode="json") for r in recent]}
        shown |= {key: [n.model_dump(mode="json") for n in nodes] for key, nodes in near.items()}
        print_json({**shown, "events": [e.model_dump(mode="json") for e in seen]})
        return
    _print_task(task)
    print_neighbours(near, task.when)
    if recent:
        console.print()
        _print_runs(recent, task.timezone)
    if seen:
        console.print()
        grid = table("event", "name", "what it did", "at", "run")
        for event in seen:
            grid.add_row(
                event.event_id, event.name, event.state, when(event.created_at, task.timezone), event.message_id or "-"
            )
        console.print(grid)


def _show_message(message: MessageDetail, as_json: bool) -> None:
    if as_json:
        runs = [r.model_dump(mode="json") for r in message.runs]
        print_json({"message": message.model_dump(mode="json", exclude={"runs"}), "runs": runs})
        return
    console.print(f"{message.id}  {message.kind} message", highlight=False)
    fields = {
        "status": message.status,
        "attempts": str(message.runs[0].attempt if message.runs else 0),
        "error": message.error or "-",
        "session": message.session,
        "due": when(message.process_after),
        "created": f"{when(message.created_at)} by {message.created_by}",
        "text": message.text,
    }
    for key, value in fields.items():
        console.print(f"  {key + ':':<10} {value}", highlight=False)
    if message.runs:
        console.print()
        _print_runs(message.runs, None)


def _print_runs(found: list[RunRecord], zone: str | None) -> None:
    grid = table("run", "outcome", "attempt", "started", "took", "error")
    for run in found:
        grid.add_row(
            run.id,
            run.outcome,
            str(run.attempt),
            when(run.started_at, zone),
            f"{run.duration_s:.1f}s",
            short(run.error or "", 60),
        )
    console.print(grid)


def runs(
    ident: AnyId,
    limit: Limit = None,
    every: Every = False,
    status: Annotated[str | None, typer.Option("--status", help="Only runs with this outcome.")] = None,
    as_json: Json = False,
) -> None:
    """Run history of a task (or the attempts at a message), the latest started first."""
    with open_inbox() as inbox:
        page = inbox.runs_page(ident, limit=rows_wanted(limit, every), status=status, count=True)
        message = inbox.message(ident, runs=1)
    zone = message.timezone if message.series_id else None  # a message's times in the local zone
    if as_json:
        print_json(page.rows)
    elif page.rows:
        _print_runs(page.rows, zone)
    else:
        console.print("No runs yet.")
    tell_more(page)


def _state_change(verb: str) -> Callable[[str, bool], None]:
    def command(ident: Ident, as_json: Json = False) -> None:
        with open_inbox() as inbox:
            task = getattr(inbox, verb)(ident)
        if as_json:
            print_json(task)
        else:
            console.print(f"{task.series_id}: {task.status}")

    command.__doc__ = f"{verb.capitalize()} a task (by series id or any occurrence id)."
    return command


def run_now(ident: Ident, as_json: Json = False) -> None:
    """Run a task now, as an extra occurrence; its schedule does not move."""
    with open_inbox() as inbox:
        message = inbox.run_now(ident)
    if as_json:
        print_json(message)
    else:
        console.print(f"Queued run {message.id} now.")


def update(
    ident: Ident,
    prompt: Annotated[str | None, typer.Option("--prompt")] = None,
    cron: CronOpt = None,
    every: EveryOpt = None,
    at: AtOpt = None,
    on: Annotated[
        list[str] | None, typer.Option("--on", help="Event pattern (repeatable); replaces the task's; '' removes them.")
    ] = None,
    after: Annotated[
        list[str] | None,
        typer.Option("--after", help="A task to run after (repeatable); replaces the task's; '' removes them."),
    ] = None,
    when: WhenOpt = None,
    tz: TzOpt = None,
    script: Annotated[str | None, typer.Option("--script", help="File, - for stdin, '' to remove.")] = None,
    name: NameOpt = None,
    deliver: Annotated[
        str | None, typer.Option("--deliver", help="Its channel; none: the outbox only; '': its session's.")
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag (repeatable); replaces the task's; '' removes them.")
    ] = None,
    priority: PriorityOpt = None,
    active_hours: Annotated[
        str | None, typer.Option("--active-hours", help="HH:MM-HH:MM in its zone; '': its session's.")
    ] = None,
    do: Annotated[str | None, typer.Option("--do", help=field_help("do") + " Give --with for its input.")] = None,
    with_: Annotated[str | None, typer.Option("--with", help="The kind's input, JSON; replaces the task's.")] = None,
    as_json: Json = False,
) -> None:
    """Change a task; a new schedule moves its next run at once. Past runs are untouched."""
    # the parameters are TaskChange's fields, besides the task's id and --json
    fields = {key: value for key, value in locals().items() if key not in ("ident", "as_json")}
    if on is not None:
        fields["on"] = [pattern for pattern in on if pattern != ""]  # --on '' removes every pattern
    if after is not None:
        fields["after"] = [ident for ident in after if ident != ""]  # --after '' removes every upstream
    if tags is not None:
        fields["tags"] = [tag for tag in tags if tag != ""]  # --tag '' removes every tag
    from inbox.task_fields import TaskChange, validated

    given_with = parse_data(with_, field="with") if with_ is not None else None
    change = validated(TaskChange, {**fields, "script": read_script(script), "with_": given_with}, by_name=True)
    with open_inbox() as inbox:
        task = inbox.update(ident, change)
    if as_json:
        print_json(task)
    else:
        _print_task(task)


def register(app: typer.Typer) -> None:
    app.command()(schedule)
    app.command()(tasks)
    app.command()(show)
    app.command()(runs)
    for verb in ("pause", "resume", "cancel"):
        app.command(name=verb)(_state_change(verb))
    app.command(name="run")(run_now)
    app.command()(update)
