"""The test suite: real PostgreSQL (as a non-superuser role, so RLS applies) and real Redis."""

from .base import *  # noqa: F401,F403
from .base import MIDDLEWARE, env

DEBUG = False
DATABASES = {"default": env.db("TEST_DATABASE_URL", default="postgres://crm:crm@127.0.0.1:5432/crm")}
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default="test_crm")}
# Tests don't need durable commits; skipping the WAL fsync per commit makes flushes far cheaper.
DATABASES["default"]["OPTIONS"] = {"options": "-c synchronous_commit=off"}
REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
CACHES = {"default": {"BACKEND": "crm.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"  # Redis, written through to the database
SESSION_USER_CACHE_SECONDS = 300  # the session's user + tenant from Redis (crm/backends.py)
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_IGNORE_RESULT = False
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "crm.media.SignedUrlFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = env.path("TEST_MEDIA_ROOT", default="/tmp/crm-test-media")
MIDDLEWARE = [entry for entry in MIDDLEWARE if "whitenoise" not in entry]  # no collected static in tests
# Production shape: migrations (run by the owner role above) grant DML to this non-owner role.
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="crm_app")
