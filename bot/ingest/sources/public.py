"""Refuse feed URLs that point into the server's own network (SSRF guard for remote front ends).

Sources are added by operators only (`paperbot sources add`, PAPERBOT_SOURCES); no Slack command or web
page adds one. A front end that ever lets remote users add sources must pass the URL through
`check_public_url` first:

    >>> check_public_url("https://rss.arxiv.org/rss/cs.LG", resolve=lambda host: ["151.101.3.42"])
    'https://rss.arxiv.org/rss/cs.LG'
    >>> check_public_url("http://10.0.0.7/feed")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    bot.errors.InvalidInput: http://10.0.0.7/feed points at 10.0.0.7, a private address; ...
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from bot.errors import InvalidInput

__all__ = ["check_public_url"]

Resolver = Callable[[str], Iterable[str]]


def _resolve(host: str) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]
    except socket.gaierror as exc:
        raise InvalidInput(f"the host {host!r} does not resolve ({exc.strerror})") from None


def check_public_url(url: str, *, resolve: Resolver = _resolve) -> str:
    """`url` if it is http(s) and every address its host has is public, else InvalidInput.

    A literal IP is judged as written (IPv4-mapped IPv6 by its IPv4 address); a host name by what
    `resolve` returns (DNS by default), so "localhost" and names that point inside are refused too.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{url} is not an http(s) URL; only web feeds can be added")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host)]
    if not addresses:
        raise InvalidInput(f"the host {host!r} has no address")
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            kind = "a loopback" if address.is_loopback else "a private"
            raise InvalidInput(f"{url} points at {address}, {kind} address; only public feeds can be added")
    return url
