"""Idempotency keys in PostgreSQL (not only a cache): a client retry after a restart or a cache
flush still gets the first response instead of a second write."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class IdempotencyKey(TenantOwnedModel):
    """One ``Idempotency-Key`` of a tenant: the request it came with and the response it got.

    ``response_status`` is 0 while the first request is still running (its transaction holds the
    row; a concurrent retry waits on the unique index and then replays the committed response).
    """

    key = models.CharField(_("幂等键"), max_length=255)
    scope = models.CharField(_("操作"), max_length=100, help_text=_("例如 customers.intake"))
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("幂等键")
        verbose_name_plural = _("幂等键")
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_tenant_key_uniq")]
        indexes = [models.Index(fields=["tenant", "created_at"], name="idempotency_tenant_created_idx")]

    def __str__(self) -> str:
        return f"{self.scope} · {self.key[:40]}"
