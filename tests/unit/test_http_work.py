"""Where an ``http`` task's request may go, decided before any connection: names resolved by a resolver the test
hands in (so a name can point anywhere without touching the machine's resolver), nothing sent when refused."""

from __future__ import annotations

import pytest

from sweeper.http_work import HttpWork


def _pointing_at(*addresses: str) -> HttpWork:
    return HttpWork(resolver=lambda host, port: list(addresses), own={("0.0.0.0", 8080)})


@pytest.mark.parametrize(
    ("address", "by_agent"),
    [
        ("169.254.169.254", False),  # cloud metadata: nobody's request goes there
        ("::ffff:169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("127.0.0.1", True),  # the host itself, its API and local services: not for the assistant
        ("::1", True),
        ("10.0.0.7", True),  # the LAN
        ("100.64.0.1", True),  # carrier-grade NAT, container networks
        ("0.0.0.0", True),
    ],
)
def test_a_name_that_resolves_to_a_refused_address_is_never_connected_to(address: str, by_agent: bool) -> None:
    answer = _pointing_at("93.184.216.34", address).call(
        {"url": "http://rebinding.example/x"}, by_agent=by_agent, timeout_s=1, key="k"
    )
    assert answer.status is None and not answer.transient
    assert answer.error is not None and answer.error.startswith("rebinding.example resolves to ")


def test_the_hosts_own_api_port_is_refused_for_the_assistant_even_on_a_public_address() -> None:
    answer = _pointing_at("93.184.216.34").call(
        {"url": "http://me.example:8080/v1/tasks"}, by_agent=True, timeout_s=1, key="k"
    )
    assert answer.error is not None and "this host's own API" in answer.error
