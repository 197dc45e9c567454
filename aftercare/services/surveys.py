"""Satisfaction surveys: one-time tokens, SMS, answers and the yearly NPS round."""

from __future__ import annotations

import calendar
import datetime
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from aftercare.models import (
    ServiceTicket,
    Survey,
    SurveyKind,
    SurveyTrigger,
    Visit,
)
from aftercare.services.dates import tenant_today
from aftercare.services.settings import aftercare_settings_get
from crm import events
from crm.models import Tenant
from customers.models import Customer
from projects.models import Project


def _new_token(tenant: Tenant) -> str:
    """The tenant id leads the token so the public page finds the tenant without a global scan;
    the random part (192 bits) is what makes it unguessable."""
    return f"{tenant.pk}-{secrets.token_urlsafe(24)}"


def parse_survey_token(token: str) -> int | None:
    head, _, rest = (token or "").partition("-")
    return int(head) if head.isdigit() and len(rest) >= 20 else None


@transaction.atomic
def survey_create(
    *,
    tenant: Tenant,
    customer: Customer,
    kind: str,
    trigger: str,
    dedupe_key: str,
    project: Project | None = None,
    visit: Visit | None = None,
    ticket: ServiceTicket | None = None,
    send_sms: bool = True,
) -> Survey:
    """Create a one-time survey link (once per dedupe key) and text it to the customer."""
    if kind not in SurveyKind.values:
        raise ValidationError({"kind": gettext("问卷类型无效。")})
    if trigger not in SurveyTrigger.values:
        raise ValidationError({"trigger": gettext("触发场景无效。")})
    if project is not None and project.customer_id != customer.pk:
        raise ValidationError({"project": gettext("该项目不属于此客户。")})
    days = aftercare_settings_get(tenant=tenant).survey_link_days
    # The unique (tenant, dedupe_key) constraint decides: a concurrent twin gets the same row.
    survey, created = Survey.objects.get_or_create(
        tenant=tenant,
        dedupe_key=dedupe_key,
        defaults={
            "customer": customer,
            "project": project,
            "kind": kind,
            "trigger": trigger,
            "visit": visit,
            "ticket": ticket,
            "token": _new_token(tenant),
            "expires_at": timezone.now() + datetime.timedelta(days=days),
        },
    )
    if created and send_sms and customer.phone:
        transaction.on_commit(lambda: _survey_sms(tenant=tenant, survey_id=survey.pk))
    return survey


def _survey_sms(*, tenant: Tenant, survey_id: int) -> None:
    from aftercare import tasks  # noqa: PLC0415

    tasks.survey_send.delay(tenant_id=tenant.pk, survey_id=survey_id)


def survey_send_sms(*, tenant: Tenant, survey: Survey, base_url: str = "") -> None:
    """The link is absolute (``base_url`` or ``settings.SITE_URL``): a phone cannot open a bare path."""
    from crm.notifications.services import sms_send  # noqa: PLC0415

    base_url = (base_url or settings.SITE_URL).rstrip("/")
    question = "满意度" if survey.kind == SurveyKind.CSAT else "推荐意愿"
    sms_send(
        tenant=tenant,
        phone=survey.customer.phone,
        message=(
            f"【{tenant.name}】邀请您为我们的服务打分（{question}），"
            f"链接 {base_url}/aftercare/s/{survey.token}/ ，"
            f"有效期至 {timezone.localtime(survey.expires_at):%m月%d日}。"
        ),
        dedupe_key=f"aftercare-survey-{survey.pk}",
    )


@transaction.atomic
def survey_answer(*, tenant: Tenant, token: str, score: int | str, comment: str = "") -> Survey:
    """Record the customer's one answer. Used, expired or out-of-range: ValidationError, nothing written.

    Announced as ``survey.answered`` (the referrals app invites promoters, NPS 9–10).
    """
    survey = Survey.objects.select_for_update(of=("self",)).filter(token=token).first()
    if survey is None:
        raise ValidationError({"token": gettext("问卷链接无效。")})
    if survey.answered_at is not None:
        raise ValidationError({"token": gettext("该问卷已提交过，感谢您的反馈。")})
    if survey.expires_at <= timezone.now():
        raise ValidationError({"token": gettext("问卷链接已过期。")})
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ValidationError({"score": gettext("请选择评分。")})
    if not survey.min_score <= score <= survey.max_score:
        raise ValidationError(
            {
                "score": gettext("评分必须在 %(min)s 到 %(max)s 之间。")
                % {"min": survey.min_score, "max": survey.max_score}
            }
        )
    survey.score = score
    survey.comment = (comment or "")[:2000]
    survey.answered_at = timezone.now()
    survey.save(update_fields=["score", "comment", "answered_at"])
    events.publish(
        events.EventType.SURVEY_ANSWERED,
        tenant=tenant,
        survey_id=survey.pk,
        customer_id=survey.customer_id,
        kind=survey.kind,
        score=score,
    )
    return survey


@transaction.atomic
def surveys_yearly_nps(*, tenant: Tenant, today: datetime.date | None = None) -> int:
    """On each handover anniversary send the yearly NPS (once per project and year, by dedupe key;
    returns how many projects have their anniversary today).
    Run daily with the reminder scan; 29 Feb handovers are asked on 28 Feb in common years."""
    today = today or tenant_today(tenant)
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    projects = (
        Project.objects.filter(
            handed_over_on__month=today.month, handed_over_on__day__in=days, handed_over_on__lt=today
        )
        .exclude(handed_over_on__year=today.year)
        .select_related("customer")
    )
    asked = 0
    for project in projects:
        survey_create(
            tenant=tenant,
            customer=project.customer,
            project=project,
            kind=SurveyKind.NPS,
            trigger=SurveyTrigger.YEARLY,
            dedupe_key=f"yearly-nps-{project.pk}-{today.year}",
        )
        asked += 1
    return asked
