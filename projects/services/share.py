"""Customer share links and the SMS confirmation codes behind them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

import datetime
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from crm.hashed_secrets import issue_secret
from crm.models import Tenant, User
from projects.models import (
    ChangeOrder,
    ChangeOrderStatus,
    ConfirmationCode,
    DecisionChannel,
    Project,
    ShareLink,
)
from projects.services.change_orders import change_order_decide

SHARE_LINK_DEFAULT_DAYS = 90


CODE_TTL = datetime.timedelta(minutes=10)


CODE_MAX_ATTEMPTS = 5


@transaction.atomic
def share_link_create(
    *, tenant: Tenant, project: Project, created_by: User, valid_days: int = SHARE_LINK_DEFAULT_DAYS
) -> tuple[ShareLink, str]:
    """A new unguessable link (256-bit token); only its hash is stored. Returns (link, token)."""
    if not 1 <= valid_days <= 365:
        raise ValidationError({"valid_days": _("有效期应在 1–365 天之间。")})
    issued = issue_secret()
    link = ShareLink.objects.create(
        tenant=tenant,
        project=project,
        key_hash=issued.digest,
        prefix=issued.prefix,
        expires_at=timezone.now() + datetime.timedelta(days=valid_days),
        created_by=created_by,
    )
    return link, issued.plaintext


@transaction.atomic
def share_link_revoke(*, tenant: Tenant, link: ShareLink, revoked_by: User) -> ShareLink:  # noqa: ARG001 - actor kept in the service signature
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


class CodeQuotaExceeded(ValidationError):
    """Too many codes for this link (one a minute, ``PROJECTS_CONFIRMATION_CODES_PER_DAY`` a day):
    a rate limit, answered 429 with ``retry_after`` seconds."""

    def __init__(self, message: StrOrPromise, retry_after: int) -> None:
        super().__init__({"code": ValidationError(message, code="code_quota_exceeded")})
        self.retry_after = retry_after


def confirmation_code_hash(link: ShareLink, code: str) -> str:
    """Keyed (HMAC with SECRET_KEY): a 6-digit code under a plain hash is read back from a database
    copy by trying all million values."""
    return salted_hmac("projects.confirmation-code", f"{link.pk}:{code}", algorithm="sha256").hexdigest()


def _issue_code(
    *, tenant: Tenant, link: ShareLink, fields: dict, sms_text: Callable[[str], str]
) -> ConfirmationCode:
    """Send a one-time 6-digit code to the customer's phone for one decision on the share page.

    At most one code a minute and ``PROJECTS_CONFIRMATION_CODES_PER_DAY`` per rolling day per link,
    whatever it confirms (5 guesses each): bounds both the SMS bill and the guessing.
    """
    from crm.notifications.services import sms_send

    ShareLink.objects.select_for_update(of=("self",)).filter(pk=link.pk).first()  # one request at a time
    now = timezone.now()
    last_day = list(
        ConfirmationCode.objects.filter(share_link=link, created_at__gte=now - datetime.timedelta(days=1))
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if last_day and last_day[-1] >= now - datetime.timedelta(minutes=1):
        retry = 60 - int((now - last_day[-1]).total_seconds())
        raise CodeQuotaExceeded(_("验证码已发送，请一分钟后再试。"), retry_after=max(1, retry))
    daily_limit = settings.PROJECTS_CONFIRMATION_CODES_PER_DAY
    if len(last_day) >= daily_limit:
        oldest = last_day[-daily_limit]
        retry = int((oldest + datetime.timedelta(days=1) - now).total_seconds()) + 1
        raise CodeQuotaExceeded(
            _("今天获取验证码的次数已达上限，请明天再试或联系项目经理。"), retry_after=max(1, retry)
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = ConfirmationCode.objects.create(
        tenant=tenant,
        share_link=link,
        code_hash=confirmation_code_hash(link, code),
        expires_at=now + CODE_TTL,
        **fields,
    )
    sms_send(
        tenant=tenant,
        phone=link.project.customer.phone,
        message=sms_text(code),
        dedupe_key=f"projects:co-code:{row.pk}",
        secrets=[code],
    )
    return row


def _verify_code(*, link: ShareLink, rows: QuerySet[ConfirmationCode], code: str) -> ConfirmationCode:
    """The newest unused code of ``rows`` if ``code`` matches it (then marked used). A wrong code
    counts an attempt that is committed before :class:`CodeRejected` is raised (the counter must
    survive the failure, or guessing would be unlimited). Call outside any transaction."""
    with transaction.atomic():
        row = (
            rows.select_for_update(of=("self",)).filter(used_at__isnull=True).order_by("-created_at").first()
        )
        if row is None or row.expires_at <= timezone.now() or row.attempts >= CODE_MAX_ATTEMPTS:
            problem = _("验证码已失效，请重新获取。")
        elif not secrets.compare_digest(row.code_hash, confirmation_code_hash(link, (code or "").strip())):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            problem = _("验证码不正确。")
        else:
            row.used_at = timezone.now()
            row.save(update_fields=["used_at"])
            return row
    raise CodeRejected(problem)


@transaction.atomic
def share_code_request(
    *, tenant: Tenant, link: ShareLink, subject: str, decision: str, sms_text: Callable[[str], str]
) -> ConfirmationCode:
    """The same SMS code mechanism for any decision another app puts on the progress page:
    ``subject`` names what is decided (``"quotation:12"``), ``sms_text(code)`` is the message."""
    if decision not in ("approve", "reject"):
        raise ValidationError({"decision": _("未知操作。")})
    if not subject or len(subject) > 64:
        raise ValueError("a confirmation code needs a subject of at most 64 characters")
    return _issue_code(
        tenant=tenant, link=link, fields={"subject": subject, "decision": decision}, sms_text=sms_text
    )


def share_code_check(*, tenant: Tenant, link: ShareLink, subject: str, code: str) -> str:  # noqa: ARG001
    """The decision (``"approve"``/``"reject"``) the customer confirmed with ``code`` for ``subject``.

    Raises :class:`CodeRejected` (after committing the attempt) for a wrong or expired code; the
    caller then records the decision in its own transaction."""
    rows = ConfirmationCode.objects.filter(share_link=link, subject=subject)
    return _verify_code(link=link, rows=rows, code=code).decision


@transaction.atomic
def confirmation_code_request(
    *, tenant: Tenant, link: ShareLink, change_order: ChangeOrder, decision: str
) -> ConfirmationCode:
    """Send a one-time 6-digit code to the customer's phone to confirm approve/reject of a change order."""
    if decision not in ("approve", "reject"):
        raise ValidationError({"decision": _("未知操作。")})
    if change_order.project_id != link.project_id or change_order.status != ChangeOrderStatus.SENT:
        raise ValidationError({"change_order": _("该变更单无需确认。")})
    action = "批准" if decision == "approve" else "拒绝"

    def sms_text(code: str) -> str:
        return (
            f"【{tenant.name}】您正在{action}变更单「{change_order.title}」，验证码 {code}，10 分钟内有效。"
        )

    return _issue_code(
        tenant=tenant,
        link=link,
        fields={"change_order": change_order, "decision": decision},
        sms_text=sms_text,
    )


class CodeRejected(Exception):
    """Wrong/expired code: the attempt counter must persist, so the caller commits then reports."""


def confirmation_code_check(
    *, tenant: Tenant, link: ShareLink, change_order: ChangeOrder, code: str
) -> ChangeOrder:
    """Check the code (one use, expiring, 5 attempts) and record the customer's decision."""
    rows = ConfirmationCode.objects.filter(share_link=link, change_order=change_order)
    row = _verify_code(link=link, rows=rows, code=code)
    return change_order_decide(
        tenant=tenant,
        change_order=change_order,
        approve=row.decision == "approve",
        channel=DecisionChannel.CUSTOMER_LINK,
        decided_by=None,
        note="客户通过进度页短信验证码确认",
    )
