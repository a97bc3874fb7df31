"""Django settings for Cartera.

Everything comes from the environment and nothing is required: a fresh checkout runs on an embedded
SQLite file under ``var/``. ``DATABASE_URL`` switches to PostgreSQL; ``CARTERA_DEBUG=1`` (set by
``make run``) turns debug on.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CARTERA_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """The secret key from the environment, or one generated once and kept in ``var/``."""
    from_env = os.environ.get("CARTERA_SECRET_KEY")
    if from_env:
        return from_env
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("CARTERA_DEBUG")
ALLOWED_HOSTS = [h for h in os.environ.get("CARTERA_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CARTERA_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves its own Swagger UI files for /api/docs (no CDN)
    "django_tasks_db",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "cartera.core",
    "cartera.accounts",
    "cartera.customers",
    "cartera.activity",
    "cartera.sales",
    "cartera.insights",
    "cartera.segments",
    "cartera.imports",
    "cartera.privacy",
    "cartera.pipeline",
    "cartera.surveys",
    "cartera.messaging",
    "cartera.campaigns",
    "cartera.web",
    "cartera.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before everything that costs: a repeated try of a locked-out login is answered here.
    "cartera.accounts.middleware.RecentLockoutMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cartera.accounts.middleware.TwoFactorMiddleware",
    "cartera.core.middleware.LoginRequiredMiddleware",
    "cartera.core.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cartera.urls"
WSGI_APPLICATION = "cartera.wsgi.application"
ASGI_APPLICATION = "cartera.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Django's renderer, with select boxes written in Python instead of one template per option.
FORM_RENDERER = "cartera.core.form_renderer.FormRenderer"

# --- database -------------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "cartera.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{SQLITE_PATH}"),
        conn_max_age=int(os.environ.get("CARTERA_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several people and the background worker write at once: WAL lets readers and one writer
    # work together, the busy timeout waits for the lock instead of failing, and IMMEDIATE
    # transactions take the write lock up front so they never deadlock on an upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;"
        ),
    }
    DATABASES["default"]["TEST"] = (
        {"NAME": str(VAR_DIR / "test.sqlite3")} if _env_bool("CARTERA_TEST_SQLITE_FILE") else {}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# django-axes first: it refuses a locked-out username + address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading a user's permissions and role in one query (cartera/accounts/backends.py).
    "cartera.accounts.backends.AccessBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- background work ------------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- e-mail (cartera/messaging; docs/messaging.md) ---------------------------------------------------
# Django's SMTP backend, configured from the environment. With nothing set it talks to the local
# sink that `make run` starts (aiosmtpd on 127.0.0.1:CARTERA_SMTP_SINK_PORT).
CARTERA_SMTP_SINK_PORT = int(os.environ.get("CARTERA_SMTP_SINK_PORT", "1025"))
MAILERS = {
    "default": {
        "BACKEND": os.environ.get("CARTERA_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"),
        "OPTIONS": {
            "host": os.environ.get("CARTERA_EMAIL_HOST", "127.0.0.1"),
            "port": int(os.environ.get("CARTERA_EMAIL_PORT", str(CARTERA_SMTP_SINK_PORT))),
            "username": os.environ.get("CARTERA_EMAIL_USER", ""),
            "password": os.environ.get("CARTERA_EMAIL_PASSWORD", ""),
            "use_tls": _env_bool("CARTERA_EMAIL_STARTTLS"),
            "use_ssl": _env_bool("CARTERA_EMAIL_SSL"),
            "timeout": float(os.environ.get("CARTERA_EMAIL_TIMEOUT", "30")),
        },
    }
}
if MAILERS["default"]["BACKEND"] != "django.core.mail.backends.smtp.EmailBackend":
    MAILERS["default"]["OPTIONS"] = {}
DEFAULT_FROM_EMAIL = os.environ.get("CARTERA_EMAIL_FROM", "Cartera <cartera@localhost>")
SERVER_EMAIL = os.environ.get("CARTERA_SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Messages a second the worker sends over its one connection; 0 means as fast as the server takes them.
CARTERA_EMAIL_RATE = float(os.environ.get("CARTERA_EMAIL_RATE", "50"))
# Temporary errors (4xx, a dropped connection) are retried after 1, 2, 4... times this, up to the limit.
CARTERA_EMAIL_RETRY_SECONDS = float(os.environ.get("CARTERA_EMAIL_RETRY_SECONDS", "60"))
CARTERA_EMAIL_MAX_ATTEMPTS = int(os.environ.get("CARTERA_EMAIL_MAX_ATTEMPTS", "6"))
# A row left "sending" this long by a worker that died is sent again (its message never went out).
CARTERA_OUTBOX_STALE_SECONDS = float(os.environ.get("CARTERA_OUTBOX_STALE_SECONDS", "60"))
# The address people reach the app at: links in e-mails (unsubscribe) start with it.
CARTERA_PUBLIC_URL = os.environ.get("CARTERA_PUBLIC_URL", "http://127.0.0.1:8000")
# The mailto: of List-Unsubscribe; mail to it with the token as subject unsubscribes.
CARTERA_UNSUBSCRIBE_ADDRESS = os.environ.get("CARTERA_UNSUBSCRIBE_ADDRESS", "unsubscribe@localhost")

# --- i18n -----------------------------------------------------------------------------------------
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "cartera" / "locale"]
FORMAT_MODULE_PATH = ["cartera.formats"]
TIME_ZONE = os.environ.get("CARTERA_TIME_ZONE", "Europe/Madrid")
USE_I18N = True
USE_TZ = True

# --- Cartera --------------------------------------------------------------------------------------
CARTERA_DEFAULT_PHONE_REGION = os.environ.get("CARTERA_DEFAULT_PHONE_REGION", "ES")
CARTERA_DEFAULT_CURRENCY = os.environ.get("CARTERA_DEFAULT_CURRENCY", "EUR")
CARTERA_PAGE_SIZE = 50
# Lifecycle thresholds (see docs/analytics.md), e.g. '{"lost_after_days": 540, "at_risk_factor": 2.5}'.
CARTERA_LIFECYCLE_THRESHOLDS = json.loads(os.environ.get("CARTERA_LIFECYCLE_THRESHOLDS", "{}"))
# The refresh's one-at-a-time lock: the running refresh shows a sign of life every few seconds; one
# silent for longer (or whose process is gone, on the same host) is taken over by the next refresh.
CARTERA_REFRESH_HEARTBEAT_SECONDS = float(os.environ.get("CARTERA_REFRESH_HEARTBEAT_SECONDS", "10"))
# The most customers for which a page view computes missing dashboard figures itself (about a second
# at 20,000); above, the worker computes them and the pages show the previous ones meanwhile.
CARTERA_FIGURES_INLINE_MAX_CUSTOMERS = int(os.environ.get("CARTERA_FIGURES_INLINE_MAX_CUSTOMERS", "20000"))
# The most answers (in the last twelve months) a survey's results page counts itself (some tens of
# milliseconds); above, the worker counts them and the pages show what it counted, with the time.
CARTERA_SURVEY_RESULTS_INLINE_MAX = int(os.environ.get("CARTERA_SURVEY_RESULTS_INLINE_MAX", "20000"))
# The bottleneck report counts a pipeline's moves itself up to this many opportunities (about three
# moves each: under 100 ms), and where the revenue comes from up to this many customers; above, the
# worker counts them and the report shows what it counted, with the time (docs/pipeline.md).
CARTERA_REPORT_INLINE_OPPORTUNITIES = int(os.environ.get("CARTERA_REPORT_INLINE_OPPORTUNITIES", "20000"))
CARTERA_REPORT_INLINE_CUSTOMERS = int(os.environ.get("CARTERA_REPORT_INLINE_CUSTOMERS", "100000"))
CARTERA_REFRESH_STALE_SECONDS = float(os.environ.get("CARTERA_REFRESH_STALE_SECONDS", "120"))
# The bulk-write tricks (COPY, table swaps, index rebuilds: cartera/core/bulk.py) give way to their
# plain twins (the ORM, row by row) when set; CI runs the suite once this way too.
CARTERA_BULK_PLAIN = _env_bool("CARTERA_BULK_PLAIN")

# --- personal data (docs/privacy.md) ----------------------------------------------------------------
# The key of the hash under which erased e-mail addresses are kept on the suppression list. Changing
# it makes the list forget everyone on it: set it once, keep it secret and back it up.
CARTERA_SUPPRESSION_KEY = os.environ.get("CARTERA_SUPPRESSION_KEY", SECRET_KEY)
# Retention: what the nightly `cartera privacy retention` removes (0 days = at once).
CARTERA_RETENTION = {
    "prospect_inactive_months": int(os.environ.get("CARTERA_RETAIN_PROSPECTS_MONTHS", "24")),
    "rejected_rows_days": int(os.environ.get("CARTERA_RETAIN_REJECTED_ROWS_DAYS", "30")),
    "import_files_days": int(os.environ.get("CARTERA_RETAIN_IMPORT_FILES_DAYS", "0")),
    "audit_log_years": int(os.environ.get("CARTERA_RETAIN_AUDIT_YEARS", "5")),
    # An export file (My exports) can be downloaded for this many hours after it is written; then
    # the retention run deletes it (the job stays as the record).
    "export_files_hours": int(os.environ.get("CARTERA_RETAIN_EXPORT_FILES_HOURS", "24")),
}
# A CSV or vCard export of at most this many rows streams straight to the browser; a bigger one, and
# every XLSX, is written by the task worker and downloaded from My exports (docs/import-export.md).
CARTERA_EXPORT_STREAM_MAX_ROWS = int(os.environ.get("CARTERA_EXPORT_STREAM_MAX_ROWS", "5000"))
# The wording and version of the consent question on the customer form (the ledger keeps both).
CARTERA_CONSENT_WORDING = os.environ.get(
    "CARTERA_CONSENT_WORDING", "Accepts marketing by this channel (customer form checkbox)"
)
CARTERA_CONSENT_VERSION = os.environ.get("CARTERA_CONSENT_VERSION", "form-1")

# --- static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("CARTERA_STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
_STATIC_COLLECTED = (STATIC_ROOT / "staticfiles.json").exists() and not DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files once ``collectstatic`` has run (production); the app's own
        # static folders straight away otherwise, so a fresh checkout and the tests need no build.
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_COLLECTED
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not _STATIC_COLLECTED

# --- request limits -------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("CARTERA_MAX_REQUEST_BYTES", 2_621_440))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
# Largest file an import accepts (50 MB unless configured).
CARTERA_MAX_UPLOAD_BYTES = int(os.environ.get("CARTERA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024))

# --- security -------------------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    _https = _env_bool("CARTERA_HTTPS", default=True)
    SESSION_COOKIE_SECURE = _https
    CSRF_COOKIE_SECURE = _https
    SECURE_SSL_REDIRECT = _https and _env_bool("CARTERA_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("CARTERA_HSTS_SECONDS", "31536000")) if _https else 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
    SECURE_HSTS_PRELOAD = _https
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes), for the app's login and the Django admin's alike. A username is
# locked out from one address after N failures in a row; the same username from elsewhere, and every
# other username, can still log in, so one attacker cannot lock the whole team out.
AXES_FAILURE_LIMIT = int(os.environ.get("CARTERA_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CARTERA_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The lockout lasts its N minutes from the failure that triggered it; more tries while locked out do
# not extend it (the page promises "try again in N minutes").
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "cartera.accounts.views.login_locked_out"
# For this many seconds after refusing a locked-out username from an address, a server process refuses
# its next tries without asking the database (accounts.middleware.RecentLockoutMiddleware).
CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS = float(os.environ.get("CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS", "10"))
AXES_CLIENT_IP_CALLABLE = "cartera.accounts.throttling.client_ip"
# How many proxies of ours stand in front of the app and append to X-Forwarded-For (0: none, the
# connection's own address is the client's).
CARTERA_PROXY_COUNT = int(os.environ.get("CARTERA_PROXY_COUNT", "0"))
AXES_VERBOSE = False

# Two-factor sign-in (TOTP, django-otp): anyone may turn it on; admins must.
CARTERA_2FA_REQUIRED_FOR_ADMINS = _env_bool("CARTERA_2FA_REQUIRED_FOR_ADMINS", default=True)
OTP_TOTP_ISSUER = os.environ.get("CARTERA_2FA_ISSUER", "Cartera")

# Personal API tokens: how many days a new one lasts unless its creator chooses, and the most allowed.
CARTERA_API_TOKEN_DAYS = int(os.environ.get("CARTERA_API_TOKEN_DAYS", "90"))
CARTERA_API_TOKEN_MAX_DAYS = int(os.environ.get("CARTERA_API_TOKEN_MAX_DAYS", "365"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CARTERA_LOG_LEVEL", "WARNING")},
}

# The search indexes INCLUDE the id for PostgreSQL's index-only scans; SQLite indexes carry the row
# id anyway, so Django's warning that SQLite ignores INCLUDE is expected.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
