"""Browser pages: the inbox (mark one/all read, htmx-enhanced) and the robot settings page."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from crm.notifications import selectors, services
from crm.notifications.forms import NotificationSettingsForm
from crm.notifications.senders import absolute_link
from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant

INBOX_PAGE_SIZE = 30


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


class InboxView(RoleRequiredMixin, View):
    required_permission = "notifications.view"

    def get(self, request):
        unread_only = request.GET.get("unread") == "1"
        queryset = selectors.notifications_for_inbox(user=request.user, unread_only=unread_only)
        page = Paginator(queryset, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "notifications/inbox.html", {"page": page, "unread_only": unread_only})


class DemoOutboxView(RoleRequiredMixin, View):
    """What the zero-setup demo "sent" (codes, survey links, e-mails): nothing leaves the machine
    there, so this page is where a demo user reads them. 404 outside the demo."""

    required_permission = "notifications.view_deliveries"

    def get(self, request):
        if not selectors.demo_outbox_enabled():
            raise Http404
        outbox = selectors.demo_outbox(tenant=require_tenant())
        emails = [
            {"delivery": delivery, "link": absolute_link(delivery.notification.link)}
            for delivery in outbox["emails"]
        ]
        context = {"sms": outbox["sms"], "emails": emails, "customer_emails": outbox["customer_emails"]}
        return render(request, "notifications/demo_outbox.html", context)


class MarkReadView(RoleRequiredMixin, View):
    """Marks one of the user's notifications read; ``next`` (a local link) continues to its page."""

    required_permission = "notifications.view"

    def post(self, request, pk: int):
        notification = get_object_or_404(selectors.notifications_for_inbox(user=request.user), pk=pk)
        services.notification_mark_read(
            tenant=require_tenant(), user=request.user, notification_ids=[notification.pk]
        )
        notification.refresh_from_db()
        if _is_htmx(request):
            return render(
                request, "notifications/_row.html", {"notification": notification, "oob_badge": True}
            )
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(target)
        return redirect("notifications:inbox")


class MarkAllReadView(RoleRequiredMixin, View):
    required_permission = "notifications.view"

    def post(self, request):
        marked = services.notification_mark_read(tenant=require_tenant(), user=request.user, all=True)
        if _is_htmx(request):
            page = Paginator(selectors.notifications_for_inbox(user=request.user), INBOX_PAGE_SIZE).get_page(
                1
            )
            return render(request, "notifications/_list.html", {"page": page, "oob_badge": True})
        messages.success(request, _("已将 %(count)s 条通知标为已读。") % {"count": marked})
        return redirect("notifications:inbox")


class SettingsView(RoleRequiredMixin, View):
    """Managers configure the WeChat Work / DingTalk group robot and see recent deliveries."""

    required_permission = "notifications.manage_settings"
    template_name = "notifications/settings.html"

    def get(self, request, form: NotificationSettingsForm | None = None):
        tenant = require_tenant()
        robot = services.notification_settings_get(tenant=tenant)
        if form is None:
            form = NotificationSettingsForm(
                initial={
                    "robot_kind": robot.robot_kind,
                    "robot_url": robot.robot_url,
                    "robot_enabled": robot.robot_enabled,
                }
            )
        deliveries = selectors.deliveries_for_list(tenant=tenant)[:30]
        context = {"form": form, "robot": robot, "deliveries": deliveries}
        return render(request, self.template_name, context, status=400 if form.errors else 200)

    def post(self, request):
        form = NotificationSettingsForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        data = form.cleaned_data
        try:
            services.notification_settings_update(
                tenant=require_tenant(),
                robot_kind=data["robot_kind"],
                robot_url=data["robot_url"],
                robot_enabled=data["robot_enabled"],
                robot_secret=form.robot_secret_change(),
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self.get(request, form=form)
        messages.success(request, _("通知设置已保存。"))
        return redirect("notifications:settings")


class RobotTestView(RoleRequiredMixin, View):
    """Sends a test notification to the manager (in-app, email, and the group robot if enabled)."""

    required_permission = "notifications.manage_settings"

    def post(self, request):
        tenant = require_tenant()
        services.notify(
            tenant=tenant,
            recipients=[request.user],
            kind="test",
            title=_("测试通知"),
            body=_("这是一条来自 %(tenant)s 的测试通知，收到即表示配置正确。") % {"tenant": tenant.name},
            link="/notifications/",
            dedupe_key=f"test:{uuid.uuid4().hex}",
        )
        messages.success(request, _("测试通知已发出，请查看站内通知、邮箱和群聊。"))
        return redirect("notifications:settings")
