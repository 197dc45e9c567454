"""The actual outbound calls: email through Django's mail backend, group robots over HTTP.

Kept free of database writes so a failure can never leave a half-written transaction behind;
callers (:mod:`crm.notifications.services`) record the outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.translation import gettext as _

from crm.notifications.models import Notification, NotificationSettings, OutboundEmail, RobotKind

ROBOT_TIMEOUT_SECONDS = 10
DEFAULT_ROBOT_HOSTS = ["qyapi.weixin.qq.com", "oapi.dingtalk.com"]


class PermanentSendError(Exception):
    """Retrying cannot help (robot switched off, no address): mark the delivery failed at once."""


def absolute_link(link: str) -> str:
    base = settings.SITE_URL.rstrip("/")
    return f"{base}{link}" if link.startswith("/") and base else link


def robot_allowed_hosts() -> list[str]:
    """Only known robot hosts may receive posts (a manager-typed URL must not reach the intranet)."""
    return list(getattr(settings, "CRM_ROBOT_ALLOWED_HOSTS", DEFAULT_ROBOT_HOSTS))


def send_email(*, notification: Notification, address: str, tenant_name: str, message_id: str = "") -> None:
    """``message_id`` becomes a stable Message-ID header, so a resend after a crash is recognisable."""
    if not address:
        raise PermanentSendError(_("收件人没有邮箱地址"))
    lines = [notification.body] if notification.body else []
    if notification.link:
        lines.append(absolute_link(notification.link))
    headers = {"Message-ID": f"<{message_id}@{_mail_domain()}>"} if message_id else {}
    EmailMessage(
        subject=f"[{tenant_name}] {notification.title}",
        body="\n\n".join(lines) or notification.title,
        to=[address],
        headers=headers,
    ).send(fail_silently=False)


def send_outbound_email(*, email: OutboundEmail, message_id: str) -> None:
    """A customer e-mail: its own subject, plain-text body and stored headers (``List-Unsubscribe``),
    with a stable Message-ID so a resend after a crash is recognisable."""
    if not email.address:
        raise PermanentSendError(_("收件人没有邮箱地址"))
    headers = {str(name): str(value) for name, value in (email.headers or {}).items()}
    headers["Message-ID"] = f"<{message_id}@{_mail_domain()}>"
    EmailMessage(subject=email.subject, body=email.body, to=[email.address], headers=headers).send(
        fail_silently=False
    )


def _mail_domain() -> str:
    return urllib.parse.urlsplit(settings.SITE_URL or "").hostname or "crm.localhost"


def robot_payload(kind: str, *, title: str, body: str, link: str) -> dict:
    """The markdown message format of WeChat Work and DingTalk group robots."""
    text = f"### {title}"
    if body:
        text += f"\n\n{body}"
    if link:
        text += f"\n\n[查看详情]({absolute_link(link)})"
    if kind == RobotKind.WECOM:
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def signed_dingtalk_url(url: str, secret: str) -> str:
    """DingTalk '加签': timestamp + base64(HMAC-SHA256(secret, "timestamp\\nsecret"))."""
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp}&sign={sign}"


def post_to_robot(*, robot: NotificationSettings, notification: Notification) -> None:
    """POST the markdown message; both robots answer HTTP 200 with ``errcode`` 0 on success."""
    if not robot.robot_active:
        raise PermanentSendError(_("群机器人未配置或已停用"))
    url = robot.robot_url
    if robot.robot_kind == RobotKind.DINGTALK and robot.robot_secret:
        url = signed_dingtalk_url(url, robot.robot_secret)
    payload = robot_payload(
        robot.robot_kind, title=notification.title, body=notification.body, link=notification.link
    )
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=ROBOT_TIMEOUT_SECONDS) as response:  # noqa: S310
        raw = response.read()
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if errcode != 0:
        raise RuntimeError(f"机器人返回错误 errcode={errcode}: {answer.get('errmsg', '')}")
