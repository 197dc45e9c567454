"""Django admin speaks the UI's language: every model and field of our apps registered in the admin
has an explicit (translatable) label, so no column reads "FOLLOW UP" or "SENT AT"."""

from __future__ import annotations

import inspect
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.utils.functional import Promise

BASE = Path(settings.BASE_DIR).resolve()


def _our_models() -> list:
    ours = []
    for model in admin.site._registry:
        source = Path(inspect.getsourcefile(model) or "").resolve()
        if BASE in source.parents and ".venv" not in source.parts:
            ours.append(model)
    return ours


def test_every_admin_model_and_field_has_a_translatable_label():
    models = _our_models()
    assert len(models) > 40, "the walk found our admin registrations"
    missing = []
    for model in models:
        meta = model._meta
        if not isinstance(meta.app_config.verbose_name, Promise):
            missing.append(f"{meta.app_label}: AppConfig.verbose_name")
        if not isinstance(meta.verbose_name, Promise):
            missing.append(f"{meta.label}: Meta.verbose_name")
        for field in meta.get_fields():
            if (field.auto_created and not field.concrete) or not hasattr(field, "verbose_name"):
                continue  # reverse relations: labelled on the other side
            if field.name == "id" or (field.name == "tenant" and not field.editable):
                continue  # never shown: the admin is scoped to the user's tenant
            if not isinstance(field.verbose_name, Promise):
                missing.append(f"{meta.label}.{field.name}")
    assert not missing, "no verbose_name=_(...):\n" + "\n".join(missing)


def test_admin_list_columns_that_are_methods_have_labels():
    missing = []
    for model in _our_models():
        model_admin = admin.site._registry[model]
        for column in model_admin.get_list_display(None):
            if callable(column):
                target = column
            elif hasattr(model_admin, column):
                target = getattr(model_admin, column)
            elif hasattr(model, column) and not any(f.name == column for f in model._meta.get_fields()):
                target = getattr(model, column)
            else:
                continue
            target = getattr(target, "fget", target)  # properties
            if column != "__str__" and not getattr(target, "short_description", None):
                missing.append(f"{model.__name__}.{getattr(column, '__name__', column)}")
    heading = "admin columns without a label (@admin.display(description=...)):\n"
    assert not missing, heading + "\n".join(missing)
