from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm import selectors, services
from crm.api.serializers import ApiTokenCreatedSerializer, ApiTokenSerializer, StaffUserSerializer
from crm.api.viewsets import TenantViewSetMixin
from crm.models import ApiToken, User


class MeView(TenantViewSetMixin, GenericAPIView):
    """The authenticated staff user and tenant."""

    serializer_class = StaffUserSerializer
    token_scope_exempt = True  # any valid token may ask who it acts as

    def get(self, request):
        data = StaffUserSerializer(request.user).data
        data["tenant"] = {"id": self.tenant.pk, "name": self.tenant.name, "slug": self.tenant.slug}
        return Response(data)


class StaffViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = StaffUserSerializer
    required_permissions = {"*": "crm.view_staff"}
    model = User

    def get_tenant_queryset(self):
        return selectors.staff_queryset(tenant=self.tenant)


class ApiTokenViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Per-tenant API tokens: created and revoked by a manager or admin; hashed at rest."""

    serializer_class = ApiTokenSerializer
    required_permissions = {"*": "crm.manage_tokens"}
    model = ApiToken

    def get_tenant_queryset(self):
        return selectors.api_tokens_for_list(tenant=self.tenant)

    @extend_schema(responses={201: ApiTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, plaintext = services.api_token_create(
            tenant=self.tenant,
            created_by=request.user,
            name=serializer.validated_data["name"],
            user=serializer.validated_data.get("user"),
            scopes=serializer.validated_data["scopes"],
            via_token=request.api_token,
        )
        data = ApiTokenSerializer(token).data
        data["token"] = plaintext
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = services.api_token_revoke(
            tenant=self.tenant, token=self.get_object(), revoked_by=request.user
        )
        return Response(ApiTokenSerializer(token).data)
