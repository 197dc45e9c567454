"""Filter backends shared by the API."""

from __future__ import annotations

from django_filters import rest_framework as drf_filters


class LazyFilterBackend(drf_filters.DjangoFilterBackend):
    """``DjangoFilterBackend`` that builds no FilterSet when the request names none of its filters.

    Building and validating a ~40-field FilterSet (forms, choice lists, the staff queryset) costs
    more than an unfiltered list page; with no filter parameter it would change nothing.
    """

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not any(
            name in filterset_class.base_filters for name in request.query_params
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)
