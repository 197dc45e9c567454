"""Change order actions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from projects import forms
from projects.models import (
    ChangeOrder,
)
from projects.services import change_orders as change_orders_services
from projects.views._common import ProjectActionView


class ChangeOrderCreateView(ProjectActionView):
    action_permission = "projects.change_order"
    form_name = "change_order_form"
    tab = "change_orders"

    def act(self, request):
        self.form = forms.ChangeOrderForm(request.POST)
        if not self.form.is_valid():
            return None
        change_orders_services.change_order_create(
            tenant=self.tenant, project=self.project, created_by=request.user, **self.form.cleaned_data
        )
        return _("变更单草稿已创建。")


class ChangeOrderSendView(ProjectActionView):
    action_permission = "projects.change_order"
    tab = "change_orders"

    def act(self, request, change_order_id: int):
        change_order = get_object_or_404(ChangeOrder.objects.filter(project=self.project), pk=change_order_id)
        change_orders_services.change_order_send(
            tenant=self.tenant, change_order=change_order, sent_by=request.user
        )
        return _("已发送给客户确认。")


class ChangeOrderDecideView(ProjectActionView):
    action_permission = "projects.change_order_decide"
    tab = "change_orders"

    def act(self, request, change_order_id: int):
        change_order = get_object_or_404(ChangeOrder.objects.filter(project=self.project), pk=change_order_id)
        form = forms.DecideForm(request.POST)
        if not form.is_valid():
            raise ValidationError({"channel": _("请选择结果和客户确认方式。")})
        change_orders_services.change_order_decide(
            tenant=self.tenant, change_order=change_order, decided_by=request.user, **form.cleaned_data
        )
        return _("已记录客户决定。")
