from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.forms import Form
from crm.notifications.models import RobotKind


class NotificationSettingsForm(Form):
    """Shape only; the rules (allowed robot hosts, required fields when enabled) live in the service."""

    robot_kind = forms.ChoiceField(
        label=_("机器人类型"), choices=[("", _("未配置")), *RobotKind.choices], required=False
    )
    robot_url = forms.CharField(
        label=_("机器人 Webhook 地址"),
        max_length=500,
        required=False,
        help_text=_("在企业微信或钉钉群里添加“群机器人”后复制的地址。"),
        widget=forms.URLInput(
            attrs={"placeholder": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}
        ),
    )
    robot_secret = forms.CharField(
        label=_("加签密钥"),
        max_length=200,
        required=False,
        help_text=_("仅钉钉机器人开启“加签”时填写；留空则保持不变。"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    clear_robot_secret = forms.BooleanField(label=_("清除已保存的加签密钥"), required=False)
    robot_enabled = forms.BooleanField(label=_("启用群机器人推送"), required=False)

    def clean(self) -> dict:
        """Clearing is explicit: a blank secret keeps the stored one, the checkbox removes it."""
        data = super().clean()
        assert data is not None  # Form.clean() returns cleaned_data
        if data.get("clear_robot_secret") and data.get("robot_secret"):
            self.add_error("robot_secret", _("要清除密钥时请不要同时填写新密钥。"))
        return data

    def robot_secret_change(self) -> str | None:
        """What the service takes: ``None`` keeps the stored secret, ``""`` clears it."""
        if self.cleaned_data.get("clear_robot_secret"):
            return ""
        return self.cleaned_data.get("robot_secret") or None
