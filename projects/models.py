"""Decoration projects of one tenant."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class Project(TenantOwnedModel):
    """A decoration project of one customer (a customer may have several over the years)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="projects", verbose_name=_("客户")
    )
    name = models.CharField(_("项目名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    area_sqm = models.DecimalField(_("面积（㎡）"), max_digits=8, decimal_places=2, null=True, blank=True)
    contract_number = models.CharField(_("合同编号"), max_length=50, null=True, blank=True)
    contract_amount = models.PositiveBigIntegerField(_("合同金额（元）"), null=True, blank=True)
    signed_on = models.DateField(_("签约日期"), null=True, blank=True)
    handed_over_on = models.DateField(_("交付日期"), null=True, blank=True)
    designer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("设计师"),
    )
    project_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目经理"),
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("监理"),
    )
    service_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("客服负责人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("项目")
        verbose_name_plural = _("项目")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contract_number"], name="projects_project_tenant_contract_uniq"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "customer"], name="proj_tenant_customer_idx")]

    def __str__(self) -> str:
        return self.name
