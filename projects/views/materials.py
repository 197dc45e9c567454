"""Material actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    Material,
)
from projects.services import (
    materials,
)
from projects.views._common import ProjectActionView


class MaterialCreateView(ProjectActionView):
    action_permission = "projects.material"
    form_name = "material_form"
    tab = "materials"

    def act(self, request):
        self.form = forms.MaterialForm(request.POST)
        if not self.form.is_valid():
            return None
        materials.material_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **self.form.cleaned_data
        )
        return _("材料已登记。")


class MaterialReportView(ProjectActionView):
    action_permission = "projects.material"
    tab = "materials"

    def act(self, request, material_id: int):
        material = get_object_or_404(Material.objects.filter(project=self.project), pk=material_id)
        form = forms.MaterialReportForm(request.POST, request.FILES)
        if not form.is_valid():  # shown as a message: say what is wrong with the file, not just "invalid"
            raise ValidationError({name: errors.data for name, errors in form.errors.items()})
        materials.material_report_add(tenant=self.tenant, material=material, **form.cleaned_data)
        return _("报告已上传。")
