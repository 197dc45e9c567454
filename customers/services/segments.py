"""Saved customer segments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from customers.models import (
    Customer,
    Segment,
)


@transaction.atomic
def segment_save(
    *, tenant: Tenant, created_by: User, name: str, filters: dict, segment: Segment | None = None
) -> Segment:
    """Managers save a named filter set; the filters are validated by the list's filterset."""
    from customers.filters import CustomerFilter

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写分群名称。")})
    if not isinstance(filters, dict):
        raise ValidationError({"filters": _("筛选条件格式不正确。")})
    clean = {
        key: value
        for key, value in filters.items()
        if key in CustomerFilter.base_filters and value not in ("", None, [])
    }
    unknown = set(filters) - set(CustomerFilter.base_filters) - {"page", "page_size", "segment"}
    if unknown:
        raise ValidationError(
            {"filters": _("未知的筛选条件：%(names)s") % {"names": _("、").join(sorted(unknown))}}
        )
    form = CustomerFilter(data=clean, queryset=Customer.objects.none()).form
    if not form.is_valid():
        raise ValidationError(
            {"filters": [f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()]}
        )
    duplicate_error = ValidationError(
        {"name": ValidationError(_("已有同名分群。"), code="segment_name_taken")}
    )
    duplicate = Segment.objects.filter(name=name)
    if segment is not None:
        duplicate = duplicate.exclude(pk=segment.pk)
    if duplicate.exists():
        raise duplicate_error
    segment = segment or Segment(tenant=tenant, created_by=created_by)
    segment.name = name
    segment.filters = clean
    try:
        with transaction.atomic():  # the unique constraint decides a concurrent same-name save
            segment.save()
    except IntegrityError as error:
        if "customers_segment_name_uniq" not in str(error):
            raise
        raise duplicate_error from None
    return segment
