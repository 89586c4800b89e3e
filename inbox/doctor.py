"""``inbox doctor``: what this installation would do, and what is missing."""

from __future__ import annotations

from dataclasses import dataclass

from inbox.config import Settings
from inbox.errors import InvalidInput


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed required check makes doctor exit 1


def check_store(settings: Settings) -> Check:
    from inbox.store.engine import open_engine
    from inbox.store.migrate import current_revision

    url = settings.database_url
    shown = url.split("@")[-1] if "@" in url else url
    try:
        engine = open_engine(url)
        revision = current_revision(engine)
        engine.dispose()
    except Exception as error:  # any failure to open is exactly what doctor reports
        return Check("store", False, f"{shown}: {error}")
    return Check("store", True, f"{shown} (schema {revision})")


def check_zone(settings: Settings) -> Check:
    try:
        zone = settings.zone()
    except InvalidInput as error:
        return Check("timezone", False, str(error))
    return Check("timezone", True, f"{zone.key} (new tasks use this unless given --tz)")


def check_engine(settings: Settings) -> Check:
    from sweeper.runtimes.choose import docker_status

    client, why_not = docker_status(settings)
    if client is not None:
        client.close()
    wanted = settings.runtime
    if wanted == "docker" and client is None:
        return Check("runtime", False, f"INBOX_RUNTIME=docker but {why_not}; runners cannot start")
    if wanted != "process" and client is not None:
        return Check("runtime", True, "docker: one sandboxed container per session")
    unsandboxed = settings.allow_unsandboxed
    guard = "allowed (INBOX_ALLOW_UNSANDBOXED=1)" if unsandboxed else "refused unless INBOX_ALLOW_UNSANDBOXED=1"
    why = "INBOX_RUNTIME=process" if wanted == "process" else why_not
    return Check(
        "runtime",
        True,
        f"process ({why}); NO SANDBOX: runners are local processes, agent-written scripts are {guard}",
        required=False,
    )


def check_provider(settings: Settings) -> Check:
    from sweeper.http.model_proxy import KEY_VARS, choose_provider

    choice = choose_provider(settings)
    if choice is None:
        return Check(
            "model provider",
            False,
            "not configured (set INBOX_PROVIDER, INBOX_MODEL and the provider's key or base URL); "
            "reminders and scripts still run",
            required=False,
        )
    key_var = KEY_VARS[choice.name]
    has_key = bool(choice.api_key)
    detail = (
        f"{choice.name}, model {choice.model or '(INBOX_MODEL not set)'}, {key_var} {'set' if has_key else 'not set'}"
    )
    if choice.base_url:
        detail += f", base URL {choice.base_url}"
    ok = bool(choice.model) and (has_key or bool(choice.base_url))
    return Check("model provider", ok, detail, required=False)


def check_tokens(settings: Settings) -> Check:
    from inbox.store import tokens
    from inbox.store.engine import open_engine, transaction

    try:
        engine = open_engine(settings.database_url)
        with transaction(engine) as db:
            active = tokens.count_active(db)
        engine.dispose()
    except Exception as error:  # the store check above already says why
        return Check("api tokens", False, f"not counted: {error}", required=False)
    configured = " and INBOX_API_TOKEN" if settings.api_token else ""
    if active == 0 and not configured:
        return Check("api tokens", True, "none yet; `inbox serve` makes one on first start", required=False)
    return Check("api tokens", True, f"{active} active in the store{configured} (`inbox token list`)", required=False)


def check_autovacuum(settings: Settings) -> Check | None:
    """PostgreSQL only: whether the server removes the dead row versions every ended occurrence leaves."""
    from sqlalchemy import text

    from inbox.store.engine import open_engine

    if not settings.database_url.startswith("postgresql"):
        return None
    try:
        engine = open_engine(settings.database_url)
        with engine.connect() as conn:
            setting = str(conn.execute(text("SHOW autovacuum")).scalar_one())
        engine.dispose()
    except Exception as error:  # the store check above already says why
        return Check("autovacuum", False, f"not read: {error}", required=False)
    if setting == "on":
        return Check("autovacuum", True, "on", required=False)
    return Check(
        "autovacuum",
        False,
        f"{setting}: the hosts keep messages_in's planner statistics current themselves, but the dead row versions"
        " every ended run leaves stay until VACUUM runs; turn autovacuum on, or run VACUUM messages_in regularly",
        required=False,
    )


def run_checks(settings: Settings) -> list[Check]:
    checks = [check_store(settings), check_zone(settings), check_engine(settings), check_provider(settings)]
    maintenance = check_autovacuum(settings)
    return [*checks, check_tokens(settings), *([maintenance] if maintenance else [])]
