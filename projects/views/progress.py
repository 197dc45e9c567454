"""The customer's public progress page behind a share link."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from crm import ratelimit
from crm.tenancy import tenant_context
from projects import extensions, selectors
from projects.models import (
    STAGE_ORDER,
    ChangeOrder,
    ChangeOrderStatus,
    Material,
    ShareLink,
    StageHistory,
)
from projects.services import change_orders as change_orders_services
from projects.services import (
    share,
)


class ProgressView(View):
    """No login: the token decides the one project shown; everything is read inside its tenant."""

    def dispatch(self, request, token: str, *args, **kwargs):
        try:
            ratelimit.hit("progress_ip", ratelimit.client_ident(request))
        except ratelimit.RateLimited as error:
            return ratelimit.rate_limited_response(request, error)
        link = selectors.resolve_share_link(token)
        if link is None:
            return render(request, "projects/progress_invalid.html", status=404)
        with tenant_context(link.tenant):
            link = ShareLink.objects.select_related("project__customer", "project__project_manager").get(
                pk=link.pk
            )
            self.link, self.tenant, self.token = link, link.tenant, token
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400 and response.status_code != 400:
                transaction.set_rollback(True)
        return response

    def context(self, **extra) -> dict:
        project = self.link.project
        settings = selectors.stage_settings(tenant=self.tenant)
        current = STAGE_ORDER.index(project.stage)
        timeline = [
            {
                "info": info,
                "state": "done" if info.index < current else ("current" if info.index == current else "todo"),
            }
            for info in settings
        ]
        entered = {
            row.to_stage: row.changed_at
            for row in StageHistory.objects.filter(project=project).order_by("changed_at", "id")
        }
        for entry in timeline:
            entry["entered_at"] = entered.get(entry["info"].key)
        change_orders = selectors.change_orders_for_project(project=project)
        return {
            "tenant": self.tenant,
            "project": project,
            "token": self.token,
            "timeline": timeline,
            "stage_name": settings[current].name,
            "logs": selectors.daily_logs_with_photos(project=project, limit=10),
            "inspections": selectors.inspections_for_project(project=project)[:10],
            "rectifications": selectors.open_rectifications(project=project),
            "materials": Material.objects.filter(project=project).prefetch_related("reports"),
            "pending": [co for co in change_orders if co.status == ChangeOrderStatus.SENT],
            "decided": [co for co in change_orders if co.is_decided],
            "budget": change_orders_services.project_budget(project=project),
            "link": self.link,
            "sections": extensions.progress_sections(
                request=self.request, tenant=self.tenant, link=self.link, token=self.token
            ),
            **extra,
        }

    def get(self, request):
        ShareLink.objects.filter(pk=self.link.pk).update(last_viewed_at=timezone.now())
        return render(request, "projects/progress.html", self.context())


class ProgressChangeOrderView(ProgressView):
    """Approve/reject: step 1 sends an SMS code (``request``), step 2 checks it (``confirm``)."""

    http_method_names = ["post"]  # the inherited page GET does not take the step kwargs

    def post(self, request, change_order_id: int, step: str):
        change_order = ChangeOrder.objects.filter(project=self.link.project, pk=change_order_id).first()
        if change_order is None:
            raise Http404
        if step == "request":
            try:
                share.confirmation_code_request(
                    tenant=self.tenant,
                    link=self.link,
                    change_order=change_order,
                    decision=request.POST.get("decision", ""),
                )
            except share.CodeQuotaExceeded as error:
                response = render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: _("；").join(error.messages)}),
                    status=429,
                )
                response["Retry-After"] = str(error.retry_after)
                return response
            except ValidationError as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: _("；").join(error.messages)}),
                    status=400,
                )
            decision = request.POST.get("decision")
            return render(
                request, "projects/progress.html", self.context(code_for=(change_order.pk, decision))
            )
        if step == "confirm":
            try:
                share.confirmation_code_check(  # commits a failed attempt itself
                    tenant=self.tenant,
                    link=self.link,
                    change_order=change_order,
                    code=request.POST.get("code", ""),
                )
            except share.CodeRejected as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(
                        code_for=(change_order.pk, request.POST.get("decision")),
                        co_error={change_order.pk: str(error)},
                    ),
                    status=400,
                )
            except ValidationError as error:
                return render(
                    request,
                    "projects/progress.html",
                    self.context(co_error={change_order.pk: _("；").join(error.messages)}),
                    status=400,
                )
            return redirect(reverse("projects:progress", args=[self.token]) + f"#co-{change_order.pk}")
        raise Http404
