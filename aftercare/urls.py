"""Browser pages of this app, mounted by crm/urls.py."""

app_name = "aftercare"

urlpatterns: list = []
