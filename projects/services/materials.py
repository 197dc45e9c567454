"""Materials and their inspection reports."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.uploads import inspect_image, validate_document_file
from projects.models import (
    Material,
    MaterialReport,
    Project,
)


@transaction.atomic
def material_create(*, tenant: Tenant, project: Project, created_by: User, **fields: Any) -> Material:
    material = Material(tenant=tenant, project=project, created_by=created_by, **fields)
    material.full_clean(exclude=["tenant", "project", "created_by"])
    if material.quantity <= 0:
        raise ValidationError({"quantity": _("数量必须大于 0。")})
    material.save()
    return material


def validate_report_upload(upload: UploadedFile) -> bytes:
    """A QC report is a PDF or an image, checked by content within the caps (crm.uploads)."""
    try:
        validate_document_file(upload)
    except ValidationError as error:
        raise ValidationError({"file": [error]}) from None
    data = upload.read()
    upload.seek(0)
    return data


@transaction.atomic
def material_report_add(
    *, tenant: Tenant, material: Material, title: str, file: UploadedFile
) -> MaterialReport:
    if not (title or "").strip():
        raise ValidationError({"title": _("请填写报告名称。")})
    data = validate_report_upload(file)
    report = MaterialReport(tenant=tenant, material=material, title=title.strip())
    extension = "pdf" if data.startswith(b"%PDF-") else inspect_image(file).extension
    report.file.save(f"report.{extension}", ContentFile(data), save=False)
    report.save()
    return report
