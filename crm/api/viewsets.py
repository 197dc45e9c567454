"""Base classes every app's API builds on: tenant-scoped querysets, role permissions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django.db import models
from rest_framework import mixins, viewsets
from rest_framework.request import Request

from crm import events, extensions
from crm.api.permissions import TokenScopePermission
from crm.api.since import apply_since
from crm.events.types import EventType
from crm.idempotency.services import idempotent_response
from crm.permissions import HasRolePermission
from crm.tenancy import require_tenant

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

    from crm.models import Tenant, User


class TenantViewSetMixin:
    """Querysets come from tenant-scoped managers; ``self.tenant`` is the request's tenant.

    Subclasses set ``model`` and implement ``get_tenant_queryset()``. Objects of another tenant
    are simply not in the queryset, so DRF answers 404 (never 403); the same holds for rows the
    user may not see (``crm.extensions.register_row_narrower``, e.g. another rep's customer).
    ``model`` also lets the OpenAPI generator (which runs with no tenant) and the cross-tenant
    probe know the model.
    A token request must also be within the token's scope for the view's module
    (:class:`crm.api.permissions.TokenScopePermission`); subclasses that set their own
    ``permission_classes`` must keep it.
    """

    permission_classes: Sequence[_PermissionClass] = [TokenScopePermission, HasRolePermission]
    required_permissions: dict[str, str] = {}
    model: type[models.Model] | None = None

    @property
    def tenant(self) -> Tenant:
        return require_tenant()

    @property
    def request_user(self) -> User:
        """The request's user, typed as a real user: the permissions refuse anonymous requests."""
        return cast("User", self.request.user)  # type: ignore[attr-defined]  # mixed into an APIView

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) and self.model is not None:
            return models.QuerySet(model=self.model).none()
        request = getattr(self, "request", None)
        queryset = self.get_tenant_queryset()
        if request is None:
            return queryset
        return extensions.narrow_rows_for_user(queryset, user=request.user)

    def filter_queryset(self, queryset):
        """The view's own filters, then ``?updated_since=`` / ``?created_since=`` on lists."""
        queryset = super().filter_queryset(queryset)  # type: ignore[misc]  # mixed into a GenericAPIView
        if getattr(self, "action", None) == "list":
            queryset = apply_since(queryset, self.request.query_params)  # type: ignore[attr-defined]
        return queryset

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Every create (``POST`` on a collection) honours ``Idempotency-Key``, after the
        permission checks: the same key with the same body replays the first 2xx response."""
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # mixed into an APIView
        if request.method == "DELETE" and getattr(self, "action", None) == "destroy":
            self._publish_tombstones()
        if request.method != "POST" or getattr(self, "action", None) != "create":
            return
        create = self.post  # type: ignore[has-type]  # bound by ViewSet.as_view()
        scope = f"api.{getattr(self, 'basename', None) or type(self).__name__}.create"

        def post(request: Request, *args: Any, **kwargs: Any):
            return idempotent_response(
                request, tenant=self.tenant, scope=scope, handler=lambda: create(request, *args, **kwargs)
            )

        self.post = post

    def _publish_tombstones(self) -> None:
        """Every delete route publishes ``record.deleted`` in the request's transaction: the event
        log (``/api/v1/events/``) is the tombstone feed of every collection."""
        destroy = self.delete  # type: ignore[has-type]  # bound by ViewSet.as_view()

        def delete(request: Request, *args: Any, **kwargs: Any):
            response = destroy(request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                collection = self.request.path.split("/api/v1/", 1)[-1].rsplit("/", 2)[0]  # type: ignore[attr-defined]
                events.publish(
                    EventType.RECORD_DELETED,
                    tenant=self.tenant,
                    record_id=int(kwargs["pk"]),
                    collection=collection,
                )
            return response

        self.delete = delete

    def get_tenant_queryset(self):
        if self.model is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set model or override get_tenant_queryset()"
            )
        return self.model.objects.all()  # type: ignore[attr-defined]  # concrete models all have it


class TenantModelViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantCreateListRetrieveViewSet(
    TenantViewSetMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    pass


class SingletonViewMixin:
    """A per-tenant settings object at a fixed URL, without a ``pk`` in it.

    ``get_object()`` returns that object, so everything DRF does with it (``OPTIONS`` metadata for
    ``PUT``, the browsable API's forms, object permissions) works as on a detail route.
    """

    if TYPE_CHECKING:  # provided by the APIView this is mixed into

        def check_object_permissions(self, request: Request, obj: Any) -> None: ...

    def get_singleton(self) -> models.Model:
        raise NotImplementedError(f"{type(self).__name__} must implement get_singleton()")

    def get_object(self) -> models.Model:
        obj = self.get_singleton()
        self.check_object_permissions(self.request, obj)  # type: ignore[attr-defined]  # an APIView's
        return obj
