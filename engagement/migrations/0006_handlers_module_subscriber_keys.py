"""The lead.created subscriber moved from ``engagement.services.scoring`` to ``engagement.handlers``.

A handler's subscriber key is its dotted path, so delivery rows written before the move are renamed
(all tenants: the platform scope opens the row-level-security wall for this one transaction).
"""

from django.db import migrations

OLD = "handler:engagement.services.scoring.on_lead_created"
NEW = "handler:engagement.handlers.on_lead_created"


def _rename(old: str, new: str) -> list[str]:
    return [
        "SELECT set_config('app.platform_scope', 'on', true)",
        f"UPDATE outbox_eventdelivery SET subscriber = '{new}' WHERE subscriber = '{old}'",
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0005_content_and_push_rules"),
        ("outbox", "0001_initial"),
    ]

    operations = [migrations.RunSQL(_rename(OLD, NEW), reverse_sql=_rename(NEW, OLD))]
