"""Project money moves from whole yuan to integer fen (分): columns renamed ``*_fen``, values × 100.

A change-order line keeps its unit price in fen, so ``12.35 × 88`` is exact (¥1,086.80, not ¥1,087).
The immutability triggers of decided change orders (0003) are lifted for the rewrite and put back
on the renamed column.
"""

import importlib

from django.db import migrations, models

from crm.migration_ops import VendorRunSQL, yuan_columns_to_fen

_0003 = importlib.import_module("projects.migrations.0003_change_order_immutable")


def _renamed(statements: list[str]) -> list[str]:
    return [statement.replace("amount_delta", "amount_delta_fen") for statement in statements]


class Migration(migrations.Migration):
    dependencies = [("projects", "0003_change_order_immutable")]

    operations = [
        VendorRunSQL(
            by_vendor={"postgresql": _0003.PG_REVERSE, "sqlite": _0003.SQLITE_REVERSE},
            reverse_by_vendor={"postgresql": _0003.PG_FORWARD, "sqlite": _0003.SQLITE_FORWARD},
        ),
        migrations.RemoveConstraint(model_name="designplan", name="proj_plan_cost_range"),
        migrations.RenameField(
            model_name="project", old_name="contract_amount", new_name="contract_amount_fen"
        ),
        migrations.RenameField(model_name="designplan", old_name="cost_min", new_name="cost_min_fen"),
        migrations.RenameField(model_name="designplan", old_name="cost_max", new_name="cost_max_fen"),
        migrations.RenameField(model_name="designplanrevision", old_name="cost_min", new_name="cost_min_fen"),
        migrations.RenameField(model_name="designplanrevision", old_name="cost_max", new_name="cost_max_fen"),
        migrations.RenameField(
            model_name="changeorder", old_name="amount_delta", new_name="amount_delta_fen"
        ),
        migrations.RenameField(
            model_name="changeorderline", old_name="unit_price", new_name="unit_price_fen"
        ),
        migrations.RenameField(model_name="changeorderline", old_name="amount", new_name="amount_fen"),
        migrations.AlterField(
            model_name="project",
            name="contract_amount_fen",
            field=models.PositiveBigIntegerField(blank=True, null=True, verbose_name="合同金额（分）"),
        ),
        migrations.AlterField(
            model_name="designplan",
            name="cost_min_fen",
            field=models.PositiveBigIntegerField(verbose_name="预算下限（分）"),
        ),
        migrations.AlterField(
            model_name="designplan",
            name="cost_max_fen",
            field=models.PositiveBigIntegerField(verbose_name="预算上限（分）"),
        ),
        migrations.AlterField(
            model_name="designplanrevision",
            name="cost_min_fen",
            field=models.PositiveBigIntegerField(verbose_name="预算下限（分）"),
        ),
        migrations.AlterField(
            model_name="designplanrevision",
            name="cost_max_fen",
            field=models.PositiveBigIntegerField(verbose_name="预算上限（分）"),
        ),
        migrations.AlterField(
            model_name="changeorder",
            name="amount_delta_fen",
            field=models.BigIntegerField(default=0, verbose_name="金额变动（分）"),
        ),
        migrations.AlterField(
            model_name="changeorderline",
            name="unit_price_fen",
            field=models.BigIntegerField(help_text="减项填负数", verbose_name="单价（分）"),
        ),
        migrations.AlterField(
            model_name="changeorderline",
            name="amount_fen",
            field=models.BigIntegerField(help_text="单价 × 数量，四舍五入到分", verbose_name="金额（分）"),
        ),
        migrations.AddConstraint(
            model_name="designplan",
            constraint=models.CheckConstraint(
                condition=models.Q(cost_min_fen__lte=models.F("cost_max_fen")), name="proj_plan_cost_range"
            ),
        ),
        yuan_columns_to_fen(
            {
                "projects_project": ["contract_amount_fen"],
                "projects_designplan": ["cost_min_fen", "cost_max_fen"],
                "projects_designplanrevision": ["cost_min_fen", "cost_max_fen"],
                "projects_changeorder": ["amount_delta_fen"],
                "projects_changeorderline": ["unit_price_fen", "amount_fen"],
            }
        ),
        VendorRunSQL(
            by_vendor={"postgresql": _renamed(_0003.PG_FORWARD), "sqlite": _renamed(_0003.SQLITE_FORWARD)},
            reverse_by_vendor={"postgresql": _0003.PG_REVERSE, "sqlite": _0003.SQLITE_REVERSE},
        ),
    ]
