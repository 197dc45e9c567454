"""Bearer secrets (API tokens, intake keys, share links): shown once, stored only as SHA-256.

A secret is a long random string, optionally ``<kind>_<prefix>_<random>`` so a leaked one is
recognisable (secret scanners, logs) and the short public ``prefix`` identifies it in lists
without revealing it. Lookups hash the presented value and compare digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

SECRET_BYTES = 32  # 256 bits: unguessable, so a fast hash (no salt, no stretching) is enough


class IssuedSecret(NamedTuple):
    plaintext: str  # give to the holder once; never stored
    prefix: str  # public, shown in lists
    digest: str  # what is stored and looked up


def hash_secret(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def secret_matches(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(hash_secret(plaintext), digest)


def issue_secret(kind: str = "") -> IssuedSecret:
    """``kind_<8 hex>_<random>`` with ``prefix`` the 8 hex digits; without ``kind`` a bare random
    string (short enough for a URL) whose first 8 characters are the prefix."""
    random_part = secrets.token_urlsafe(SECRET_BYTES)
    if kind:
        prefix = secrets.token_hex(4)
        plaintext = f"{kind}_{prefix}_{random_part}"
    else:
        prefix, plaintext = random_part[:8], random_part
    return IssuedSecret(plaintext=plaintext, prefix=prefix, digest=hash_secret(plaintext))
