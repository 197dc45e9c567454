from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "转介绍"
    default_auto_field = "django.db.models.BigAutoField"
