"""Which addresses a webhook may reach, and how channel targets are read: pure functions, no network."""

from __future__ import annotations

import pytest

from inbox.addresses import RefusedAddress, checked_addresses, refusal
from inbox.channels import smtp_target, webhook_target
from inbox.errors import InvalidInput


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%lo", "febf::1", "fd00:ec2::254", "::ffff:169.254.169.254"],
)
def test_link_local_and_metadata_addresses_are_refused(address: str) -> None:
    assert refusal(address) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.20", "172.16.0.1", "fd00:ec2::253", "8.8.8.8", "fec0::1"]
)
def test_loopback_private_and_public_addresses_are_allowed(address: str) -> None:
    assert refusal(address) is None


def test_every_address_a_name_resolves_to_is_checked() -> None:
    assert checked_addresses("hooks.test", 80, lambda _h, _p: ["10.0.0.5", "127.0.0.1"]) == ["10.0.0.5", "127.0.0.1"]
    with pytest.raises(RefusedAddress, match=r"hooks.test resolves to 169.254.169.254"):
        checked_addresses("hooks.test", 80, lambda _h, _p: ["10.0.0.5", "169.254.169.254"])
    with pytest.raises(OSError):
        checked_addresses("hooks.test", 80, lambda _h, _p: [])


def test_a_literal_is_checked_without_asking_the_resolver() -> None:
    def never(_host: str, _port: int) -> list[str]:
        raise AssertionError("a literal needs no resolver")

    assert checked_addresses("[::1]", 80, never) == ["::1"]
    with pytest.raises(RefusedAddress):
        checked_addresses("169.254.169.254", 80, never)


def test_webhook_and_smtp_targets() -> None:
    hook = webhook_target("https://Hooks.Example.org:8443/in?x=1")
    assert (hook.scheme, hook.host, hook.port, hook.path) == ("https", "hooks.example.org", 8443, "/in?x=1")
    assert webhook_target("http://[::1]/").host == "::1"
    mail = smtp_target("smtps://me%40home:p%3Ass@mail.example.org")
    assert (mail.scheme, mail.port, mail.username, mail.password) == ("smtps", 465, "me@home", "p:ss")
    assert mail.shown == "smtps://me@home:***@mail.example.org:465"
    with pytest.raises(InvalidInput, match=r"^webhook: "):
        webhook_target("http://example.org:99999/")
