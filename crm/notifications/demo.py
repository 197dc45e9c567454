"""Demo: the robot settings row (switched off, placeholder URL) and a welcome note for every user."""

from __future__ import annotations

from crm.models import Tenant, User
from crm.notifications.models import NotificationSettings, RobotKind
from crm.notifications.services import notify


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    NotificationSettings.objects.get_or_create(
        tenant=tenant,
        defaults={
            "robot_kind": RobotKind.WECOM,
            "robot_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=请替换为群机器人密钥",
            "robot_enabled": False,
        },
    )
    notify(
        tenant=tenant,
        recipients=list(staff.values()),
        kind="welcome",
        title=f"欢迎使用{tenant.name}客户管理系统",
        body="新线索分配、超时提醒、售后回访到期等消息都会出现在这里；经理可在“通知设置”中配置企业微信或钉钉群机器人。",
        link="/notifications/",
        dedupe_key="demo-welcome",
    )
