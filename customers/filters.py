"""One filter set for every axis, shared by the browser list, the API, exports and segments."""

from __future__ import annotations

import django_filters
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from crm import filters as bounded
from crm.forms import IsoDateInput
from crm.models import User
from crm.money import MoneyError, parse_yuan
from crm.selectors import staff_queryset
from crm.tenancy import current_tenant
from customers.models import (
    Activity,
    BudgetTier,
    CookingFrequency,
    Customer,
    CustomerType,
    FollowUpStatus,
    FunctionalNeed,
    HouseCondition,
    Intent,
    Lifecycle,
    Loyalty,
    SourceChannel,
    Style,
    ValueTier,
)
from customers.search import customer_search_q
from customers.selectors import funnel_reached_q


def _staff(request) -> QuerySet[User]:  # noqa: ARG001 - signature required by the caller (Django/DRF/django-filter)
    """Evaluated per request, inside the tenant (never at class definition)."""
    tenant = current_tenant()
    if tenant is None:
        return User.objects.none()
    return staff_queryset(tenant=tenant)


def _json_list_contains(queryset: QuerySet, field: str, values: list[str]) -> QuerySet:
    """Customers whose JSON list contains every value (jsonb @> on PostgreSQL)."""
    for value in values:
        if connection.vendor == "postgresql":
            queryset = queryset.filter(**{f"{field}__contains": [value]})
        else:
            queryset = queryset.filter(**{f"{field}__icontains": f'"{value}"'})
    return queryset


class CustomerFilter(django_filters.FilterSet):
    q = bounded.CharFilter(method="filter_search", label=_("搜索（姓名/手机号/小区）"))
    source_channel = django_filters.MultipleChoiceFilter(
        choices=SourceChannel.choices, distinct=False, label=_("来源渠道")
    )
    customer_type = django_filters.MultipleChoiceFilter(
        choices=CustomerType.choices, distinct=False, label=_("客户类型")
    )
    house_condition = django_filters.MultipleChoiceFilter(
        choices=HouseCondition.choices, distinct=False, label=_("房屋状况")
    )
    budget_tier = django_filters.MultipleChoiceFilter(
        choices=BudgetTier.choices, distinct=False, label=_("预算档位")
    )
    intent = django_filters.MultipleChoiceFilter(choices=Intent.choices, distinct=False, label=_("意向"))
    follow_up_status = django_filters.MultipleChoiceFilter(
        choices=FollowUpStatus.choices, distinct=False, label=_("跟进状态")
    )
    lifecycle = django_filters.MultipleChoiceFilter(
        choices=Lifecycle.choices, distinct=False, label=_("生命周期")
    )
    loyalty = django_filters.MultipleChoiceFilter(choices=Loyalty.choices, distinct=False, label=_("忠诚度"))
    activity = django_filters.MultipleChoiceFilter(
        choices=Activity.choices, distinct=False, label=_("活跃度")
    )
    value_tier = django_filters.MultipleChoiceFilter(
        choices=ValueTier.choices, distinct=False, label=_("价值等级")
    )
    cooking_frequency = django_filters.MultipleChoiceFilter(
        choices=CookingFrequency.choices, distinct=False, label=_("做饭频率")
    )
    style = django_filters.MultipleChoiceFilter(
        choices=Style.choices, distinct=False, method="filter_style", label=_("风格偏好")
    )
    need = django_filters.MultipleChoiceFilter(
        choices=FunctionalNeed.choices, distinct=False, method="filter_need", label=_("功能需求")
    )
    tag = bounded.CharFilter(method="filter_tag", label=_("标签"))
    is_local = django_filters.BooleanFilter(label=_("本地客户"))
    has_children = django_filters.BooleanFilter(label=_("有小孩"))
    has_elderly = django_filters.BooleanFilter(label=_("有老人"))
    has_pets = django_filters.BooleanFilter(label=_("养宠物"))
    works_from_home = django_filters.BooleanFilter(label=_("居家办公"))
    in_pool = django_filters.BooleanFilter(label=_("在公海"))
    city = bounded.CharFilter(lookup_expr="icontains", label=_("城市"))
    district = bounded.CharFilter(lookup_expr="icontains", label=_("区县"))
    community = bounded.CharFilter(lookup_expr="icontains", label=_("小区"))
    layout = bounded.CharFilter(lookup_expr="icontains", label=_("户型"))
    budget_min_fen = bounded.MoneyFilter(
        field_name="budget_fen", lookup_expr="gte", label=_("预算不低于（分）")
    )
    budget_max_fen = bounded.MoneyFilter(
        field_name="budget_fen", lookup_expr="lte", label=_("预算不高于（分）")
    )
    area_min = bounded.DecimalFilter(field_name="area_sqm", lookup_expr="gte", label=_("面积不小于"))
    area_max = bounded.DecimalFilter(field_name="area_sqm", lookup_expr="lte", label=_("面积不大于"))
    silent_days = bounded.IntegerFilter(
        method="filter_silent_days", max_value=36500, label=_("至少多少天未跟进")
    )
    owner = django_filters.ModelChoiceFilter(queryset=_staff, label=_("负责销售"))
    designer = django_filters.ModelChoiceFilter(queryset=_staff, label=_("设计师"))
    created_after = bounded.DateFilter(
        field_name="created_at", lookup_expr="date__gte", label=_("创建于之后"), widget=IsoDateInput()
    )
    created_before = bounded.DateFilter(
        field_name="created_at", lookup_expr="date__lte", label=_("创建于之前"), widget=IsoDateInput()
    )
    # Drill-down targets of the analytics pages (one link = one filtered list with the same count).
    reached = django_filters.ChoiceFilter(
        choices=[
            ("responded", _("已响应")),
            ("measured", _("已量房")),
            ("design", _("已出设计")),
            ("quoted", _("已报价")),
            ("signed", _("已签约")),
            ("handed_over", _("已交付")),
        ],
        method="filter_reached",
        label=_("漏斗阶段（已到达）"),
    )
    measured_after = bounded.DateFilter(
        field_name="measured_at", lookup_expr="date__gte", label=_("量房于之后"), widget=IsoDateInput()
    )
    measured_before = bounded.DateFilter(
        field_name="measured_at", lookup_expr="date__lte", label=_("量房于之前"), widget=IsoDateInput()
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(customer_search_q(value)) if value else queryset

    def filter_reached(self, queryset, name, value):
        return queryset.filter(funnel_reached_q(value)) if value else queryset

    def filter_style(self, queryset, name, value):
        return _json_list_contains(queryset, "style_preferences", value) if value else queryset

    def filter_need(self, queryset, name, value):
        return _json_list_contains(queryset, "functional_needs", value) if value else queryset

    def filter_tag(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if connection.vendor == "postgresql":
            return queryset.filter(Q(tags__contains=[value]) | Q(system_tags__contains=[value]))
        return queryset.filter(Q(tags__icontains=f'"{value}"') | Q(system_tags__icontains=f'"{value}"'))

    def filter_silent_days(self, queryset, name, value):
        import datetime

        from django.utils import timezone

        if value is None:
            return queryset
        cutoff = timezone.now() - datetime.timedelta(days=int(value))
        return queryset.filter(
            Q(last_touch_at__lt=cutoff) | Q(last_touch_at__isnull=True, created_at__lt=cutoff)
        )


# The list page lets people type yuan; the filter (API, saved segments) takes fen. The page converts.
YUAN_PAGE_PARAMS = {"budget_min_yuan": "budget_min_fen", "budget_max_yuan": "budget_max_fen"}


def yuan_page_params_to_fen(params) -> None:
    """Replace the page's ``*_yuan`` inputs (a ``QueryDict`` copy) by the filter's ``*_fen`` values.

    Text that is not an exact yuan amount is passed on as typed, so the filter form reports it.
    """
    for yuan_key, fen_key in YUAN_PAGE_PARAMS.items():
        typed = params.pop(yuan_key, [""])[-1].strip()
        if not typed:
            continue
        try:
            params[fen_key] = str(parse_yuan(typed))
        except MoneyError:
            params[fen_key] = typed
