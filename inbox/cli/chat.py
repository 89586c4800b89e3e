"""``inbox chat``: a line-oriented conversation with one session, for a terminal, over ssh, or through a pipe.

One thread reads lines and sends them; a background thread polls the session's outbox and prints every delivery
as it arrives (answers, reminders, task results, system notes), also while the prompt is idle
(inbox/cli/conversation.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from inbox import validation as check
from inbox.cli.options import Session


def chat(
    session: Session = "main",
    timeout: Annotated[str, typer.Option("--timeout", help="How long to wait for each answer, e.g. 2m.")] = "2m",
) -> None:
    """Talk to the assistant in a terminal: each line is sent to the session, answers and reminders are shown."""
    check.session_name(session)
    limit = check.timeout(timeout)
    assert limit is not None
    # The conversation's modules (the store, rich) load once the arguments are good, and not for --help.
    from inbox.cli.conversation import converse

    converse(session, limit)


def register(app: typer.Typer) -> None:
    app.command()(chat)
