import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_api_sync_timestamps"),
        ("notifications", "0004_api_sync_timestamps"),
    ]

    operations = [
        migrations.CreateModel(
            name="OutboundEmail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "待发送"), ("sending", "发送中"), ("sent", "已发送"), ("failed", "失败")],
                        default="pending",
                        max_length=16,
                        verbose_name="状态",
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0, verbose_name="尝试次数")),
                (
                    "next_attempt_at",
                    models.DateTimeField(
                        blank=True, default=django.utils.timezone.now, null=True, verbose_name="下次尝试"
                    ),
                ),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True, verbose_name="最近尝试")),
                ("sent_at", models.DateTimeField(blank=True, null=True, verbose_name="发送时间")),
                ("last_error", models.TextField(blank=True, verbose_name="最近错误")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="创建时间")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新时间")),
                ("address", models.EmailField(max_length=254, verbose_name="收件地址")),
                ("subject", models.CharField(max_length=200, verbose_name="主题")),
                ("body", models.TextField(verbose_name="正文")),
                ("headers", models.JSONField(blank=True, default=dict, verbose_name="邮件头")),
                ("dedupe_key", models.CharField(max_length=200, verbose_name="去重键")),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        editable=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.tenant",
                    ),
                ),
            ],
            options={
                "verbose_name": "客户邮件",
                "verbose_name_plural": "客户邮件",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["tenant", "status", "next_attempt_at"], name="email_due_idx"),
                    models.Index(fields=["tenant", "created_at", "id"], name="sync_775076d42d_created_at"),
                    models.Index(fields=["tenant", "updated_at", "id"], name="sync_da9c5ad530_updated_at"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "dedupe_key"), name="email_unique_dedupe"),
                    models.UniqueConstraint(
                        fields=("tenant", "id"), name="notifications_outboundemail_tenant_id_uniq"
                    ),
                ],
            },
        ),
    ]
