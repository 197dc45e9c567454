from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, DEMO_STAFF, DEMO_TENANTS, seed_all


class Command(BaseCommand):
    help = "Create (idempotently) two demo tenants, a user for every role and realistic sample data."

    def handle(self, *args, **options):
        seed_all(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password {DEMO_PASSWORD}):"))
        for slug, _ in DEMO_TENANTS:
            names = ", ".join(f"{slug}_{suffix}" for suffix, _, _ in DEMO_STAFF)
            self.stdout.write(f"  {slug}: {names}")
