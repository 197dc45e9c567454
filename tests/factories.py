"""Platform factories and the registry the cross-tenant probe uses to create tenant-owned objects.

Every module that adds an API route over a tenant-owned model registers a factory here with
:func:`probe_factory` (in ``tests/<app>/factories.py``); the probe fails for a route whose model
has none, so no endpoint escapes the isolation check.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import factory
from django.db import models

from crm.models import ApiToken, Role, Tenant, User, hash_token

DEFAULT_PASSWORD = "test-pass-123"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"装修公司{n}")
    slug = factory.Sequence(lambda n: f"company-{n}")

    @factory.post_generation
    def signing_steps(obj, create, extracted, **kwargs):
        """The steps a test tenant requires before signing. Most tests sign a project straight from
        consultation (what they test comes after), so a test tenant requires none unless the test
        passes ``signing_steps=[...]`` or removes the policy row (then the defaults apply, as for a
        real tenant: see tests/quotes/test_signing_gate.py)."""
        if not create:
            return
        from crm.tenancy import tenant_context
        from projects.models import SigningPolicy

        with tenant_context(obj):
            SigningPolicy.objects.update_or_create(tenant=obj, defaults={"required_steps": extracted or []})


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    username = factory.Sequence(lambda n: f"staff{n}")
    display_name = factory.Sequence(lambda n: f"员工{n}")
    roles = factory.LazyFunction(lambda: [Role.SALES])
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


ProbeFactory = Callable[[Tenant], models.Model]
PROBE_FACTORIES: dict[type[models.Model], ProbeFactory] = {}


def probe_factory(model: type[models.Model]):
    """Register ``fn(tenant) -> saved instance`` (called inside ``tenant_context(tenant)``)."""

    def register(fn: ProbeFactory) -> ProbeFactory:
        PROBE_FACTORIES[model] = fn
        return fn

    return register


@probe_factory(ApiToken)
def _api_token(tenant: Tenant) -> ApiToken:
    user = StaffFactory(tenant=tenant, roles=[Role.MANAGER])
    plaintext, prefix = ApiToken.generate()
    return ApiToken.objects.create(
        tenant=tenant, name="probe", user=user, prefix=prefix, key_hash=hash_token(plaintext)
    )


@probe_factory(User)
def _staff(tenant: Tenant) -> User:
    return StaffFactory(tenant=tenant, roles=[Role.SALES])


def load_all_probe_factories() -> dict[type[models.Model], ProbeFactory]:
    """Import every ``tests/<app>/factories.py`` so their registrations run."""
    import tests

    for module in pkgutil.iter_modules(tests.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"tests.{module.name}.factories")
            except ModuleNotFoundError as error:
                if error.name != f"tests.{module.name}.factories":
                    raise
    return PROBE_FACTORIES
