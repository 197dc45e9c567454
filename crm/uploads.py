"""Every uploaded file goes through here: bounded size, type by content, pixel cap before decoding.

Why one module: a 40 MB image got in through one endpoint while another capped at 10 MB, and a
518 KB PNG claiming 13000×13000 pixels made a worker allocate ~2 GB while decoding. So:

* one validator per kind of upload (image, document, spreadsheet import), used as the field
  validator of forms and serializers alike and again by the services that store the file;
* the type comes from the bytes (magic numbers / Pillow's parser), never the name or the
  ``Content-Type`` the client sent;
* an image's dimensions are read from its header and checked against a pixel cap *before* any
  pixel is decoded; Pillow's own decompression-bomb guard is set to the same cap as a backstop;
* a file written to storage inside a transaction that then rolls back is deleted again
  (:func:`delete_on_rollback`, wired into the storage and swept by
  :class:`RolledBackFilesCleanupMiddleware` and after each Celery task).
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import Storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger("crm.uploads")

IMAGE_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
IMAGE_ACCEPT = "image/jpeg,image/png,image/webp"
DOCUMENT_ACCEPT = f"application/pdf,{IMAGE_ACCEPT}"
IMPORT_ACCEPT = ".csv,.xlsx"
MB = 1024 * 1024


def max_image_bytes() -> int:
    return int(getattr(settings, "UPLOAD_MAX_IMAGE_BYTES", 10 * MB))


def max_image_pixels() -> int:
    return int(getattr(settings, "UPLOAD_MAX_IMAGE_PIXELS", 50_000_000))


def max_document_bytes() -> int:
    return int(getattr(settings, "UPLOAD_MAX_DOCUMENT_BYTES", 10 * MB))


def max_import_bytes() -> int:
    return int(getattr(settings, "UPLOAD_MAX_IMPORT_BYTES", 5 * MB))


def max_import_unpacked_bytes() -> int:
    """An .xlsx is a zip: bound what openpyxl would inflate, not only what was sent."""
    return int(getattr(settings, "UPLOAD_MAX_IMPORT_UNPACKED_BYTES", 50 * MB))


def configure_pillow() -> None:
    """Make Pillow's own decompression-bomb guard match our pixel cap (a backstop for any decode)."""
    Image.MAX_IMAGE_PIXELS = max_image_pixels()


# --- validation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """What the header says; enough to store the file without decoding it again."""

    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return IMAGE_EXTENSIONS[self.format]


def _name(upload: Any) -> str:
    return getattr(upload, "name", None) or _("文件")


def _megabytes(limit: int) -> str:
    return f"{limit / MB:g}"


def _check_size(upload: Any, limit: int) -> None:
    size = getattr(upload, "size", None)
    if size is None:
        upload.seek(0, 2)
        size = upload.tell()
    if size > limit:
        raise ValidationError(
            _("「%(name)s」超过 %(limit)s MB，请压缩后再上传。"),
            code="file_too_large",
            params={"name": _name(upload), "limit": _megabytes(limit)},
        )
    if size == 0:
        raise ValidationError(_("「%(name)s」是空文件。"), code="empty_file", params={"name": _name(upload)})


def inspect_image(upload: Any) -> ImageInfo:
    """Size cap, type by content and pixel cap, from the header only (no pixel is decoded)."""
    _check_size(upload, max_image_bytes())
    name = _name(upload)
    upload.seek(0)
    try:
        with Image.open(upload) as probe:  # lazy: parses the header, leaves the pixel data alone
            image_format, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError:
        width = height = 0  # Pillow refused even the header: far beyond the cap
        image_format = "bomb"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("「%(name)s」不是有效的图片文件（仅支持 JPG、PNG、WebP）。"),
            code="invalid_image",
            params={"name": name},
        ) from None
    finally:
        upload.seek(0)
    if image_format != "bomb" and image_format not in IMAGE_EXTENSIONS:
        raise ValidationError(
            _("「%(name)s」格式为 %(format)s，仅支持 JPG、PNG、WebP。"),
            code="unsupported_image_type",
            params={"name": name, "format": image_format},
        )
    if image_format == "bomb" or width * height > max_image_pixels():
        raise ValidationError(
            _("「%(name)s」的分辨率过大（最多 %(megapixels)s 百万像素），请缩小后再上传。"),
            code="image_too_many_pixels",
            params={"name": name, "megapixels": f"{max_image_pixels() / 1_000_000:g}"},
        )
    return ImageInfo(format=image_format, width=width, height=height)


def validate_image_file(upload: Any) -> None:
    """Field validator: a JPEG/PNG/WebP within the size and pixel caps (see :func:`inspect_image`)."""
    inspect_image(upload)


def validate_document_file(upload: Any) -> None:
    """Field validator for reports: a PDF (by its magic bytes) or an image, within the size cap."""
    _check_size(upload, max_document_bytes())
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if head == b"%PDF-":
        return
    try:
        inspect_image(upload)
    except ValidationError as error:
        if error.code in ("file_too_large", "image_too_many_pixels"):
            raise
        raise ValidationError(
            _("「%(name)s」不是 PDF 或图片。"), code="unsupported_file_type", params={"name": _name(upload)}
        ) from None


def validate_import_file(upload: Any) -> None:
    """Field validator for imports: a real .xlsx (bounded when unpacked) or a UTF-8 text .csv."""
    _check_size(upload, max_import_bytes())
    name = _name(upload)
    wrong_type = ValidationError(
        _("「%(name)s」的内容与文件类型不符（只支持 .csv 和 .xlsx 文件）。"),
        code="unsupported_file_type",
        params={"name": name},
    )
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    is_zip = head.startswith(b"PK\x03\x04")
    if name.lower().endswith(".xlsx"):
        if not is_zip:
            raise wrong_type
        try:
            with zipfile.ZipFile(upload) as archive:
                members = archive.infolist()
                names = {member.filename for member in members}
                unpacked = sum(member.file_size for member in members)
        except (zipfile.BadZipFile, OSError, ValueError):
            raise wrong_type from None
        finally:
            upload.seek(0)
        if "xl/workbook.xml" not in names:
            raise wrong_type
        if unpacked > max_import_unpacked_bytes():
            raise ValidationError(
                _("「%(name)s」解压后过大，请拆分后再导入。"), code="file_too_large", params={"name": name}
            )
    elif name.lower().endswith(".csv"):
        if is_zip or b"\x00" in head:
            raise wrong_type
    else:
        raise ValidationError(_("只支持 .csv 和 .xlsx 文件。"), code="unsupported_file_type")


# --- form fields -----------------------------------------------------------------------------


class ImageUploadField(forms.FileField):
    """One photo, checked by :func:`validate_image_file`."""

    default_validators = [validate_image_file]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}))
        super().__init__(*args, **kwargs)


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageUploadField(forms.FileField):
    """Several photos in one input (``multiple``); each is checked by :func:`validate_image_file`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleImageInput(attrs={"multiple": True, "accept": IMAGE_ACCEPT}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        items = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not items:
            super().clean(None, initial)  # "required" handling
            return []
        cleaned = [super(MultipleImageUploadField, self).clean(item, initial) for item in items]
        errors: list[ValidationError] = []
        for item in cleaned:
            try:
                validate_image_file(item)
            except ValidationError as error:
                errors.append(error)
        if errors:
            raise ValidationError(errors)
        return cleaned


class DocumentUploadField(forms.FileField):
    default_validators = [validate_document_file]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT}))
        super().__init__(*args, **kwargs)


class ImportUploadField(forms.FileField):
    default_validators = [validate_import_file]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": IMPORT_ACCEPT}))
        super().__init__(*args, **kwargs)


def images_from_request(files: Any, field_name: str) -> list:
    """Validated photos of a ``multiple`` input that is not part of a form class."""
    return MultipleImageUploadField(required=False).clean(files.getlist(field_name))


# --- files written in a transaction that rolls back ------------------------------------------

_PENDING_ATTR = "_crm_files_pending_commit"


@dataclass(eq=False)
class _Pending:
    storage: Storage
    name: str
    committed: bool = False
    hook: Any = field(default=None, repr=False)

    def confirm(self) -> None:
        self.committed = True


def delete_on_rollback(storage: Storage, name: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete ``name`` from ``storage`` if the surrounding atomic block rolls back.

    Django has no on-rollback hook, so we register a confirmation hook that runs on commit and let
    :func:`remove_rolled_back_files` delete what was never confirmed once the block is over. The
    hook goes *first* in the commit queue (with Django's own savepoint bookkeeping, so a rolled-back
    savepoint discards it): another hook that raises cannot make a committed file look rolled back.
    Outside a transaction (autocommit) there is nothing to undo.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        return
    pending = _Pending(storage=storage, name=name)
    pending.hook = pending.confirm  # one bound method, so it can be found in the queue later
    # The stubs predate the third ("robust") item Django 5 keeps in run_on_commit.
    connection.run_on_commit.insert(0, (set(connection.savepoint_ids), pending.hook, True))  # type: ignore[arg-type]
    connection.__dict__.setdefault(_PENDING_ATTR, []).append(pending)


def remove_rolled_back_files() -> list[str]:
    """Delete the files whose transaction rolled back; keep those still waiting for a commit.

    Safe to call at any time: a file is deleted only when its confirmation hook is gone from the
    connection's commit queue without having run (its savepoint or transaction rolled back).
    """
    removed: list[str] = []
    for connection in connections.all(initialized_only=True):
        pending: list[_Pending] = connection.__dict__.get(_PENDING_ATTR) or []
        if not pending:
            continue
        queued = {id(hook) for _sids, hook, _robust in connection.run_on_commit}  # type: ignore[misc]  # as above
        still_open: list[_Pending] = []
        for entry in pending:
            if entry.committed:
                continue
            if id(entry.hook) in queued:
                still_open.append(entry)
                continue
            try:
                entry.storage.delete(entry.name)
                removed.append(entry.name)
            except Exception:  # a leftover file is better than a failed request
                logger.exception("could not delete %s after rollback", entry.name)
        connection.__dict__[_PENDING_ATTR] = still_open
    return removed


class RollbackSafeStorageMixin:
    """Storage mixin: every file saved inside a transaction is removed again if it rolls back."""

    def _save(self, name: str, content: Any) -> str:
        saved = super()._save(name, content)  # type: ignore[misc]
        delete_on_rollback(self, saved)  # type: ignore[arg-type]
        return saved


class RolledBackFilesCleanupMiddleware:
    """Wraps the request transaction (place it before ``TenantMiddleware``): after the response,
    files written by a request that rolled back (any >= 400 response) are deleted."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        try:
            return self.get_response(request)
        finally:
            remove_rolled_back_files()
