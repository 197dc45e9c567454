"""Rebuild (or check) the per-customer funnel milestones of every tenant from their sources."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics import milestones
from crm.models import Tenant
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = "重建客户漏斗节点（analytics.milestones）；--check 只核对，不一致则退出码非 0。"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="只处理这个租户（slug）")
        parser.add_argument("--check", action="store_true", help="只核对表与定义是否一致，不写入")

    def handle(self, *args, **options) -> None:
        tenants = Tenant.objects.order_by("pk")
        if options.get("tenant"):
            tenants = tenants.filter(slug=options["tenant"])
        drifted = 0
        for tenant in tenants:  # each tenant inside its own context (RLS applies)
            with tenant_context(tenant), transaction.atomic():
                if options["check"]:
                    rows = milestones.drift(tenant_id=tenant.pk)
                    drifted += len(rows)
                    for row in rows[:20]:
                        self.stderr.write(f"[{tenant.slug}] {row}")
                    self.stdout.write(f"{tenant.slug}: {len(rows)} row(s) differ")
                else:
                    count = milestones.rebuild(tenant_id=tenant.pk)
                    self.stdout.write(f"{tenant.slug}: {count} customers")
        if drifted:
            raise CommandError(f"{drifted} milestone row(s) differ from their sources")
        self.stdout.write(self.style.SUCCESS("OK"))
