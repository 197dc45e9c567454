"""Deployment checks (``manage.py check --deploy``) for mistakes Django's own checks let through."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

#: Keys that were ever published with this project (defaults in settings or docker-compose.yml).
#: With a known key anyone can forge signed media URLs, sessions and password-reset links.
KNOWN_SECRET_KEYS = frozenset(
    {
        "dev-insecure-change-me-0123456789abcdefghijklmnopqrstuvwxyz",
        "change-me-to-a-long-random-string-0123456789abcdef",
    }
)
PLACEHOLDER_MARKERS = ("change-me", "changeme", "insecure", "replace-me", "your-secret", "example")


@register(Tags.security, deploy=True)
def check_secret_key_is_not_known(app_configs=None, **kwargs) -> list[CheckMessage]:  # noqa: ARG001 - system check signature
    key = str(getattr(settings, "SECRET_KEY", "") or "")
    lowered = key.lower()
    if key in KNOWN_SECRET_KEYS or any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return [
            Error(
                "SECRET_KEY is a published default or a placeholder; anyone could forge signed "
                "media URLs and sessions.",
                hint='Set SECRET_KEY to a new random value, e.g. python -c "import secrets; '
                'print(secrets.token_urlsafe(50))".',
                id="crm.E001",
            )
        ]
    return []
