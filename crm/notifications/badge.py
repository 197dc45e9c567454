"""The nav badge's unread count, cached per user briefly (every page shows it).

Dropped whenever it can change: a notification saved (``notify``), inserted in bulk
(``notify_many``) or marked read (``notification_mark_read``). The inbox and the API count exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from crm.models import User
from crm.notifications.selectors import unread_count
from crm.page_cache import page_cache_forget, page_cache_key, page_cached

BADGE_SECONDS = 60


def badge_cache_key(user_id: int) -> str:
    return page_cache_key("unread", user_id)


def badge_unread_count(*, user: User) -> int:
    return page_cached(badge_cache_key(user.pk), lambda: unread_count(user=user), timeout=BADGE_SECONDS)


def badge_forget(user_ids: Iterable[int]) -> None:
    page_cache_forget(badge_cache_key(user_id) for user_id in set(user_ids))


def _notification_saved(sender, instance, **kwargs) -> None:  # noqa: ARG001 - signal receiver signature
    badge_forget([instance.recipient_id])


def connect_signals() -> None:
    from django.db.models.signals import post_save

    from crm.notifications.models import Notification

    post_save.connect(_notification_saved, sender=Notification, dispatch_uid="notifications.badge")
