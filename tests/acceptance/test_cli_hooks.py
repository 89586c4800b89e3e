"""``inbox hook create|list|delete`` as a user runs them: the secret shown once, never listed, exit 2 on bad input."""

from __future__ import annotations

from tests.acceptance.conftest import Cli


def test_create_prints_the_secret_once_and_list_never_shows_it(cli: Cli) -> None:
    made = cli.json("hook", "create", "github", "--session", "work", "--message", "--json")
    assert set(made) >= {"name", "secret", "url"}
    assert (made["name"], made["url"], made["session"], made["message"]) == ("github", "/v1/hooks/github", "work", True)
    plain = cli.run("hook", "create", "mail")
    assert plain.returncode == 0 and len(plain.stdout.strip()) >= 40 and "/v1/hooks/mail" in plain.stderr
    secret = plain.stdout.strip()  # alone on standard output: SECRET=$(inbox hook create NAME)
    listed = cli.json("hook", "list", "--json")
    assert [(h["name"], h["session"], h["message"]) for h in listed] == [
        ("github", "work", True),
        ("mail", None, False),
    ]
    shown = cli.ok("hook", "list") + str(listed)
    assert made["secret"] not in shown and secret not in shown and "github" in shown


def test_delete_removes_a_hook_and_bad_input_exits_2_naming_the_field(cli: Cli) -> None:
    cli.ok("hook", "create", "github")
    again = cli.run("hook", "create", "github")
    assert again.returncode == 2 and "name: a hook is already named 'github'" in again.stderr
    for bad in ("a b", "hook.x", "-x", "x" * 65):
        refused = cli.run("hook", "create", "--", bad)
        assert refused.returncode == 2 and "name:" in refused.stderr, (bad, refused.stderr)
    wrong_session = cli.run("hook", "create", "ok", "--session", "x y")
    assert wrong_session.returncode == 2 and "session:" in wrong_session.stderr
    assert "Deleted hook 'github'" in cli.ok("hook", "delete", "github")
    gone = cli.run("hook", "delete", "github")
    assert gone.returncode == 2 and "no hook is named 'github'" in gone.stderr
    assert cli.json("hook", "list", "--json") == []
