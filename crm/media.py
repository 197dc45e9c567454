"""Uploaded files (site photos, QC reports, visit photos) behind expiring signed URLs.

Files are personal data of a tenant's customers, so ``/media/`` is not a public folder: the
storage's ``url()`` signs each name with an expiry, and :func:`serve_media` serves a file only
for a valid, unexpired signature. Staff pages and the customer's share-link pages both just use
``file.url``. The expiry is rounded to the hour so a page's URLs stay stable (cacheable) and a
leaked URL stops working after ``MEDIA_URL_MAX_AGE`` seconds at most. With S3-compatible storage,
use its presigned URLs (querystring auth) for the same effect.
"""

from __future__ import annotations

import math
import time
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.http import Http404
from django.utils.translation import gettext
from django.views.static import serve

from crm.uploads import RollbackSafeStorageMixin

SALT = "crm.media"
ROUND_SECONDS = 3600


def _max_age() -> int:
    return int(getattr(settings, "MEDIA_URL_MAX_AGE", 24 * 3600))


def sign_media_name(name: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    expires = math.ceil((now + _max_age() - ROUND_SECONDS) / ROUND_SECONDS) * ROUND_SECONDS
    return signing.Signer(salt=SALT).sign(f"{name}|{expires}").rsplit(":", 1)[1] + f".{expires}"


def media_signature_valid(name: str, token: str, now: float | None = None) -> bool:
    signature, _, expires = token.rpartition(".")
    if not signature or not expires.isdigit():
        return False
    try:
        signing.Signer(salt=SALT).unsign(f"{name}|{expires}:{signature}")
    except signing.BadSignature:
        return False
    return int(expires) > (time.time() if now is None else now)


class SignedUrlFileSystemStorage(RollbackSafeStorageMixin, FileSystemStorage):
    """Local-disk storage whose URLs carry an expiring signature (see module docstring).

    A file saved inside a transaction that rolls back is deleted again (crm.uploads).
    """

    def url(self, name: str | None) -> str:
        base = super().url(name)
        return f"{base}?s={quote(sign_media_name(name))}"  # type: ignore[arg-type]  # stub allows None; never passed


def serve_media(request, path: str):
    """Serve an uploaded file for a valid signature; anything else is a plain 404."""
    if ".." in path.split("/") or not media_signature_valid(path, request.GET.get("s", "")):
        raise Http404(gettext("文件不存在或链接已过期。"))
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
