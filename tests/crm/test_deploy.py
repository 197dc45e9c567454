"""Deploy hygiene: CSP and no-store headers, a known SECRET_KEY fails ``check --deploy``, broker and
settings mistakes fail loudly, and the image/repository ship no local state."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from crm.models import Role
from crm.tenancy import tenant_context
from tests.customers.factories import LeadFactory

ROOT = Path(settings.BASE_DIR)
COMPOSE_DEFAULT_KEY = "change-me-to-a-long-random-string-0123456789abcdef"


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


# --- Content-Security-Policy -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/customers/", "/customers/leads/", "/api/docs/"])
def test_every_page_has_a_csp_that_allows_only_own_scripts(path, tenant_a, make_staff, session_client):
    client = session_client(make_staff(tenant_a, Role.MANAGER))
    if path == "/accounts/login/":
        client.logout()
    response = client.get(path)
    assert response.status_code == 200
    policy = _directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_no_template_has_inline_script_or_event_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
    offenders = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        if inline_script.search(text) or handler.search(text) or "javascript:" in text:
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


def test_lead_inbox_countdown_runs_from_a_static_file(tenant_a, make_staff, session_client):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        LeadFactory(tenant=tenant_a, assignee=sales)
    html = session_client(sales).get("/customers/leads/").content.decode()
    assert 'class="countdown' in html and "data-overdue-label=" in html
    assert re.findall(r"<script[^>]*>", html) and all(
        "src=" in tag for tag in re.findall(r"<script[^>]*>", html)
    )
    assert "/static/js/crm.js" in html
    assert (ROOT / "static" / "js" / "crm.js").read_text().count(".countdown[data-due]") >= 1


# --- Cache-Control ---------------------------------------------------------------------------------


def test_authenticated_pages_and_api_are_not_stored(tenant_a, make_staff, session_client, token_client):
    manager = make_staff(tenant_a, Role.MANAGER)
    for path in ("/customers/", "/customers/leads/", "/dashboard/"):
        response = session_client(manager).get(path)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], path
    api = token_client(manager).get("/api/v1/customers/")
    assert api.status_code == 200 and "no-store" in api["Cache-Control"]


def test_signed_media_keeps_its_own_caching(tenant_a, manager_a, session_client):
    name = default_storage.save("deploy-test/photo.txt", ContentFile(b"x"))
    response = session_client(manager_a).get(default_storage.url(name))
    assert response.status_code == 200 and response["Cache-Control"] == "private, max-age=3600"
    default_storage.delete(name)


# --- SECRET_KEY ------------------------------------------------------------------------------------


def _deploy_errors() -> list[str]:
    return [message.id for message in run_checks(include_deployment_checks=True) if message.is_serious()]


@pytest.mark.parametrize(
    "key",
    [
        COMPOSE_DEFAULT_KEY,
        "dev-insecure-change-me-0123456789abcdefghijklmnopqrstuvwxyz",
        "django-insecure-" + "x1y2z3" * 10,
    ],
)
def test_known_or_placeholder_secret_key_fails_the_deploy_check(settings, key):
    settings.SECRET_KEY = key
    assert "crm.E001" in _deploy_errors()


def test_random_secret_key_passes_the_deploy_check(settings):
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    assert "crm.E001" not in _deploy_errors()


def _run(args: list[str], *, timeout: int = 60, **env: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    for key in ("CELERY_BROKER_URL", "REDIS_URL", "DATABASE_URL", "SECRET_KEY", "CRM_DEMO"):
        base.pop(key, None)
    return subprocess.run(
        args, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "crm.settings.production",
    "ALLOWED_HOSTS": "crm.example.cn",
    "DATABASE_URL": "postgres://crm:crm@127.0.0.1:5432/crm",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_check_deploy_with_production_settings_refuses_the_compose_default_key():
    command = [sys.executable, "manage.py", "check", "--deploy"]
    refused = _run(command, **PRODUCTION_ENV, SECRET_KEY=COMPOSE_DEFAULT_KEY)
    assert refused.returncode != 0 and "crm.E001" in refused.stderr + refused.stdout
    accepted = _run(command, **PRODUCTION_ENV, SECRET_KEY=secrets.token_urlsafe(50))
    assert accepted.returncode == 0, accepted.stderr


def test_compose_file_ships_no_default_secret_key():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"SECRET_KEY: \$\{SECRET_KEY:\?", compose)
    assert COMPOSE_DEFAULT_KEY not in compose


# --- Celery: no silent fallback ------------------------------------------------------------------


def test_production_settings_refuse_a_filesystem_broker():
    result = _run(
        [sys.executable, "manage.py", "check"],
        **PRODUCTION_ENV,
        SECRET_KEY=secrets.token_urlsafe(50),
        CELERY_BROKER_URL="filesystem://",
    )
    assert result.returncode != 0 and "CELERY_BROKER_URL must be a redis:// or amqp://" in result.stderr


def test_celery_beat_without_settings_module_fails_loudly_instead_of_using_the_demo_broker(tmp_path):
    celery = str(Path(sys.executable).with_name("celery"))
    result = _run([celery, "-A", "crm", "beat", "--schedule", str(tmp_path / "beat")], timeout=90)
    assert result.returncode != 0
    assert "DJANGO_SETTINGS_MODULE is not set" in result.stderr


def test_celery_demo_flag_uses_the_local_settings_with_broker_state_under_var():
    code = (
        "from crm.celery import app; from django.conf import settings; "
        "print(app.conf.broker_url); print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['control_folder'])"
    )
    result = _run([sys.executable, "-c", code], CRM_DEMO="1")
    assert result.returncode == 0, result.stderr
    broker, control_folder = result.stdout.split()
    assert broker.startswith("filesystem")
    assert Path(control_folder) == ROOT / "var" / "celery" / "control"


# --- image and repository ---------------------------------------------------------------------


def test_image_runs_as_non_root_and_ignores_local_state():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".env", ".git", "*.egg-info", "control"} <= ignored


def test_build_artefacts_are_not_committed():
    tracked = subprocess.run(
        ["git", "ls-files", "crm.egg-info", "control"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert tracked.stdout == ""
    ignored = (ROOT / ".gitignore").read_text()
    assert "*.egg-info/" in ignored and "/control/" in ignored
