"""Site photos: validated uploads stored with thumbnails (used by logs and inspections)."""

from __future__ import annotations

import io
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from crm.models import Tenant
from crm.uploads import inspect_image
from projects.models import (
    SitePhoto,
)

MAX_PHOTOS_PER_LOG = 9


THUMBNAIL_SIZE = (320, 320)


def validate_image_upload(upload: UploadedFile, *, field: str = "photos") -> tuple[bytes, object]:
    """Size, type and pixel caps from the header (crm.uploads), then one bounded decode."""
    from PIL import Image

    try:
        inspect_image(upload)
    except ValidationError as error:
        raise ValidationError({field: [error]}) from None
    data = upload.read()
    upload.seek(0)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            {field: _("「%(name)s」不是有效的图片文件（仅支持 JPG、PNG、WebP）。") % {"name": upload.name}},
            code="invalid_image",
        ) from None
    return data, image


def _thumbnail_bytes(image: Any) -> bytes:  # a decoded PIL image
    from PIL import ImageOps

    thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _store_photo(
    *,
    tenant: Tenant,
    upload: UploadedFile,  # noqa: ARG001 - callers pass it; kept for the signature
    data: bytes,
    image: Any,  # a decoded PIL image (format known)
    **owner: Any,
) -> SitePhoto:
    """Write through Django's storage API (local disk or S3-compatible, per STORAGES)."""
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[image.format]
    photo = SitePhoto(tenant=tenant, width=image.width, height=image.height, size_bytes=len(data), **owner)
    photo.image.save(f"photo.{extension}", ContentFile(data), save=False)
    photo.thumbnail.save("thumb.jpg", ContentFile(_thumbnail_bytes(image)), save=False)
    photo.save()
    return photo


def _validated_photos(uploads: list[UploadedFile], *, already: int = 0) -> list[tuple]:
    if already + len(uploads) > MAX_PHOTOS_PER_LOG:
        raise ValidationError(
            {"photos": _("每条日志最多 %(count)s 张照片。") % {"count": MAX_PHOTOS_PER_LOG}}
        )
    return [(upload, *validate_image_upload(upload)) for upload in uploads]
