from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from crm.models import Tenant, User
from crm.services import api_token_create
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = "Create an API token for a staff user and print the plaintext (once), e.g. for scripts/fuzz.sh."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug, e.g. anju")
        parser.add_argument("--user", required=True, help="username the token acts as (creates it too)")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--with-id", action="store_true", help='print "<token id> <plaintext>"')

    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"unknown tenant {options['tenant']!r}")
        user = User.objects.filter(tenant=tenant, username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r} in tenant {tenant.slug}")
        try:
            with tenant_context(tenant):
                token, plaintext = api_token_create(
                    tenant=tenant, created_by=user, name=options["name"], user=user
                )
        except ValidationError as error:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()))
        self.stdout.write(f"{token.pk} {plaintext}" if options["with_id"] else plaintext)
