"""Migration operations for the outbox, shared by the apps whose handlers move.

A handler's subscriber key is its dotted path, so delivery rows written before a handler moves
must be renamed. The rename spans every tenant: on PostgreSQL the platform scope opens the
row-level-security wall for the migration's transaction only; SQLite (the zero-setup demo) has no
RLS and no ``set_config``.
"""

from __future__ import annotations

from django.db import migrations


def rename_subscribers(renames: dict[str, str]) -> migrations.RunPython:
    """A reversible operation renaming delivery rows' subscriber keys ``old -> new``."""

    def run(pairs: dict[str, str]):
        def apply(apps, schema_editor) -> None:  # noqa: ARG001 - RunPython signature
            with schema_editor.connection.cursor() as cursor:
                if schema_editor.connection.vendor == "postgresql":
                    cursor.execute("SELECT set_config('app.platform_scope', 'on', true)")
                for old, new in pairs.items():
                    cursor.execute(
                        "UPDATE outbox_eventdelivery SET subscriber = %s WHERE subscriber = %s", [new, old]
                    )

        return apply

    return migrations.RunPython(run(renames), run({new: old for old, new in renames.items()}))
