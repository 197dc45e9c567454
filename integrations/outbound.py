"""Outbound HTTP to addresses a tenant typed in: refuse internal targets, connect to what was checked.

A URL is checked when it is saved (:func:`check_url_syntax`) and again at every send
(:func:`resolve_public_address`), because DNS can change between the two. The connection then
goes to the address that passed the check (the hostname is kept for the ``Host`` header and for
TLS SNI / certificate verification), so a second DNS answer cannot point the request at the
intranet (DNS rebinding). No proxies from the environment, no redirects followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

MAX_TIMEOUT_SECONDS = 5.0
RESPONSE_SNIPPET_BYTES = 1024
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeTarget(Exception):
    """The URL or the address it resolves to must not be called (retrying cannot help)."""


@dataclass
class HttpResult:
    status: int
    duration_ms: int
    body_snippet: str


def timeout_seconds() -> float:
    return min(
        float(getattr(settings, "CRM_WEBHOOK_TIMEOUT_SECONDS", MAX_TIMEOUT_SECONDS)), MAX_TIMEOUT_SECONDS
    )


def loopback_allowed() -> bool:
    """Tests (and local development) post to 127.0.0.1; production never does."""
    return bool(getattr(settings, "CRM_WEBHOOK_ALLOW_LOOPBACK", False))


def check_url_syntax(url: str) -> urllib.parse.SplitResult:
    """http/https with a host, no credentials; a literal IP must pass the address rule too."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError as error:  # e.g. an unbalanced "[" in the host
        raise UnsafeTarget("malformed URL") from error
    if parts.scheme not in ("http", "https") or not hostname:
        raise UnsafeTarget("only http:// and https:// URLs with a host are allowed")
    if any(char.isspace() for char in url.strip()):
        raise UnsafeTarget("whitespace in the URL")
    if parts.username or parts.password:
        raise UnsafeTarget("credentials in the URL are not allowed")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as error:
        raise UnsafeTarget("invalid port") from error
    try:
        literal = ipaddress.ip_address(hostname)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal)
    return parts


def check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Refuse loopback (unless allowed), private, link-local, multicast, reserved, metadata."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        raise UnsafeTarget(f"address {address} is a cloud metadata address")
    if address.is_loopback:
        if loopback_allowed():
            return
        raise UnsafeTarget(f"address {address} is loopback")
    for attribute in ("is_link_local", "is_multicast", "is_reserved", "is_unspecified", "is_private"):
        if getattr(address, attribute):
            raise UnsafeTarget(f"address {address} is {attribute.removeprefix('is_').replace('_', '-')}")
    if not address.is_global:  # shared address space (100.64/10), documentation ranges …
        raise UnsafeTarget(f"address {address} is not a public address")


def resolve_public_address(host: str, port: int) -> str:
    """Resolve ``host`` now and return an address to connect to; every answer must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OSError(f"cannot resolve {host}")
    for address in addresses:  # one bad answer refuses: a round-robin must not reach the intranet
        check_address(address)
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self._tls_context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls_context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # SNI and certificate checks against the hostname, the TCP connection to the checked address
        self.sock = self._tls_context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResult:
    """POST ``body`` to ``url`` through the SSRF guard; raises UnsafeTarget or OSError (timeouts)."""
    parts = check_url_syntax(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve_public_address(parts.hostname or "", port)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(parts.hostname or "", port, address=address, timeout=timeout_seconds())
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    started = time.monotonic()
    try:
        connection.request("POST", path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        snippet = response.read(RESPONSE_SNIPPET_BYTES)
        return HttpResult(
            status=response.status,
            duration_ms=int((time.monotonic() - started) * 1000),
            body_snippet=snippet.decode("utf-8", "replace"),
        )
    finally:
        connection.close()
