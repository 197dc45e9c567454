"""Share link actions (staff side)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    ShareLink,
)
from projects.services import (
    share,
)
from projects.views._common import ProjectActionView, detail_context


class ShareLinkCreateView(ProjectActionView):
    action_permission = "projects.share"
    tab = "share"

    def act(self, request):
        form = forms.ShareLinkForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"valid_days": _("有效天数应在 1–365 之间。")})
        link, token = share.share_link_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **form.cleaned_data
        )
        url = request.build_absolute_uri(reverse("projects:progress", args=[token]))
        context = detail_context(request, self.project, "share", new_link=url)
        return render(request, "projects/detail.html", context)


class ShareLinkRevokeView(ProjectActionView):
    action_permission = "projects.share"
    tab = "share"

    def act(self, request, link_id: int):
        link = get_object_or_404(ShareLink.objects.filter(project=self.project), pk=link_id)
        share.share_link_revoke(tenant=self.tenant, link=link, revoked_by=request.user)
        return _("链接已吊销。")
