"""The event subscribers moved from ``aftercare.services`` to ``aftercare.handlers``.

A handler's subscriber key is its dotted path, so delivery rows written before the move are renamed
(all tenants: the platform scope opens the row-level-security wall for this one transaction).
"""

from django.db import migrations

OLD = "handler:aftercare.services."
NEW = "handler:aftercare.handlers."
HANDLERS = ["on_project_handed_over", "on_project_milestone"]


def _rename(old: str, new: str) -> list[str]:
    return ["SELECT set_config('app.platform_scope', 'on', true)"] + [
        f"UPDATE outbox_eventdelivery SET subscriber = '{new}{name}' WHERE subscriber = '{old}{name}'"
        for name in HANDLERS
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0001_initial"),
        ("outbox", "0001_initial"),
    ]

    operations = [migrations.RunSQL(_rename(OLD, NEW), reverse_sql=_rename(NEW, OLD))]
