"""Tracked links of pushed items: a signed token names (tenant, dispatch); opens and clicks counted.

The link in every push goes to a public page (no login) that shows the item and records an open;
its "read more" button goes through the redirect that records a click and leaves for the item's URL.
Tokens are deterministic and never expire, so an old message keeps working; a forged token is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from crm.models import Tenant
from engagement.models import DispatchStatus, PushDispatch

TRACK_SALT = "engagement.track"


@dataclass(frozen=True)
class TrackTarget:
    tenant: Tenant
    dispatch_id: int


def track_token(*, tenant_id: int, dispatch_id: int) -> str:
    return signing.Signer(salt=TRACK_SALT).sign_object({"t": tenant_id, "d": dispatch_id})


def track_url(*, tenant_id: int, dispatch_id: int) -> str:
    return reverse("engagement:track", args=[track_token(tenant_id=tenant_id, dispatch_id=dispatch_id)])


def track_urls(*, tenant_id: int, dispatch_ids: list[int]) -> dict[int, str]:
    """``track_url`` of many dispatches with one ``reverse()`` (a run links every push it sends)."""
    placeholder = "0"
    path = reverse("engagement:track", args=[placeholder])
    head, tail = path[: path.rindex(placeholder)], path[path.rindex(placeholder) + 1 :]
    return {pk: f"{head}{track_token(tenant_id=tenant_id, dispatch_id=pk)}{tail}" for pk in dispatch_ids}


def track_resolve(token: str) -> TrackTarget | None:
    """The tenant and dispatch a link names, or None if forged, malformed or the tenant is inactive."""
    if not token or len(token) > 200:
        return None
    try:
        payload = signing.Signer(salt=TRACK_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    tenant_id, dispatch_id = payload.get("t"), payload.get("d")
    if not isinstance(tenant_id, int) or not isinstance(dispatch_id, int):
        return None
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    return TrackTarget(tenant=tenant, dispatch_id=dispatch_id) if tenant is not None else None


@transaction.atomic
def dispatch_record_open(*, tenant: Tenant, dispatch_id: int) -> PushDispatch | None:
    """Count an open of a sent push (first time kept); None if there is no such sent push."""
    return _record(tenant=tenant, dispatch_id=dispatch_id, first="opened_at", counter="open_count")


@transaction.atomic
def dispatch_record_click(*, tenant: Tenant, dispatch_id: int) -> PushDispatch | None:
    """Count a click through to the item (a click implies an open)."""
    dispatch = _record(tenant=tenant, dispatch_id=dispatch_id, first="clicked_at", counter="click_count")
    if dispatch is not None and dispatch.opened_at is None:
        PushDispatch.objects.filter(pk=dispatch.pk).update(opened_at=dispatch.clicked_at, open_count=1)
    return dispatch


def _record(*, tenant: Tenant, dispatch_id: int, first: str, counter: str) -> PushDispatch | None:
    sent = PushDispatch.objects.filter(tenant=tenant, pk=dispatch_id, status=DispatchStatus.SENT)
    now = timezone.now()
    if not sent.update(**{counter: F(counter) + 1}):
        return None
    sent.filter(**{f"{first}__isnull": True}).update(**{first: now})
    return sent.select_related("rule__item").first()
