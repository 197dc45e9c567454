"""The event subscribers moved from ``aftercare.services`` to ``aftercare.handlers``.

A handler's subscriber key is its dotted path, so delivery rows written before the move are renamed
(see ``crm.events.migration_ops``).
"""

from django.db import migrations

from crm.events.migration_ops import rename_subscribers

HANDLERS = ["on_project_handed_over", "on_project_milestone"]


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0001_initial"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        rename_subscribers(
            {f"handler:aftercare.services.{name}": f"handler:aftercare.handlers.{name}" for name in HANDLERS}
        )
    ]
