from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0008_api_sync_timestamps"),
    ]

    operations = [
        migrations.AddField(
            model_name="pushdispatch",
            name="skip_reason",
            field=models.CharField(
                blank=True,
                choices=[("opted_out", "已退订或未授权"), ("no_address", "没有邮箱地址")],
                max_length=16,
                verbose_name="未发送原因",
            ),
        ),
        migrations.AlterField(
            model_name="pushdispatch",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "等待免打扰结束"),
                    ("sent", "已发送"),
                    ("held_out", "对照组（不发送）"),
                    ("skipped", "未发送"),
                ],
                default="sent",
                max_length=16,
                verbose_name="状态",
            ),
        ),
    ]
