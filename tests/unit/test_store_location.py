"""Where ``inbox tasks`` finds its store without the settings' model (inbox.store_location) agrees with the settings,
and says nothing (so the full path decides) whenever the settings might refuse a value or name another store."""

from __future__ import annotations

from pathlib import Path

import pytest

from inbox.config import Settings, load_settings
from inbox.store_location import PLAIN, plain_sqlite_store


def _alias(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    assert isinstance(alias, str)
    return alias


def test_the_plain_variables_are_the_settings_own_plain_text_ones() -> None:
    plain_types = (str, str | None)
    fields = {_alias(name): field for name, field in Settings.model_fields.items()}
    typed = {variable: field.annotation for variable, field in fields.items()}
    for variable in PLAIN - {"INBOX_HOME"}:
        assert typed[variable] in plain_types and not fields[variable].metadata, variable  # no validator either
    # A variable the prefix does not catch must be plain text, or the quick path would not know to step aside.
    for variable, annotation in typed.items():
        assert variable.startswith("INBOX_") or annotation in plain_types, variable


def test_the_default_store_is_where_the_settings_put_it(tmp_path: Path) -> None:
    env = {"INBOX_HOME": str(tmp_path), "INBOX_TZ": "Europe/Paris", "OPENAI_API_KEY": "k", "INBOX_LEASE_SECONDS": ""}
    found = plain_sqlite_store(env)
    assert found is not None and f"sqlite:///{found}" == load_settings(env).database_url
    (tmp_path / ".env").write_text("TZ=UTC\nINBOX_MODEL=\n", encoding="utf-8")
    assert plain_sqlite_store(env) == found


@pytest.mark.parametrize(
    ("environment", "dotenv"),
    [
        ({"INBOX_DATABASE_URL": "sqlite:////tmp/elsewhere.db"}, ""),
        ({}, "INBOX_DATABASE_URL=postgresql://u@h/db\n"),
        ({"INBOX_LEASE_SECONDS": "soon"}, ""),
        ({}, "export INBOX_SWEEP_INTERVAL='5'\n"),
        ({}, "INBOX_SOMETHING_NEW=1\n"),
    ],
)
def test_anything_else_leaves_it_to_the_settings(tmp_path: Path, environment: dict[str, str], dotenv: str) -> None:
    (tmp_path / ".env").write_text(dotenv, encoding="utf-8")
    assert plain_sqlite_store({"INBOX_HOME": str(tmp_path), **environment}) is None
