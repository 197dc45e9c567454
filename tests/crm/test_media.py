"""Uploaded files are served only through expiring signed URLs."""

from __future__ import annotations

import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from crm.media import media_signature_valid, sign_media_name


def test_signed_url_serves_the_file_and_tampering_or_no_signature_is_404(client, db):
    name = default_storage.save("projects/1/photos/test-signed.txt", ContentFile(b"site photo bytes"))
    url = default_storage.url(name)
    assert "?s=" in url
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"site photo bytes"
    assert response["Cache-Control"].startswith("private")
    assert client.get(url.split("?")[0]).status_code == 404
    assert client.get(url[:-3] + "abc").status_code == 404
    other = default_storage.save("projects/2/photos/other.txt", ContentFile(b"other tenant"))
    assert client.get(f"/media/{other}?s={url.split('?s=')[1]}").status_code == 404  # signature is per file


def test_signature_expires(settings):
    settings.MEDIA_URL_MAX_AGE = 7200
    now = time.time()
    token = sign_media_name("a/b.jpg", now=now)
    assert media_signature_valid("a/b.jpg", token, now=now)
    assert not media_signature_valid("a/b.jpg", token, now=now + 7201)
    assert not media_signature_valid("a/c.jpg", token, now=now)


def test_urls_are_stable_within_the_hour(settings):
    settings.MEDIA_URL_MAX_AGE = 86400
    base = 1_800_000_000 - 1_800_000_000 % 3600 + 10
    assert sign_media_name("x.jpg", now=base) == sign_media_name("x.jpg", now=base + 60)
