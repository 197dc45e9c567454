"""``get_for_user_or_404``: another tenant's object and a missing one are the same 404; an object
of the user's own tenant that their role may not touch is 403."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from crm.access import get_for_user_or_404
from crm.models import Role
from crm.tenancy import tenant_context
from projects.models import Project
from tests.projects.factories import ProjectFactory, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        own = ProjectFactory(tenant=tenant_a)
    with tenant_context(tenant_b):
        foreign = ProjectFactory(tenant=tenant_b)
    return own, foreign


def test_helper_orders_404_before_403(tenant_a, projects):
    own, foreign = projects
    sales = staff(tenant_a, Role.SALES)
    pm = staff(tenant_a, Role.PROJECT_MANAGER)
    with tenant_context(tenant_a):
        for pk in (foreign.pk, 987654321):
            with pytest.raises(Http404):
                get_for_user_or_404(Project, user=sales, permission="projects.handover", pk=pk)
        with pytest.raises(PermissionDenied):
            get_for_user_or_404(Project, user=sales, permission="projects.handover", pk=own.pk)
        assert (
            get_for_user_or_404(Project.objects.all(), user=pm, permission="projects.handover", pk=own.pk)
            == own
        )
        with pytest.raises(PermissionDenied):
            get_for_user_or_404(Project, user=pm, allowed=lambda user, project: False, pk=own.pk)


def test_project_action_page_answers_404_for_another_tenant_and_403_for_the_role(
    tenant_a, projects, session_client
):
    own, foreign = projects
    client = session_client(staff(tenant_a, Role.SALES))  # may view projects, may not hand over
    assert client.post(reverse("projects:handover", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("projects:handover", args=[987654321])).status_code == 404
    assert client.post(reverse("projects:handover", args=[own.pk])).status_code == 403
