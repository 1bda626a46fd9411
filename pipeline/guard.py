"""The private-address guard: where a connection may go.

A document decides which URLs citewatch fetches, so by default no connection goes to a
loopback, private, link-local, multicast or unspecified address. The decision is made where
connections are opened (see `pipeline.http`), against every address a name resolves to, and
the socket then goes to the address that was checked. `ConnectTo` (curl's --connect-to) is
also here: it is the guard that decides where a host's connections really go.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Iterable

import yarl


class AddressRefused(Exception):
    """The guard refused to connect: the destination is loopback, private, link-local, …"""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the guard ------------------------------------------------------------------------


def forbidden_reason(ip: str) -> str | None:
    """Why connecting to this address is refused by default, or None when it is public."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for attribute, name in (
        ("is_loopback", "a loopback"),
        ("is_unspecified", "an unspecified"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(address, attribute):
            return f"{name} address"
    if not address.is_global:
        return "a non-public address"
    return None


@dataclasses.dataclass(frozen=True)
class ConnectTo:
    """curl's --connect-to: requests for HOST1:PORT1 connect to HOST2:PORT2 instead."""

    host: str  # "" matches any host, "*.example" any name under example
    port: int | None  # None matches any port
    target_host: str
    target_port: int | None  # None keeps the request's port

    @classmethod
    def parse(cls, spec: str) -> ConnectTo:
        parts = _split_hostport_list(spec)
        if len(parts) != 4:
            raise ValueError(f"connect_to entry {spec!r} is not HOST1:PORT1:HOST2:PORT2")
        host, port, target_host, target_port = parts
        if not target_host:
            raise ValueError(f"connect_to entry {spec!r} has no target host")
        try:
            return cls(
                host.lower().rstrip("."),
                int(port) if port else None,
                target_host,
                int(target_port) if target_port else None,
            )
        except ValueError:
            raise ValueError(f"connect_to entry {spec!r} has a port that is not a number") from None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return not self.host or self.host == host


def _split_hostport_list(spec: str) -> list[str]:
    """Split on ':' outside [brackets], so IPv6 targets can be written [::1]."""
    parts, current, depth = [], "", 0
    for char in spec:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip("[]") for part in parts]


class Guard:
    """Decides where a connection to (host, port) goes, and refuses private destinations.

    Destinations the operator configured (connect_to targets, archive endpoints, proxies)
    are trusted; everything else, which may come from a document, is resolved and every
    address checked unless private addresses are allowed."""

    def __init__(
        self,
        allow_private: bool = False,
        connect_to: Iterable[ConnectTo] = (),
        trusted: Iterable[tuple[str, int]] = (),
    ) -> None:
        self.allow_private = allow_private
        self.connect_to = tuple(connect_to)
        self.trusted = frozenset((host.lower(), port) for host, port in trusted)

    def route(self, host: str, port: int) -> list[tuple[str, int]]:
        """Addresses to connect to, in order. Raises AddressRefused, or socket.gaierror
        when the name does not resolve."""
        name = host.lower().strip("[]").rstrip(".")
        for rule in self.connect_to:
            if rule.matches(name, port):
                return _resolve(rule.target_host, rule.target_port or port)
        addresses = _resolve(name, port)
        if self.allow_private or (name, port) in self.trusted:
            return addresses
        for ip, _ in addresses:
            reason = forbidden_reason(ip)
            if reason:
                shown = f"{name} is" if name == ip else f"{name} resolves to {ip},"
                raise AddressRefused(f"refused: {shown} {reason} ({_ALLOW_HINT})")
        return addresses

    def check_url(self, url: str) -> None:
        """Refuse without any DNS look-up what the URL itself shows to be private (an IP
        literal, `localhost`). Needed when a proxy, not us, resolves the name."""
        name, port = host_port(url)
        if self.allow_private or (name, port) in self.trusted:
            return
        if any(rule.matches(name, port) for rule in self.connect_to):
            return
        if name == "localhost" or name.endswith(".localhost"):  # RFC 6761
            raise AddressRefused(f"refused: {name} is a loopback name ({_ALLOW_HINT})")
        address = literal_address(name)
        if address is None:
            return  # a name, not an address: the proxy resolves it (docs/security.md, "Safe by default")
        reason = forbidden_reason(address)
        if reason:
            shown = name if name == address else f"{name} (that is {address})"
            raise AddressRefused(f"refused: {shown} is {reason} ({_ALLOW_HINT})")


def host_port(url: str) -> tuple[str, int]:
    """The URL's host (lower case, no brackets or final dot) and port (the scheme's default
    when none is written)."""
    parsed = yarl.URL(url)
    name = (parsed.host or "").lower().strip("[]").rstrip(".")
    return name, parsed.port or (443 if parsed.scheme == "https" else 80)


_ALLOW_HINT = "set CITEWATCH_ALLOW_PRIVATE=1 to allow"
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}\.?$", re.IGNORECASE)


def literal_address(name: str) -> str | None:
    """The IP address a host name written as a literal stands for, or None for a real name.
    Beside the usual forms, the legacy IPv4 ones that resolvers and proxies still accept
    (inet_aton: hexadecimal `0x7f.1`, octal `0177.0.0.1`, short `127.1`, one integer
    `2130706433`), so that no spelling of an address slips past as a "name"."""
    try:
        return str(ipaddress.ip_address(name.split("%", 1)[0]))
    except ValueError:
        pass
    if _NUMERIC_HOST.match(name):
        try:
            return socket.inet_ntoa(socket.inet_aton(name.rstrip(".")))
        except OSError:
            return "0.0.0.0"  # numeric but not an address anyone should reach: refuse it as unspecified
    return None


def _resolve(host: str, port: int) -> list[tuple[str, int]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[tuple[str, int]] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = (str(sockaddr[0]), int(sockaddr[1]))
        if address not in seen:
            seen.append(address)
    return seen
