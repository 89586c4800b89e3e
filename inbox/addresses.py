"""Which network addresses the host refuses to send to: link-local and cloud-metadata addresses, and for a request
the assistant wrote (an ``http`` task), every address that is not public.

A webhook URL is the user's, but what its name resolves to can change after it was checked (DNS rebinding), and
the text that reaches it may come from the model. So a name is resolved once, every address it gives is checked,
and the connection goes to an address that was checked, never to the name again. Loopback and private addresses
are the user's own (a phone bridge on the LAN, a relay on localhost) and allowed for what a person configured; a
request the model wrote gets no more reach than its sandbox, so ``public_only`` refuses them too (the host's own
API on loopback, the LAN's routers and printers, the container engine's networks).

``Resolver`` is what turns a host name into addresses; the host uses :func:`system_resolver`, and tests hand in
their own to make a name resolve to a refused address without touching the machine's resolver.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# 169.254.0.0/16 holds the metadata services of AWS, GCP and Azure (169.254.169.254) and every link-local
# address; fe80::/10 is IPv6 link-local; fd00:ec2::254 is AWS's IPv6 metadata address.
REFUSED_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


class RefusedAddress(Exception):
    """The destination is, or resolves to, an address the host never sends to."""


def refusal(address: str | IPAddress, *, public_only: bool = False) -> str | None:
    """Why ``address`` is refused (None: it is not); ``public_only``: also every address that is not public."""
    parsed = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped  # ::ffff:169.254.169.254 reaches the IPv4 address
    for network in REFUSED_NETWORKS:
        if parsed in network:
            return f"{parsed} is a link-local or cloud-metadata address ({network})"
    if public_only and (not parsed.is_global or parsed.is_multicast):
        return f"{parsed} is not a public address (loopback, private, reserved or multicast)"
    return None


def literal(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (``[::1]`` too), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, each once."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def checked_addresses(
    host: str, port: int, resolver: Resolver = system_resolver, *, public_only: bool = False
) -> list[str]:
    """Every address ``host`` resolves to, once each has been checked; :class:`RefusedAddress` when any is refused
    (a name that also points at a metadata address is not trusted with the others). Raises ``OSError`` when the
    name does not resolve."""
    given = literal(host)
    addresses = [str(given)] if given is not None else list(resolver(host, port))
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    for address in addresses:
        why = refusal(address, public_only=public_only)
        if why is not None:
            shown = "" if given is not None else f"{host} resolves to "
            raise RefusedAddress(f"{shown}{why}: the host never sends there")
    return addresses
