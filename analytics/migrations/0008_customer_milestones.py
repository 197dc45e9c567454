"""Per-customer funnel milestones (``analytics.milestones``): the table, the triggers that keep
it equal to its definition on every write to customers, follow-ups, projects and stage history,
and the backfill (one set-based ``INSERT … SELECT`` over every tenant)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from analytics import milestones
from crm.migration_ops import VendorRunSQL


def backfill(apps, schema_editor) -> None:  # noqa: ARG001 - RunPython signature
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")  # every tenant's rows
    milestones.backfill(connection=connection)


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0007_workbench_live_projects_index'),
        ('crm', '0005_admin_labels'),
        ('customers', '0017_customer_search_function'),
        ('projects', '0007_admin_labels'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerMilestone',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('inquiry_at', models.DateTimeField()),
                ('source_channel', models.CharField(max_length=32)),
                ('contract_total_fen', models.BigIntegerField(default=0)),
                ('furthest_step', models.PositiveSmallIntegerField(default=0)),
                ('responded_at', models.DateTimeField(null=True)),
                ('measured_at', models.DateTimeField(null=True)),
                ('design_at', models.DateTimeField(null=True)),
                ('quoted_at', models.DateTimeField(null=True)),
                ('signed_at', models.DateTimeField(null=True)),
                ('handed_over_at', models.DateTimeField(null=True)),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='customers.customer')),
                ('designer', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('owner', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('tenant', models.ForeignKey(db_index=False, editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.tenant')),
            ],
            options={
                'verbose_name': '客户漏斗节点',
                'verbose_name_plural': '客户漏斗节点',
                'indexes': [models.Index(fields=['tenant', 'inquiry_at'], name='analytics_ms_inquiry_idx')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'customer'), name='analytics_milestone_customer_uniq'), models.UniqueConstraint(fields=('tenant', 'id'), name='analytics_customermilestone_tenant_id_uniq')],
            },
        ),
        VendorRunSQL(
            by_vendor={"postgresql": milestones.pg_install_sql(), "sqlite": milestones.sqlite_install_sql()},
            reverse_by_vendor={
                "postgresql": milestones.pg_uninstall_sql(),
                "sqlite": milestones.sqlite_uninstall_sql(),
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
