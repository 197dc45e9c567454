from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from crm.demo import DEMO_STAFF
from crm.models import Tenant, User


def test_locale_and_time_settings():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert "en" in dict(settings.LANGUAGES)
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ


def test_production_settings_pass_deploy_check():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.production",
        "SECRET_KEY": "k" * 20 + "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e",
        "ALLOWED_HOSTS": "crm.example.com",
        "DATABASE_URL": settings.DATABASES["default"].get("URL", "postgres://crm:crm@127.0.0.1:5432/crm"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zero_setup_demo_database_migrates_on_sqlite(tmp_path):
    """The README's first command runs on SQLite: every migration must (PostgreSQL-only SQL is guarded)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CRM_DEMO": "1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    counts = (Tenant.objects.count(), User.objects.count())
    call_command("seed_demo")
    assert (Tenant.objects.count(), User.objects.count()) == counts
    assert counts == (2, 2 * len(DEMO_STAFF))
    assert User.objects.get(username="anju_manager").check_password("demo12345")
