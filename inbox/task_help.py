"""What each field of a task means, in one place: the HTTP API's reference and the model's tool schema show it
(through :mod:`inbox.task_fields`), and so does ``inbox schedule --help``.

Plain text apart from the models, so the command line can describe its options without loading pydantic.
"""

from inbox import validation as check

FIELD_HELP = {
    "prompt": "What the assistant should do when the task fires (with remind: the text delivered as is).",
    "cron": "5-field cron expression, or @hourly @daily @weekly @monthly @yearly, in the task's time zone.",
    "every": "A fixed interval from now on: 30s 5m 2h 1d 1h30m.",
    "at": "One run at this time: ISO 8601; without an offset it is wall time in the task's zone.",
    "in": "One run this long from now: 10m, 2h.",
    "tz": "IANA time zone, e.g. Europe/Paris; default INBOX_TZ, TZ, then the system zone.",
    "session": "The conversation the task belongs to and reports to.",
    "name": "A short name to refer to the task by instead of its id.",
    "script": "A pre-script run before each occurrence; its output decides whether the model is woken "
    "(shebang honoured, bash when none).",
    "context": "What history a run sees: session (the conversation's), series (this task's earlier runs), "
    "fresh (none); default session for one-shot tasks, fresh for recurring ones.",
    "catch_up": "After downtime: once (one run for the missed slots), skip (none), all (one per missed slot).",
    "max_runs": "End the task after this many runs.",
    "on": "Event patterns that start a run when a matching event is emitted (mail.*, github.**); alone, or "
    "beside cron or every (either starts a run).",
    "after": "Tasks (ids or names) this one runs after: a round runs when each of them has ended a run since this "
    "task's last round; alone, or beside cron, every or on.",
    "when": "When a round runs: all_success (the default: every upstream ended and succeeded, else the round ends "
    "upstream_failed without a model call), all_done (every upstream ended, whatever the outcome), any_success "
    "(at the first success).",
    "timeout": "Time limit of each run, e.g. 10m.",
    "retries": f"How many times a failed run is tried again (0-{check.MAX_RETRIES}).",
    "remind": "Deliver the prompt text itself at its time; no model call.",
    "model": "This task's model; default INBOX_MODEL.",
    "provider": "This task's model provider; default INBOX_PROVIDER.",
    "do": "What a run does: agent (the default: ask the model, the text is the prompt), remind (deliver the text), "
    "http (one request, with: url, method, headers, body), command (with: argv, timeout), or a registered "
    "worker's name (inbox workers lists them). Only agent calls the model.",
    "with": "The kind's input, a JSON object checked by the kind when the task is made.",
    "deliver": "The channel this task's messages are sent through (inbox channel list), or none for the outbox "
    "only; default: its session's channel.",
    "tags": "Tags to find the task by (inbox tasks --tag) and to limit how many such tasks run at once "
    "(inbox limit): lowercase letters, digits, _ . : -.",
    "priority": "-10 to 10, default 0: due tasks of a higher priority start first; a task waiting counts one step "
    "higher per 5 minutes, so none waits for ever.",
    "active_hours": "HH:MM-HH:MM on the task's clock (22:00-06:00 crosses midnight): an occurrence whose time is "
    "outside is recorded skipped, with no model call; default: its session's active hours, if any.",
}
