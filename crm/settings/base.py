"""Settings shared by every environment; values come from the environment (django-environ).

The demo (scripts/up.sh), production and the test suite use PostgreSQL (row-level security, triggers,
the search function) and Redis. The SQLite / filesystem-broker fallbacks below only let
``manage.py`` commands that touch no data (check, makemigrations) run without servers.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-insecure-change-me-0123456789abcdefghijklmnopqrstuvwxyz")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Public base URL for links sent outside a request (SMS, email, webhooks).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# The zero-setup demo (scripts/up.sh sets CRM_DEMO=1): with the console SMS and e-mail backends,
# managers get a page showing what the demo "sent" (crm.notifications.selectors.demo_outbox_enabled).
CRM_DEMO = env.bool("CRM_DEMO", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "crm",
    "crm.notifications",
    "crm.idempotency",
    "crm.events",
    "crm.workdays",
    "integrations",
    "customers",
    "projects",
    "aftercare",
    "referrals",
    "analytics",
    "engagement",
    "sales",
    "quotes",
    "payments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crm.uploads.RolledBackFilesCleanupMiddleware",  # outside the request transaction (TenantMiddleware)
    "crm.middleware.CachedPolicyCSPMiddleware",  # django-csp, the settings policy built once
    "crm.security.NoStoreForAuthenticatedMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "crm.middleware.ExplicitLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "crm.middleware.TenantMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "crm.backends.TenantUserBackend",  # logins record this one: user + tenant in one statement
    # Sessions recorded before TenantUserBackend existed name this path; it must stay listed or
    # they would be logged out. Only reached for a wrong password (then both check it).
    "django.contrib.auth.backends.ModelBackend",
    "crm.permissions.RolePermissionBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "crm.context_processors.role_perms",  # after auth: {{ perms }} without a query
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.shell",
                "crm.notifications.context_processors.unread",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# Production: migrations run as the table owner and grant DML to the app's non-owner role.
DATABASE_APP_ROLE = env("DATABASE_APP_ROLE", default="")
# A NOLOGIN role with BYPASSRLS, created by the superuser (scripts/ensure_services.sh,
# docker-initdb.sql) and granted to the migration role: it owns the SECURITY DEFINER customer
# search function (customers/migrations/0014), which applies the tenant itself. See docs/PERFORMANCE.md.
DATABASE_SEARCH_ROLE = env("DATABASE_SEARCH_ROLE", default="crm_search")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# ISO input formats first in every language, so date/datetime widgets render values a browser's
# date picker can take (crm/formats/<locale>/formats.py; display formats stay Django's).
FORMAT_MODULE_PATH = ["crm.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL_MAX_AGE = env.int("MEDIA_URL_MAX_AGE", default=24 * 3600)  # signed upload URLs (crm/media.py)
STORAGES = {
    "default": {"BACKEND": "crm.media.SignedUrlFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Uploads (crm/uploads.py): every file field is checked by content against these caps.
UPLOAD_MAX_IMAGE_BYTES = env.int("UPLOAD_MAX_IMAGE_BYTES", default=10 * 1024 * 1024)
UPLOAD_MAX_IMAGE_PIXELS = env.int("UPLOAD_MAX_IMAGE_PIXELS", default=50_000_000)  # 50 MP phone cameras
UPLOAD_MAX_DOCUMENT_BYTES = env.int("UPLOAD_MAX_DOCUMENT_BYTES", default=10 * 1024 * 1024)
UPLOAD_MAX_IMPORT_BYTES = env.int("UPLOAD_MAX_IMPORT_BYTES", default=5 * 1024 * 1024)
UPLOAD_MAX_IMPORT_UNPACKED_BYTES = env.int("UPLOAD_MAX_IMPORT_UNPACKED_BYTES", default=50 * 1024 * 1024)
# Non-file request bodies (JSON, form fields) stay small; files above 2.5 MB stream to a temp file
# instead of memory; at most 9 photos per daily log plus headroom per request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 20

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@localhost")

REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "crm.redis_cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Sessions are read from Redis (written through to the database), so a page request spends no
# statement on its session. Only with a shared cache: a per-process LocMemCache would keep a
# logged-out session alive in the other worker processes.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db" if REDIS_URL else "django.contrib.sessions.backends.db"
)
# The session's user and tenant are kept in Redis as long (crm/backends.py: checked against
# generations bumped by any user or tenant save). Same condition: the copy must be shared.
SESSION_USER_CACHE_SECONDS = 300 if REDIS_URL else 0

# --- Celery -------------------------------------------------------------------------------
# Embedded default: kombu's filesystem transport (no Redis needed); set CELERY_BROKER_URL for Redis.
CELERY_DATA_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),  # kombu's default is ./control
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {}  # apps add theirs via AppConfig.beat_schedule (see crm/celery.py)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Client address and rate limits (crm/ratelimit.py) -----------------------------------
# How many reverse proxies in front of the app append to X-Forwarded-For. 0 = the header is
# ignored (it is client-controlled); set it to 1 behind one nginx/SLB that overwrites/appends it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
RATE_LIMITS = {
    "intake_ip": "60/min",  # public lead intake, every post per client address (wrong keys too)
    "intake_key": "60/min",  # public lead intake, per intake key
    "progress_ip": "30/min",  # customer progress page (share link), per client address
    "aftercare_public_ip": "60/h",  # survey answers and customer repair requests, per address
    "referral_join_ip": "10/10min",  # referral share-link form submissions, per address
    "engagement_public_ip": "30/10min",  # marketing opt-out and campaign sign-up pages, per address
    "login_ip": "30/15min",  # failed logins per address across usernames (axes locks user+IP)
}
# Confirmation-code SMS per customer progress link per rolling 24 hours (5 guesses per code).
PROJECTS_CONFIRMATION_CODES_PER_DAY = env.int("PROJECTS_CONFIRMATION_CODES_PER_DAY", default=10)
# A repeat intake of the same phone within this many hours merges into the customer's recent lead.
CUSTOMERS_INTAKE_MERGE_HOURS = env.int("CUSTOMERS_INTAKE_MERGE_HOURS", default=24)
# How long an Idempotency-Key (crm/idempotency) is remembered; a later reuse starts afresh.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=72)

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.HasRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.CrmAutoSchema",
    "EXCEPTION_HANDLER": "crm.api.exceptions.api_exception_handler",
    # DRF's own client-address logic follows the one proxy setting below (crm/ratelimit.py).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Hot API lists run their compiled statement prepared on the connection (crm/api/compiled.py); off
# behind a transaction-pooling PgBouncer older than 1.21 (prepared statements are per connection).
API_PREPARED_STATEMENTS = env.bool("API_PREPARED_STATEMENTS", default=True)
SPECTACULAR_SETTINGS = {
    "TITLE": "Jiazhuang CRM API",
    "DESCRIPTION": (
        "家装 CRM 的 REST API。Authenticate with a per-tenant API token: `Authorization: Token <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI is served from the vendored sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OutboundStatusEnum": "crm.notifications.models.OutboundStatus",
        "NotificationChannelEnum": "crm.notifications.models.Channel",
        "RobotKindEnum": "crm.notifications.models.RobotKind",
        "CalendarDayKindEnum": "crm.workdays.models.DayKind",
        "AftercarePlanStatusEnum": "aftercare.models.PlanStatus",
        "AftercareVisitStatusEnum": "aftercare.models.VisitStatus",
        "TicketStatusEnum": "aftercare.models.TicketStatus",
        "TicketCategoryEnum": "aftercare.models.TicketCategory",
        "TicketPriorityEnum": "aftercare.models.TicketPriority",
        "SurveyKindEnum": "aftercare.models.SurveyKind",
        "SurveyTriggerEnum": "aftercare.models.SurveyTrigger",
        "ProjectStageEnum": "projects.models.Stage",
        "ChangeOrderStatusEnum": "projects.models.ChangeOrderStatus",
        "RectificationStatusEnum": "projects.models.Rectification.Status",
        "MaterialCategoryEnum": "projects.models.Material.Category",
        "SourceChannelEnum": "customers.models.SourceChannel",
        "ConsentChannelEnum": "engagement.models.ConsentChannel",
        "ConsentSourceEnum": "engagement.models.ConsentSource",
        "TicketSourceEnum": "aftercare.models.TicketSource",
        "QuoteItemCategoryEnum": "quotes.models.ItemCategory",
        "QuotationStatusEnum": "quotes.models.QuotationStatus",
        "QuotationLineKindEnum": "quotes.models.LineKind",
    },
}

# --- Login throttling (django-axes) -------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "crm.ratelimit.client_ip"  # same address as every other limit

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

LANGUAGE_COOKIE_NAME = "crm_language"

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Every script is a file served by the app (static/js/crm.js, vendored htmx, Swagger UI's split
# view): no inline script or on* handler anywhere. No inline style either: templates use classes
# from static/css (utility classes ``u-*`` in crm.css), htmx's indicator style is in crm.css
# (``htmx-config`` meta), charts draw tooltips as rich text; scripts that style elements do it
# through the CSSOM (element.style), which style-src does not restrict.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
