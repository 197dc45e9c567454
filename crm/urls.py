"""URL composition root: browser pages, /api/v1/ (every app's api_urls), schema and docs."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm import views
from crm.api.exceptions import api_not_found
from crm.media import serve_media

API_V1_MODULES = [
    "crm.api.routers",
    "crm.notifications.api_urls",
    "crm.events.api_urls",
    "crm.workdays.api_urls",
    "integrations.api_urls",
    "customers.api_urls",
    "projects.api_urls",
    "aftercare.api_urls",
    "referrals.api_urls",
    "analytics.api_urls",
    "engagement.api_urls",
    "sales.api_urls",
    "quotes.api_urls",
    "payments.api_urls",
]


def favicon(request) -> HttpResponseRedirect:  # noqa: ARG001 - a view takes the request
    """Browsers ask for /favicon.ico on pages without our <link rel=icon> (admin, API docs)."""
    return HttpResponseRedirect(static("favicon.svg"))


api_v1_patterns = [path("", include(module)) for module in API_V1_MODULES]

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("favicon.ico", favicon),
    path("accounts/login/", views.CrmLoginView.as_view(), name="login"),
    path("accounts/logout/", views.CrmLogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("dashboard/", include("analytics.urls")),
    path("settings/tokens/", views.ApiTokenListView.as_view(), name="api-tokens"),
    path("settings/calendar/", include("crm.workdays.urls")),
    path("settings/tokens/<int:pk>/revoke/", views.ApiTokenRevokeView.as_view(), name="api-token-revoke"),
    path("notifications/", include("crm.notifications.urls")),
    path("events/", include("crm.events.urls")),
    path("integrations/", include("integrations.urls")),
    path("customers/", include("customers.urls")),
    path("projects/", include("projects.urls")),
    path("aftercare/", include("aftercare.urls")),
    path("referrals/", include("referrals.urls")),
    path("engagement/", include("engagement.urls")),
    path("sales/", include("sales.urls")),
    path("quotes/", include("quotes.urls")),
    path("payments/", include("payments.urls")),
    path("media/<path:path>", serve_media, name="media"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # the split view serves its initialiser as a script file: works under script-src 'self' (CSP)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),
]
