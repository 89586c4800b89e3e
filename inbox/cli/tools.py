"""Tool commands: next, doctor, script test."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from inbox.cli.options import Json
from inbox.cli.render import console, print_json
from inbox.errors import InvalidInput
from inbox.event_names import check_name, parse_data
from inbox.schedules.durations import MAX_DURATION, MAX_DURATION_TEXT
from inbox.schedules.schedule import parse_instant
from inbox.validation import is_file

script_app = typer.Typer(help="Pre-scripts.", no_args_is_help=True)


def next_runs(
    cron: Annotated[str | None, typer.Option("--cron")] = None,
    every: Annotated[str | None, typer.Option("--every")] = None,
    tz: Annotated[str | None, typer.Option("--tz")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start after this time (ISO 8601).")] = None,
    count: Annotated[int, typer.Option("--count", "-n")] = 5,
    as_json: Json = False,
) -> None:
    """Preview fire times; writes nothing."""
    # The settings (pydantic) load in the commands that use them, not for --help; a preview needs no store.
    from inbox.config import load_settings
    from inbox.fire_times import preview

    zone = load_settings().zone(tz)
    now = datetime.now(UTC)
    begin = now if start is None else _parse_from(start, zone, now)
    times = preview(cron=cron, every=every, zone=zone, start=begin, count=count)
    if as_json:
        print_json([t.isoformat() for t in times])
        return
    console.print(f"in {zone.key}:")
    for instant in times:
        console.print(f"  {instant.strftime('%a %Y-%m-%d %H:%M:%S %Z (UTC%z)')}", highlight=False)


def _parse_from(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """--from may be in the past, but within the span a schedule can reach either way, so previews stay
    inside the years a time can have."""
    begin = parse_instant(text, zone, field="from")
    if abs(begin - now) > MAX_DURATION:
        raise InvalidInput("from", f"{begin.isoformat()} is more than {MAX_DURATION_TEXT} from now")
    return begin


def doctor(as_json: Json = False) -> None:
    """Check the configuration, the store, the timezone, the container engine and the model provider."""
    from inbox.config import load_settings
    from inbox.doctor import run_checks

    checks = run_checks(load_settings())
    if as_json:
        print_json({c.name: {"ok": c.ok, "detail": c.detail, "required": c.required} for c in checks})
    else:
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
            console.print(f"{mark}  {check.name}: {check.detail}", highlight=False)
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)


@script_app.command("test")
def script_test(
    file: Annotated[Path, typer.Argument(help="The script to run exactly as a task would.")],
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds.")] = 30.0,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE given to the script; repeatable.")] = None,
    event: Annotated[str | None, typer.Option("--event", help="As if this event had started the run.")] = None,
    data: Annotated[str | None, typer.Option("--data", help="The event's data (JSON), with --event.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="The state (JSON) a previous run returned.")] = None,
    as_json: Json = False,
) -> None:
    """Run a pre-script and print its decision: wake (with data), skipped, or script_error."""
    from agent_runner.prescript import ScriptVerdict, describe, input_document, run_prescript

    if not is_file(file):
        raise InvalidInput("file", f"no such file: {file}")
    if timeout <= 0:
        raise InvalidInput("timeout", "must be greater than zero")
    given: dict[str, str] = {}
    for pair in env or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput("--env", f"{pair!r} must look like KEY=VALUE")
        given[key] = value
    if data is not None and event is None:
        raise InvalidInput("--data", "is the event's data: give --event NAME too")
    happened = None
    if event is not None:
        happened = {"id": "test", "name": check_name(event, field="--event"), "session": None}
        happened["data"] = parse_data(data, field="--data") if data is not None else None
        given.setdefault("INBOX_EVENT_NAME", event)
        given.setdefault("INBOX_EVENT_ID", "test")
    before = parse_data(state, field="--state") if state is not None else None
    document = input_document(event=happened, state=before)
    result = run_prescript(file.read_text(encoding="utf-8"), timeout_s=timeout, env=given, stdin=document)
    if as_json:
        sys.stdout.write(
            json.dumps(
                {
                    "verdict": result.verdict.value,
                    "data": result.data,
                    "state": result.state if result.state_given else None,
                    "state_given": result.state_given,
                    "reason": result.reason,
                    "exit_code": result.exit_code,
                    "stderr_tail": result.stderr_tail,
                    "duration_s": round(result.duration_s, 3),
                },
                indent=2,
            )
            + "\n"
        )
    else:
        console.print(describe(result), highlight=False)
        if result.state_given:
            console.print(f"state for the next run: {json.dumps(result.state, ensure_ascii=False)}", highlight=False)
        if result.verdict == ScriptVerdict.SCRIPT_ERROR and result.stderr_tail:
            console.print("stderr:\n" + result.stderr_tail, highlight=False)
    if result.verdict == ScriptVerdict.SCRIPT_ERROR:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command(name="next")(next_runs)
    app.command()(doctor)
    app.add_typer(script_app, name="script")
