"""The ledger is append-only in the database itself: UPDATE and DELETE of an entry raise.

Python code never updates entries, but a stray ``.update()``, an admin action, a cascade or raw SQL
would otherwise be able to rewrite money history. Corrections are new (reversal/adjustment) entries.
"""

from django.db import migrations

from crm.migration_ops import append_only


class Migration(migrations.Migration):
    dependencies = [("referrals", "0001_initial")]

    operations = [
        append_only(
            "referrals_ledgerentry",
            refuse=("UPDATE", "DELETE"),
            hint="write a reversal or adjustment entry instead",
        )
    ]
