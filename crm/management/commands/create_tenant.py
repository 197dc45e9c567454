from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (decoration company) and its first admin user."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="公司名称, e.g. 安居家装")
        parser.add_argument("--slug", required=True)
        parser.add_argument("--admin", required=True, help="username of the first admin")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--timezone", default="Asia/Shanghai")

    def handle(self, *args, **options):
        try:
            tenant, admin = tenant_create(
                name=options["name"],
                slug=options["slug"],
                admin_username=options["admin"],
                admin_password=options["password"],
                admin_email=options["email"],
                timezone_name=options["timezone"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant {tenant.slug} (id {tenant.pk}) and admin {admin.username}")
        )
