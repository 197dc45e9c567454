"""Demo data: two decoration companies and a user for every role (see README for the logins).

Each app adds its own demo rows with a ``seed_demo(tenant, staff)`` function in ``<app>/demo.py``;
``manage.py seed_demo`` calls them in dependency order. Every step is idempotent.
"""

from __future__ import annotations

import importlib

from crm.models import Role, Tenant, User

DEMO_PASSWORD = "demo12345"

DEMO_TENANTS = [
    ("anju", "安居家装（演示）"),
    ("meizhai", "美宅装饰（演示）"),
]

DEMO_STAFF = [
    # (username suffix, display name, roles)
    ("admin", "系统管理员", [Role.ADMIN, Role.MANAGER]),
    ("manager", "王经理", [Role.MANAGER]),
    ("sales", "李销售", [Role.SALES]),
    ("sales2", "赵销售", [Role.SALES]),
    ("designer", "陈设计", [Role.DESIGNER]),
    ("pm", "刘项目经理", [Role.PROJECT_MANAGER]),
    ("supervisor", "周监理", [Role.SUPERVISOR]),
    ("service", "孙客服", [Role.SERVICE]),
    ("finance", "吴财务", [Role.FINANCE]),
]

DOMAIN_DEMO_MODULES = [
    "crm.notifications.demo",
    "crm.workdays.demo",
    "customers.demo",
    "projects.demo",
    "aftercare.demo",
    "referrals.demo",
    "analytics.demo",
    "sales.demo",
    "quotes.demo",
    "payments.demo",
    "engagement.demo",
]


def ensure_tenant(slug: str, name: str) -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": name})
    return tenant


def ensure_staff(tenant: Tenant) -> dict[str, User]:
    staff = {}
    for suffix, display_name, roles in DEMO_STAFF:
        username = f"{tenant.slug}_{suffix}"
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "tenant": tenant,
                "display_name": display_name,
                "roles": list(roles),
                "is_staff": Role.ADMIN in roles,
                "mobile": "",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        staff[suffix] = user
    return staff


def seed_all(stdout=None) -> list[Tenant]:
    from crm.tenancy import tenant_context

    tenants = []
    for slug, name in DEMO_TENANTS:
        tenant = ensure_tenant(slug, name)
        staff = ensure_staff(tenant)
        for module_name in DOMAIN_DEMO_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name == module_name:
                    continue
                raise
            with tenant_context(tenant):
                module.seed_demo(tenant=tenant, staff=staff)
        tenants.append(tenant)
        if stdout:
            stdout.write(f"demo tenant {tenant.slug}: ok")
    return tenants
