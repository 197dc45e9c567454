"""Callback actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    ConstructionCallback,
)
from projects.services import (
    callbacks,
)
from projects.views._common import ProjectActionView


class CallbackCompleteView(ProjectActionView):
    action_permission = "projects.callback"
    tab = "callbacks"

    def act(self, request, callback_id: int):
        callback = get_object_or_404(
            ConstructionCallback.objects.filter(project=self.project), pk=callback_id
        )
        form = forms.CallbackForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"satisfaction": _("请选择满意度。")})
        callbacks.callback_complete(
            tenant=self.tenant, callback=callback, completed_by=request.user, **form.cleaned_data
        )
        return _("回访已记录。")
