"""Daily log actions."""

from __future__ import annotations

from django.utils.translation import gettext as _

from projects import forms
from projects.services import (
    logs,
)
from projects.views._common import ProjectActionView


class DailyLogCreateView(ProjectActionView):
    action_permission = "projects.daily_log"
    form_name = "log_form"
    tab = "logs"

    def act(self, request):
        self.form = forms.DailyLogForm(request.POST, request.FILES)
        if not self.form.is_valid():
            return None
        logs.daily_log_create(
            tenant=self.tenant, project=self.project, author=request.user, **self.form.cleaned_data
        )
        return _("日志已发布。")
