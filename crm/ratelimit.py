"""Client address and rate limits: one mechanism for the API (DRF throttles) and for pages.

``X-Forwarded-For`` is written by the client unless a proxy we trust overwrote it, so the client
address is read through one setting, ``TRUSTED_PROXY_COUNT`` (default 0: the header is ignored and
``REMOTE_ADDR`` is the client). DRF (``NUM_PROXIES``) and django-axes (``AXES_CLIENT_IP_CALLABLE``)
are configured from the same setting, so every limit sees the same address.

Counters live in the default cache (Redis in production) as sliding-window counters; ``cache.incr``
is atomic, so parallel requests can't slip past a limit the way a read-modify-write history can. Rates live in
``settings.RATE_LIMITS`` (``"60/min"``, ``"10/10min"``, ``"20/h"``, ``"100/day"``).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

KEY_PREFIX = "rl"
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_UNITS |= {"d": 86400, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


# --------------------------------------------------------------------------- client address


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or with N trusted proxies the address the outermost
    of them saw (N-th entry from the right of ``X-Forwarded-For``; each proxy appends its peer)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def client_ident(request: HttpRequest) -> str:
    """What a per-address limit counts: the IPv4 address, or the IPv6 /64 (one subscriber's block,
    which an attacker can rotate through freely)."""
    address = client_ip(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


# --------------------------------------------------------------------------- rates and counters


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text.lower())
        if not match or match.group(3) not in _UNITS:
            raise ValueError(f"bad rate {text!r}: expected e.g. '60/min', '10/10min', '100/day'")
        count, multiple, unit = match.groups()
        return cls(limit=int(count), seconds=int(multiple or 1) * _UNITS[unit])


class RateLimited(Exception):
    """Over a limit; ``retry_after`` is the number of seconds until the window resets."""

    def __init__(self, retry_after: int):
        super().__init__(retry_after)
        self.retry_after = retry_after


def rate_for(scope: str) -> Rate:
    return Rate.parse(settings.RATE_LIMITS[scope])


def _key(scope: str, ident: str, window: int) -> str:
    # Idents may be secrets (an intake key): only a digest reaches the cache.
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{scope}:{digest}:{window}"


def _estimate(scope: str, ident: str, rate: Rate, *, count_this: bool) -> tuple[float, int]:
    """(events in the sliding window, seconds to wait if that's over the limit).

    Sliding-window counter: this fixed window's count plus the previous window's, weighted by
    how much of it still overlaps the last ``rate.seconds`` — so a burst across a window boundary
    is still one burst.
    """
    now = time.time()
    window = int(now // rate.seconds)
    elapsed = now - window * rate.seconds
    key = _key(scope, ident, window)
    if count_this:
        cache.add(key, 0, timeout=2 * rate.seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=2 * rate.seconds + 1)
            count = 1
    else:
        count = cache.get(key) or 0
    previous = cache.get(_key(scope, ident, window - 1)) or 0
    estimate = previous * (1 - elapsed / rate.seconds) + count
    if count >= rate.limit or not previous:
        wait = rate.seconds - elapsed
    else:  # until the previous window's weight has decayed enough
        wait = rate.seconds * (1 - (rate.limit - count) / previous) - elapsed
    return estimate, max(1, math.ceil(wait))


def hit(scope: str, ident: str, *, rate: Rate | None = None) -> None:
    """Count one event for ``ident`` in ``scope``; raise :class:`RateLimited` once over the limit."""
    rate = rate or rate_for(scope)
    estimate, wait = _estimate(scope, ident, rate, count_this=True)
    if estimate > rate.limit:
        raise RateLimited(wait)


def check(scope: str, ident: str, *, rate: Rate | None = None) -> None:
    """Raise :class:`RateLimited` if ``ident`` already used up ``scope`` (without counting)."""
    rate = rate or rate_for(scope)
    estimate, wait = _estimate(scope, ident, rate, count_this=False)
    if estimate >= rate.limit:
        raise RateLimited(wait)


# --------------------------------------------------------------------------- API and pages


class ClientRateThrottle(BaseThrottle):
    """DRF throttle: per client address under ``scope``; subclasses add more buckets (e.g. per key).

    Over the limit DRF answers 429 JSON with ``Retry-After``.
    """

    scope = "api_ip"

    def buckets(self, request, view) -> Iterable[tuple[str, str]]:
        return [(self.scope, client_ident(request))]

    def allow_request(self, request, view) -> bool:
        self._wait: int | None = None
        try:
            for scope, ident in self.buckets(request, view):
                hit(scope, ident)
        except RateLimited as error:
            self._wait = error.retry_after
            return False
        return True

    def wait(self) -> int | None:
        return self._wait

    def get_ident(self, request) -> str:
        return client_ident(request)


def rate_limited_response(request: HttpRequest, error: RateLimited, template: str = "") -> HttpResponse:
    """The page answer: a translated 429 page with ``Retry-After``."""
    response = render(
        request,
        template or "rate_limited.html",
        {"retry_after": error.retry_after, "retry_minutes": math.ceil(error.retry_after / 60)},
        status=429,
    )
    response["Retry-After"] = str(error.retry_after)
    return response


def limit_page(scope: str, *, methods: Iterable[str] = ("POST",)) -> Callable:
    """View decorator (use ``method_decorator`` on class views): per client address under ``scope``."""
    methods = {method.upper() for method in methods}

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if request.method in methods:
                try:
                    hit(scope, client_ident(request))
                except RateLimited as error:
                    return rate_limited_response(request, error)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
