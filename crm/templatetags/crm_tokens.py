"""``{{ scopes|token_scope_labels }}``: API token scopes as the words the token page uses."""

from __future__ import annotations

from django import template

from crm.models import TOKEN_SCOPE_LABELS

register = template.Library()


@register.filter
def token_scope_labels(scopes) -> list[str]:
    return [str(TOKEN_SCOPE_LABELS.get(scope, scope)) for scope in scopes or []]
