"""Consent history is append-only in the database: UPDATE of a history row raises.

DELETE stays allowed so that erasing a customer (cascade) works; rewriting history does not.
"""

from django.db import migrations

from crm.migration_ops import append_only


class Migration(migrations.Migration):
    dependencies = [("engagement", "0001_consent")]

    operations = [
        append_only(
            "engagement_consentevent", refuse=("UPDATE",), hint="record a new consent change instead"
        )
    ]
