from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class QuotesConfig(AppConfig):
    name = "quotes"
    verbose_name = gettext_lazy("报价")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm import extensions
        from crm.models import Role
        from crm.permissions import ALL_STAFF, MANAGERS, grant_many
        from projects import extensions as project_extensions
        from quotes import extensions as quote_extensions

        grant_many(
            {
                "quotes.view": ALL_STAFF,
                "quotes.edit": [Role.SALES, Role.DESIGNER, Role.MANAGER],
                "quotes.manage_catalogue": MANAGERS,
                "quotes.approve_discount": MANAGERS,
            }
        )
        extensions.register_customer_section(quote_extensions.CUSTOMER_SECTION)
        extensions.register_customer_merge_handler(quote_extensions.merge_customer_rows)
        project_extensions.register_signing_requirement(
            "accepted_quotation", gettext_lazy("客户已接受报价"), quote_extensions.has_accepted_quotation
        )
        project_extensions.register_contract_amount_source(quote_extensions.accepted_quotation_total)
        project_extensions.register_progress_section(quote_extensions.progress_section)
