from django.apps import AppConfig


class AftercareConfig(AppConfig):
    name = "aftercare"
    verbose_name = "售后"
    default_auto_field = "django.db.models.BigAutoField"
