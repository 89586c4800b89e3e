"""The settings: every variable read from the environment, then from ``$INBOX_HOME/.env``, typed and checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from inbox.config import Settings, load_settings
from inbox.errors import InvalidInput


def write_dotenv(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".env").write_text(text, encoding="utf-8")


def settings_in(home: Path, **env: str) -> Settings:
    return load_settings({"INBOX_HOME": str(home), **env})


def test_every_variable_has_its_documented_default(tmp_path: Path) -> None:
    s = settings_in(tmp_path)
    assert s.home == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path / 'inbox.db'}"
    assert (s.inbox_tz, s.tz, s.api_token, s.runtime) == (None, None, None, None)
    assert (s.sweep_interval, s.runner_idle, s.shutdown_grace) == (60.0, 600.0, 30.0)
    assert (s.misfire_grace, s.lease) == (timedelta(seconds=60), timedelta(seconds=60))
    assert s.retry_backoff == (timedelta(seconds=30), timedelta(seconds=60), timedelta(minutes=5))
    assert s.allow_unsandboxed is False
    assert s.runner_image == "inbox-runner:latest"
    assert (s.keep_runs, s.keep_outbox) == (timedelta(days=90), timedelta(days=30))
    assert (s.container_memory, s.container_cpus, s.container_pids, s.container_pool) == ("512m", 1.0, 256, 5)
    assert s.network_sessions == frozenset() and s.agent_unattended_recurring == frozenset()
    assert (s.provider, s.model, s.api_key("openai"), s.base_url("anthropic")) == (None, None, None, None)
    assert (s.agent_max_tasks, s.agent_min_interval) == (50, timedelta(minutes=5))
    assert (s.series_daily_tokens, s.history_tokens) == (200_000, 8000)
    assert s.model_timeout == 120.0


def test_the_home_defaults_to_dot_inbox_in_the_users_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings({}).home == tmp_path / ".inbox"
    assert load_settings({"INBOX_HOME": "~/elsewhere"}).home == tmp_path / "elsewhere"


def test_the_environment_beats_the_dotenv_file(tmp_path: Path) -> None:
    write_dotenv(tmp_path, "INBOX_SWEEP_INTERVAL=5\nINBOX_MODEL=from-file\nexport OPENAI_API_KEY='file-key'\n")
    s = settings_in(tmp_path, INBOX_SWEEP_INTERVAL="7")
    assert s.sweep_interval == 7.0  # set in both: the environment's
    assert s.model == "from-file"  # set only in the file
    assert s.api_key("openai") == "file-key"  # export prefix and quotes are the shell's, not the value's
    # An empty value in the environment counts as unset, so the file's value is used.
    assert settings_in(tmp_path, INBOX_SWEEP_INTERVAL="").sweep_interval == 5.0


def test_the_dotenv_file_is_read_from_inbox_home_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_dotenv(tmp_path / "a", "INBOX_MODEL=model-a\n")
    write_dotenv(tmp_path / "b", "INBOX_MODEL=model-b\n")
    write_dotenv(tmp_path / "cwd", "INBOX_MODEL=model-of-the-working-directory\n")
    monkeypatch.chdir(tmp_path / "cwd")
    assert settings_in(tmp_path / "a").model == "model-a"
    assert settings_in(tmp_path / "b").model == "model-b"
    assert settings_in(tmp_path / "none").model is None


def test_inbox_home_in_the_dotenv_file_does_not_move_the_home(tmp_path: Path) -> None:
    write_dotenv(tmp_path, f"INBOX_HOME={tmp_path / 'other'}\n")
    assert settings_in(tmp_path).home == tmp_path


def test_values_are_parsed_into_their_types(tmp_path: Path) -> None:
    s = settings_in(
        tmp_path,
        INBOX_DATABASE_URL="postgresql://u@db/inbox",
        INBOX_MISFIRE_GRACE="90",
        INBOX_LEASE_SECONDS="2.5",
        INBOX_RETRY_BACKOFF="1s, 2m,1h",
        INBOX_KEEP_OUTBOX_DAYS="1.5",
        INBOX_NETWORK_SESSIONS=" web , feeds,",
        INBOX_AGENT_MIN_INTERVAL="1h30m",
        INBOX_CONTAINER_PIDS="64",
        INBOX_RUNTIME="Process",
        INBOX_PROVIDER=" Anthropic ",
        ANTHROPIC_API_KEY="a-key",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9/",
        OPENAI_BASE_URL="http://127.0.0.1:11434/v1",
        TZ="Europe/Paris",
    )
    assert s.database_url == "postgresql+psycopg://u@db/inbox"
    assert (s.misfire_grace, s.lease) == (timedelta(seconds=90), timedelta(seconds=2.5))
    assert s.retry_backoff == (timedelta(seconds=1), timedelta(minutes=2), timedelta(hours=1))
    assert s.keep_outbox == timedelta(days=1.5)
    assert s.network_sessions == frozenset({"web", "feeds"})
    assert s.agent_min_interval == timedelta(hours=1, minutes=30)
    assert s.container_pids == 64
    assert (s.runtime, s.provider) == ("process", "anthropic")
    assert (s.api_key("anthropic"), s.base_url("anthropic")) == ("a-key", "http://127.0.0.1:9/")
    assert (s.api_key("openai"), s.base_url("openai")) == (None, "http://127.0.0.1:11434/v1")
    assert s.zone().key == "Europe/Paris"


@pytest.mark.parametrize("word", ["1", "true", "yes", "on", "TRUE", "Yes", "ON"])
def test_yes_words_turn_a_switch_on(tmp_path: Path, word: str) -> None:
    assert settings_in(tmp_path, INBOX_ALLOW_UNSANDBOXED=word).allow_unsandboxed is True


@pytest.mark.parametrize("word", ["0", "false", "no", "off", "False", "NO"])
def test_no_words_leave_a_switch_off(tmp_path: Path, word: str) -> None:
    write_dotenv(tmp_path, "INBOX_ALLOW_UNSANDBOXED=1\n")
    assert settings_in(tmp_path, INBOX_ALLOW_UNSANDBOXED=word).allow_unsandboxed is False


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("INBOX_SWEEP_INTERVAL", "abc", "must be a number of seconds, got 'abc'"),
        ("INBOX_SWEEP_INTERVAL", "0", "must be greater than zero, got '0'"),
        ("INBOX_MISFIRE_GRACE", "-5", "must be greater than zero, got '-5'"),
        ("INBOX_LEASE_SECONDS", "1m", "must be a number of seconds, got '1m'"),
        ("INBOX_RUNNER_IDLE", "nan", "must be greater than zero, got 'nan'"),
        ("INBOX_SHUTDOWN_GRACE", "inf", "must be a number of seconds, got 'inf'"),
        ("INBOX_MODEL_TIMEOUT", "2m", "must be a number of seconds, got '2m'"),
        ("INBOX_RETRY_BACKOFF", "30s,soon", "'soon' is not a duration"),
        ("INBOX_KEEP_RUNS_DAYS", "1e400", "must be a number of days, got '1e400'"),
        ("INBOX_KEEP_OUTBOX_DAYS", "a month", "must be a number of days, got 'a month'"),
        ("INBOX_KEEP_RUNS_DAYS", "1e9", "is too large, got '1e9'"),
        ("INBOX_ALLOW_UNSANDBOXED", "maybe", "must be one of 1/0, true/false, yes/no, on/off, got 'maybe'"),
        ("INBOX_RUNTIME", "k8s", "must be one of docker, process, got 'k8s'"),
        ("INBOX_PROVIDER", "gemini", "must be one of anthropic, openai, got 'gemini'"),
        ("INBOX_CONTAINER_CPUS", "two", "must be a number of CPUs, got 'two'"),
        ("INBOX_CONTAINER_PIDS", "2.5", "must be a whole number, got '2.5'"),
        ("INBOX_CONTAINER_POOL", "0", "must be greater than zero, got '0'"),
        ("INBOX_AGENT_MAX_TASKS", "many", "must be a whole number, got 'many'"),
        ("INBOX_AGENT_MIN_INTERVAL", "5", "'5' has no unit"),
        ("INBOX_SERIES_DAILY_TOKENS", "-1", "must be greater than zero, got '-1'"),
        ("INBOX_HISTORY_TOKENS", "8k", "must be a whole number, got '8k'"),
    ],
)
def test_an_invalid_value_is_refused_naming_its_variable(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        settings_in(tmp_path, **{variable: value})
    assert refused.value.field == variable
    assert str(refused.value).startswith(f"{variable}: ")
    assert reason in refused.value.reason


def test_an_invalid_value_in_the_dotenv_file_is_refused_too(tmp_path: Path) -> None:
    write_dotenv(tmp_path, "INBOX_CONTAINER_POOL=lots\n")
    with pytest.raises(InvalidInput) as refused:
        settings_in(tmp_path)
    assert str(refused.value) == "INBOX_CONTAINER_POOL: must be a whole number, got 'lots'"
    # A good value in the environment wins, so the file's bad one is never used.
    assert settings_in(tmp_path, INBOX_CONTAINER_POOL="3").container_pool == 3


def test_variables_that_are_not_settings_are_ignored(tmp_path: Path) -> None:
    write_dotenv(tmp_path, "SOMETHING_ELSE=1\nINBOX_NOT_A_SETTING=x\n")
    assert settings_in(tmp_path, INBOX_RUNNER_TOKEN="t", INBOX_FUZZ_EXAMPLES="5").sweep_interval == 60.0


def test_names_are_case_sensitive(tmp_path: Path) -> None:
    assert settings_in(tmp_path, inbox_sweep_interval="abc", tz="Mars/Olympus").sweep_interval == 60.0
