"""Inspection and re-inspection actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    Rectification,
)
from projects.services import (
    inspections,
)
from projects.views._common import ProjectActionView


class InspectionCreateView(ProjectActionView):
    action_permission = "projects.inspect"
    form_name = "inspection_form"
    tab = "inspections"

    def act(self, request):
        self.form = forms.InspectionForm(
            request.POST, request.FILES, checklist=inspections.checklist_items(tenant=self.tenant)
        )
        if not self.form.is_valid():
            return None
        inspection = inspections.inspection_record(
            tenant=self.tenant,
            project=self.project,
            inspector=request.user,
            items=self.form.items(),
            notes=self.form.cleaned_data["notes"],
        )
        # Items are written in checklist order, so the n-th row takes the n-th photo (same transaction).
        for item, photo in zip(inspection.items.order_by("id"), self.form.photos(), strict=True):
            if photo:
                inspections.inspection_item_add_photo(tenant=self.tenant, item=item, photo=photo)
        return _("质检已记录，得分 %(score)s。") % {"score": inspection.score}


class ReinspectView(ProjectActionView):
    action_permission = "projects.inspect"
    tab = "inspections"

    def act(self, request, rectification_id: int):
        rectification = get_object_or_404(
            Rectification.objects.filter(project=self.project), pk=rectification_id
        )
        form = forms.ReinspectForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"passed": _("请选择复检结果。")})
        inspections.rectification_reinspect(
            tenant=self.tenant, rectification=rectification, inspector=request.user, **form.cleaned_data
        )
        return _("复检已记录。")
