"""Customer money moves from whole yuan to integer fen (分): columns renamed ``*_fen``, values × 100.

``referral_credit_total`` was already fen and only gains the suffix. Budgets become bigint first, so
a large budget in yuan cannot overflow int4 once it is counted in fen.
"""

import json

from django.db import migrations, models

from crm.migration_ops import yuan_columns_to_fen

# Saved segments keep list filters: the budget bounds were whole yuan, the filter now takes fen.
SEGMENT_KEYS = {"budget_min": "budget_min_fen", "budget_max": "budget_max_fen"}


def _segment_filters(to_fen: bool):
    def apply(apps, schema_editor) -> None:  # noqa: ARG001 - RunPython signature
        renames = SEGMENT_KEYS if to_fen else {new: old for old, new in SEGMENT_KEYS.items()}
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
            cursor.execute("SELECT id, filters FROM customers_segment")
            for segment_id, raw in cursor.fetchall():
                filters = json.loads(raw) if isinstance(raw, str) else raw
                if not isinstance(filters, dict) or not set(filters) & set(renames):
                    continue
                for old, new in renames.items():
                    if old in filters:
                        value = str(filters.pop(old)).strip()
                        try:
                            amount = int(value)
                        except ValueError:  # a bound that never filtered anything stays as it was
                            filters[new] = value
                            continue
                        filters[new] = str(amount * 100 if to_fen else amount // 100)
                value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
                cursor.execute(
                    f"UPDATE customers_segment SET filters = {value} WHERE id = %s",  # noqa: S608
                    [json.dumps(filters), segment_id],
                )

    return apply


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_merge_visibility_and_perf_indexes")]

    operations = [
        migrations.RenameField(model_name="customer", old_name="budget_amount", new_name="budget_fen"),
        migrations.RenameField(model_name="customer", old_name="value_amount", new_name="value_fen"),
        migrations.RenameField(
            model_name="customer", old_name="contract_total", new_name="contract_total_fen"
        ),
        migrations.RenameField(
            model_name="customer", old_name="referral_credit_total", new_name="referral_credit_total_fen"
        ),
        migrations.RenameField(
            model_name="customersettings", old_name="budget_low_below", new_name="budget_low_below_fen"
        ),
        migrations.RenameField(
            model_name="customersettings", old_name="budget_high_from", new_name="budget_high_from_fen"
        ),
        migrations.RenameField(
            model_name="customersettings", old_name="value_high_from", new_name="value_high_from_fen"
        ),
        migrations.AlterField(
            model_name="customer",
            name="budget_fen",
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name="预算（分）"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="value_fen",
            field=models.BigIntegerField(default=0, editable=False, verbose_name="客户价值（分）"),
        ),
        migrations.AlterField(
            model_name="customer",
            name="contract_total_fen",
            field=models.BigIntegerField(default=0, editable=False, verbose_name="合同总额（分）"),
        ),
        migrations.AlterField(
            model_name="customersettings",
            name="budget_low_below_fen",
            field=models.PositiveBigIntegerField(default=10000000, verbose_name="低预算上限（分，不含）"),
        ),
        migrations.AlterField(
            model_name="customersettings",
            name="budget_high_from_fen",
            field=models.PositiveBigIntegerField(default=30000000, verbose_name="高预算下限（分）"),
        ),
        migrations.AlterField(
            model_name="customersettings",
            name="value_high_from_fen",
            field=models.PositiveBigIntegerField(default=50000000, verbose_name="高价值下限（分）"),
        ),
        migrations.RunPython(_segment_filters(to_fen=True), _segment_filters(to_fen=False)),
        yuan_columns_to_fen(
            {
                "customers_customer": ["budget_fen", "value_fen", "contract_total_fen"],
                "customers_customersettings": [
                    "budget_low_below_fen",
                    "budget_high_from_fen",
                    "value_high_from_fen",
                ],
            }
        ),
    ]
