"""Targets and channel spend move from whole yuan to integer fen (分): columns ``*_fen``, values × 100."""

from django.db import migrations, models

from crm.migration_ops import yuan_columns_to_fen


class Migration(migrations.Migration):
    dependencies = [("analytics", "0002_monthly_report")]

    operations = [
        migrations.RenameField(model_name="salestarget", old_name="contract_value", new_name="contract_value_fen"),
        migrations.RenameField(model_name="channelspend", old_name="amount", new_name="amount_fen"),
        migrations.AlterField(
            model_name="salestarget",
            name="contract_value_fen",
            field=models.PositiveBigIntegerField(default=0, verbose_name="签约额目标（分）"),
        ),
        migrations.AlterField(
            model_name="channelspend",
            name="amount_fen",
            field=models.PositiveBigIntegerField(verbose_name="投放金额（分）"),
        ),
        yuan_columns_to_fen(
            {"analytics_salestarget": ["contract_value_fen"], "analytics_channelspend": ["amount_fen"]}
        ),
    ]
