"""The lead.created subscriber moved from ``engagement.services.scoring`` to ``engagement.handlers``.

A handler's subscriber key is its dotted path, so delivery rows written before the move are renamed
(see ``crm.events.migration_ops``).
"""

from django.db import migrations

from crm.events.migration_ops import rename_subscribers


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0005_content_and_push_rules"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        rename_subscribers(
            {
                "handler:engagement.services.scoring.on_lead_created": (
                    "handler:engagement.handlers.on_lead_created"
                )
            }
        )
    ]
