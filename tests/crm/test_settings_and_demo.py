from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import psycopg
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fetch(opener, url: str, data: dict | None = None) -> tuple[int, str, str]:
    """Status, final URL (after redirects) and body."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with opener.open(urllib.request.Request(url, data=body), timeout=60) as response:
        return response.status, response.geturl(), response.read().decode()


def test_readme_up_command_brings_the_crm_up_with_demo_data():
    """The README's first command, end to end: ``scripts/up.sh`` migrates a fresh PostgreSQL database,
    seeds the demo, starts the web server and the Celery worker with beat, and the demo manager can
    log in and open the dashboard. (Found broken once: set-based SQL the SQLite default could not run.)"""
    url = os.environ.get("TEST_DATABASE_URL", "postgres://crm:crm@127.0.0.1:5432/crm")
    base = url.rsplit("/", 1)[0]
    name = f"up_demo_{os.getpid()}"
    admin = psycopg.connect(f"{base}/postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    port = _free_port()
    inherited = ("DJANGO_", "TEST_", "CELERY_", "REDIS_URL", "PYTEST_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env.update(PORT=str(port), DATABASE_URL=f"{base}/{name}", REDIS_URL="redis://127.0.0.1:6379/13")
    process = subprocess.Popen(
        ["bash", "scripts/up.sh"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 900  # migrate + seed: ~1.5 min on a quiet machine
        while not any("Jiazhuang CRM is running" in line for line in output):
            assert process.poll() is None and time.monotonic() < deadline, "".join(output[-40:])
            time.sleep(1)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        root = f"http://127.0.0.1:{port}"
        status, _, page = _fetch(opener, f"{root}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert status == 200 and token
        status, landed, _ = _fetch(
            opener,
            f"{root}/accounts/login/",
            {"csrfmiddlewaretoken": token.group(1), "username": "anju_manager", "password": "demo12345"},
        )
        assert status == 200 and "/accounts/login/" not in landed, landed
        status, landed, page = _fetch(opener, f"{root}/dashboard/")
        assert status == 200 and landed.endswith("/dashboard/")
        assert "安居家装" in page and 'data-chart="' in page and "echarts.min.js" in page
        with psycopg.connect(f"{base}/{name}") as demo:  # as the tenant: row-level security applies
            tenant_sql = "SELECT set_config('app.tenant_id', id::text, false) FROM crm_tenant WHERE slug=%s"
            demo.execute(tenant_sql, ["anju"])
            customers = demo.execute("SELECT count(*) FROM customers_customer").fetchone()
        assert customers is not None and customers[0] > 50, customers
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # up.sh, the web server and the worker
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        except ProcessLookupError:
            pass
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    call_command("seed_demo")
    counts = (Tenant.objects.count(), User.objects.count())
    call_command("seed_demo")
    assert (Tenant.objects.count(), User.objects.count()) == counts
    assert counts == (2, 2 * len(DEMO_STAFF))
    assert User.objects.get(username="anju_manager").check_password("demo12345")
