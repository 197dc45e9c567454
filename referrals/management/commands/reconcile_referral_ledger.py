"""Prove, for every account of every tenant, that the cached balance equals the sum of its entries."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from crm.models import Tenant
from crm.tenancy import tenant_context
from referrals.selectors import ledger_discrepancies


class Command(BaseCommand):
    help = "核对转介绍奖励金：每个租户每个账户的缓存余额 == 流水合计（不一致则退出码非 0）。"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="只核对这个租户（slug）")

    def handle(self, *args, **options) -> None:
        tenants = Tenant.objects.order_by("pk")
        if options.get("tenant"):
            tenants = tenants.filter(slug=options["tenant"])
        total_accounts = 0
        problems = []
        for tenant in tenants:  # explicit iteration: each tenant inside its own context (RLS applies)
            with tenant_context(tenant):
                checked, found = ledger_discrepancies(tenant=tenant)
            total_accounts += checked
            for discrepancy in found:
                problems.append(f"[{tenant.slug}] {discrepancy}")
            self.stdout.write(f"{tenant.slug}: {checked} accounts, {len(found)} mismatched")
        if problems:
            for line in problems:
                self.stderr.write(line)
            raise CommandError(f"{len(problems)} account(s) do not reconcile")
        self.stdout.write(
            self.style.SUCCESS(f"OK: {total_accounts} accounts reconcile (cached == sum of entries)")
        )
