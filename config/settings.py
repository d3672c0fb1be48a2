"""One settings module for every deployment, driven by environment variables.

With nothing set, Moderato runs embedded: SQLite and a file-system Celery broker under
``MODERATO_DATA_DIR`` (default ``var/``). Set ``DATABASE_URL`` and ``REDIS_URL`` for production.
A variable with a value that cannot be parsed stops start-up with a message naming it.
"""

import os
import re
import secrets
import sys
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config.logging import logging_config

# Lets classes generic in django-stubs (ModelAdmin[Comment], ModelForm[...]) be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below its minimum {minimum}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("MODERATO_DATA_DIR") or BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)


SECRET_KEY_FILE = DATA_DIR / "secret-key"
ADDRESS_HASH_KEY_FILE = DATA_DIR / "address-hash-key"


def data_dir_key(path: Path, value: str) -> str:
    """Keep ``value`` in ``path`` (mode 0600) unless the file exists, then return the file's key.

    Written to a temporary file and linked into place, so processes starting together agree on one key.
    """
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        temporary.touch(mode=0o600)
        temporary.write_text(value)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


# Fresh: this start creates the data directory's first key (backups: README, "Backup and restore").
FRESH_DATA_DIR = not SECRET_KEY_FILE.exists()
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or data_dir_key(SECRET_KEY_FILE, secrets.token_urlsafe(50))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "comments",
    "moderation",
    # After moderation, so that moderation's admin/base_site.html (the Moderato header, the held count)
    # overrides the admin's own.
    "django.contrib.admin",
]

MIDDLEWARE = [
    # First: /livez answers before host validation and the HTTPS redirect (a load balancer probes
    # by IP address over plain HTTP), then every other request gets its id.
    "moderation.health.LivezMiddleware",
    "config.logging.RequestIdMiddleware",
    "config.middleware.NulInQueryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "comments.cors.SiteOriginCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite in the data directory unless DATABASE_URL says otherwise.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'moderato.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write at the same time: WAL lets readers go on while one
    # writes, and IMMEDIATE transactions wait for the lock instead of failing on upgrade.
    # Kept open (with a health check) like PostgreSQL's: opening the file, reading the schema and
    # running the PRAGMAs cost 1.8-3 ms per request.
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not ":memory:", so that a worker process started by the tests sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-moderato.sqlite3")}
    # Comments, e-mail addresses and sessions: readable by the service's user only (SQLite gives its
    # -wal and -shm files the database file's permissions).
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if _sqlite_file.parent.is_dir():
        _sqlite_file.touch(mode=0o600, exist_ok=True)
        _sqlite_file.chmod(0o600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Broker: Redis when REDIS_URL is set, else kombu's file-system transport (no server needed).
REDIS_URL = env_str("REDIS_URL")
# A Redis database is often shared (another instance, a developer's own data, a second test run):
# every key this instance writes there, cache and broker queues alike, starts with
# MODERATO_REDIS_PREFIX. A test run takes one of its own (its worker processes inherit it), and
# its tests delete only keys under it, never the whole database.
if "pytest" in sys.modules and not os.environ.get("MODERATO_REDIS_PREFIX"):
    os.environ["MODERATO_REDIS_PREFIX"] = f"moderato-test-{os.getpid()}"
REDIS_PREFIX = env_str("MODERATO_REDIS_PREFIX")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT = "config.broker:AtomicFilesystemTransport"
    BROKER_DIR = DATA_DIR / "broker"
    (BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The worker polls the folder; with a few messages prefetched per process this gives
        # hundreds of decisions a second without a busy loop.
        "polling_interval": 0.01,
    }
else:
    # An unacknowledged task (worker killed) comes back after this long; the sweep is faster still.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}
    if REDIS_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = f"{REDIS_PREFIX}:"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A request must not hang on a dead broker: fail fast, the sweep queues the comment later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Scoring takes milliseconds: a few tasks in hand per process keep the worker busy between
# broker round trips (a killed worker's unacknowledged tasks come back; the sweep covers the rest).
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4, minimum=1)
# Celery's Django fixup closes the database connection before and after every task unless told to
# reuse it: a new PostgreSQL backend per task cost 40 % of a worker's throughput. A dropped
# connection is closed by the task itself (moderation.tasks), so reuse never keeps a dead one.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SOFT_TIME_LIMIT = 20
CELERY_TASK_TIME_LIMIT = 30
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Moderation pipeline.
MODERATO_SWEEP_AFTER_SECONDS = env_int("MODERATO_SWEEP_AFTER_SECONDS", 30, minimum=1)
MODERATO_SWEEP_EVERY_SECONDS = env_int("MODERATO_SWEEP_EVERY_SECONDS", 10, minimum=1)
# The hour (UTC) at which moderators who chose a daily digest of held comments get it.
MODERATO_DIGEST_HOUR = env_int("MODERATO_DIGEST_HOUR", 7)
if MODERATO_DIGEST_HOUR > 23:
    raise ImproperlyConfigured(f"MODERATO_DIGEST_HOUR={MODERATO_DIGEST_HOUR} is not an hour from 0 to 23")
MODERATO_MAX_SCORING_ATTEMPTS = env_int("MODERATO_MAX_SCORING_ATTEMPTS", 3, minimum=1)
# A drain scores fresh comments this many at a time, and at most about this many characters of text
# (a batch of long comments is smaller, so that no batch takes long).
MODERATO_SCORING_BATCH = env_int("MODERATO_SCORING_BATCH", 500, minimum=1)
MODERATO_SCORING_BATCH_CHARS = env_int("MODERATO_SCORING_BATCH_CHARS", 250_000, minimum=1)
# After a batch that was not full the drain waits this long before claiming again (moderation.tasks): under
# a steady load one batch then takes the comments of that time, each paying a share of the batch's queries.
MODERATO_SCORING_LINGER_MS = env_int("MODERATO_SCORING_LINGER_MS", 50)
MODERATO_IDEMPOTENCY_KEEP_HOURS = env_int("MODERATO_IDEMPOTENCY_KEEP_HOURS", 48, minimum=24)
# How long a process keeps a site (its key, allowed origins, thread rules) before reading it again;
# a change made in the admin applies at once in that process, in the others within this time.
MODERATO_SITE_CACHE_SECONDS = env_int("MODERATO_SITE_CACHE_SECONDS", 10)
# How long the commenter token a submission returns stays valid (comments.tokens); each post renews it.
MODERATO_COMMENTER_TOKEN_DAYS = env_int("MODERATO_COMMENTER_TOKEN_DAYS", 365, minimum=1)
# Attempts at a webhook or e-mail before the outbox gives up (back-off 30 s doubling to 6 h: about 14 h).
MODERATO_NOTIFICATION_MAX_ATTEMPTS = env_int("MODERATO_NOTIFICATION_MAX_ATTEMPTS", 12, minimum=1)
# Five queues, all consumed by every worker (a worker consumes every queue of task_queues unless
# given -Q), which takes from each in turn: the batch scoring drain on "scoring", so that it never
# waits behind a queue of webhook deliveries; per-comment scoring (retries, the sweep's) and
# deliveries on "celery"; the sweeps on "housekeeping", so they run every period however long the
# scoring backlog; held comments' explanations on "explanations", off the decision path; the weekly
# retraining on "training" (a large site may give it a worker of its own: celery -A config worker -Q training).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in ("celery", "scoring", "housekeeping", "explanations", "training")
]
CELERY_TASK_ROUTES = {
    "moderation.tasks.pending_comments_drain": {"queue": "scoring"},
    "moderation.tasks.pending_comments_sweep": {"queue": "housekeeping"},
    "moderation.tasks.notifications_sweep": {"queue": "housekeeping"},
    "moderation.tasks.held_digests_send": {"queue": "housekeeping"},
    "comments.tasks.idempotency_keys_purge": {"queue": "housekeeping"},
    "comments.tasks.retention_purge": {"queue": "housekeeping"},
    "moderation.tasks.models_retrain": {"queue": "training"},
    "moderation.explaining.comment_explain_task": {"queue": "explanations"},
    "moderation.dashboard.dashboard_rows_refresh_task": {"queue": "housekeeping"},
}
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-comments": {
        "task": "moderation.tasks.pending_comments_sweep",
        "schedule": float(MODERATO_SWEEP_EVERY_SECONDS),
        "kwargs": {"older_than_seconds": MODERATO_SWEEP_AFTER_SECONDS},
    },
    "sweep-notifications": {
        "task": "moderation.tasks.notifications_sweep",
        "schedule": float(MODERATO_SWEEP_EVERY_SECONDS),
    },
    "send-held-digests": {
        "task": "moderation.tasks.held_digests_send",
        "schedule": crontab(minute=0, hour=MODERATO_DIGEST_HOUR),
    },
    "purge-idempotency-keys": {"task": "comments.tasks.idempotency_keys_purge", "schedule": 3600.0},
    "purge-old-address-hashes": {"task": "comments.tasks.retention_purge", "schedule": 3600.0},
    "retrain-models": {"task": "moderation.tasks.models_retrain", "schedule": 7 * 86400.0},
}

# Models: the artifacts directory and the active versions (empty = newest present).
MODERATO_ARTIFACTS_DIR = Path(env_str("MODERATO_ARTIFACTS_DIR") or BASE_DIR / "ml" / "artifacts")
MODERATO_TOXICITY_MODEL = env_str("MODERATO_TOXICITY_MODEL") or None
MODERATO_SPAM_MODEL = env_str("MODERATO_SPAM_MODEL") or None
# Model versions the learning loop built live in the database; each process copies the ones it
# needs here (a cache of its own: see moderation.model_store). A database row says which is active.
MODERATO_MODEL_DIR = Path(env_str("MODERATO_MODEL_DIR") or DATA_DIR / "models")
MODERATO_MODEL_REFRESH_SECONDS = env_int("MODERATO_MODEL_REFRESH_SECONDS", 10, minimum=1)
MODERATO_RETRAIN_MIN_LABELS = env_int("MODERATO_RETRAIN_MIN_LABELS", 50, minimum=10)
# Labels one API key can put into a candidate (its latest), next to the moderators'.
MODERATO_LABELS_PER_API_KEY = env_int("MODERATO_LABELS_PER_API_KEY", 200, minimum=0)

# Client addresses: how many reverse proxies in front of the app append to X-Forwarded-For.
# 0 trusts no header at all, so a client cannot spoof its address.
MODERATO_TRUSTED_PROXIES = env_int("MODERATO_TRUSTED_PROXIES", 0)
# Submissions per client address, DRF rate syntax ("10/minute"); empty turns the limit off.
MODERATO_SUBMIT_RATE = env_str("MODERATO_SUBMIT_RATE", "10/minute")
if MODERATO_SUBMIT_RATE and not re.fullmatch(
    r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", MODERATO_SUBMIT_RATE
):
    raise ImproperlyConfigured(f"MODERATO_SUBMIT_RATE={MODERATO_SUBMIT_RATE!r} is not a rate such as 10/minute")
# The key of the client-address hash; changing it makes old hashes unmatchable (blocks by address, report
# counting). Its own key since 2026-12: from the environment (MODERATO_IP_HASH_KEY is the old name), else
# var/address-hash-key, written at the first start. An install that hashed with SECRET_KEY keeps doing so
# (the file takes SECRET_KEY's value, and keeps it when SECRET_KEY is rotated); a fresh data directory with
# no SECRET_KEY in the environment gets a random key.
MODERATO_ADDRESS_HASH_KEY = (
    env_str("MODERATO_ADDRESS_HASH_KEY")
    or env_str("MODERATO_IP_HASH_KEY")
    or data_dir_key(
        ADDRESS_HASH_KEY_FILE,
        secrets.token_urlsafe(50) if FRESH_DATA_DIR and not env_str("SECRET_KEY") else SECRET_KEY,
    )
)

# E-mail to moderators: SMTP when EMAIL_HOST is set, else logged by the worker, links redacted (embedded default).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "config.mail.LoggingEmailBackend"
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "moderato@localhost")
# The address moderators' e-mails link to (their one-click links), e.g. https://comments.example.org;
# by default the address make run serves on (PORT, 8000 unless set).
MODERATO_PUBLIC_URL = (env_str("MODERATO_PUBLIC_URL") or f"http://127.0.0.1:{env_int('PORT', 8000, 1)}").rstrip("/")
MODERATO_EMAIL_LINK_DAYS = env_int("MODERATO_EMAIL_LINK_DAYS", 7, minimum=1)
# Readers' data: how long the export and erase links mailed to a commenter work, and after how many
# days the address hash and user agent of a comment or report are removed (the hourly retention job).
MODERATO_READER_LINK_HOURS = env_int("MODERATO_READER_LINK_HOURS", 24, minimum=1)
MODERATO_RETENTION_DAYS = env_int("MODERATO_RETENTION_DAYS", 90, minimum=1)

CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.RedisCache",  # Django's, one client per pool (config/cache.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
            # Rate limits read the cache on every request: a Redis that does not answer must cost
            # a fraction of a second, not a request's life (the limits then fail open).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if REDIS_URL
        # Embedded: a folder every process of the instance shares, so that rate limits (submissions,
        # reports, API keys, admin logins) count across gunicorn's workers, not per process.
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20_000},  # one per client address and minute, at most
        }
    )
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Session only: basic auth would let anyone guess moderators' passwords at API speed.
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["comments.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "comments.views.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": MODERATO_TRUSTED_PROXIES,
}
# manage.py backup writes datetimes to the microsecond (Django's JSON cuts them to milliseconds).
SERIALIZATION_MODULES = {"backup-json": "moderation.backup_json"}
SPECTACULAR_SETTINGS = {
    "TITLE": "Moderato API",
    "DESCRIPTION": "Post replies, follow a pending reply, and read published threads; moderate them from a "
    "newsroom tool (the moderation API, with a moderator's token).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for each choice set several fields share (spectacular names them after the fields otherwise).
    "ENUM_NAME_OVERRIDES": {
        "CommentStatusEnum": "comments.models.Comment.Status",
        "ModerationActionEnum": "moderation.models.ModerationAction",
    },
    "TAGS": [
        {
            "name": "moderation",
            "description": "The moderation queue, a comment's story and decisions, for a moderator's token or "
            "admin session; limited to the moderator's sites and languages.",
        }
    ],
    # The Perspective and Akismet endpoints are plain Django views: their operations are written out.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "moderation.compat.openapi.compat_paths_add",
    ],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Production hardening. MODERATO_HTTPS=1 when the site is served over TLS (always, in production):
# secure cookies, HTTPS redirect, HSTS. Behind a TLS-terminating proxy also set SECURE_PROXY_SSL_HEADER=1.
MODERATO_HTTPS = env_bool("MODERATO_HTTPS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", MODERATO_HTTPS)
SESSION_COOKIE_SECURE = MODERATO_HTTPS
CSRF_COOKIE_SECURE = MODERATO_HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if MODERATO_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", MODERATO_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", MODERATO_HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Observability: logs (config/logging.py), /metrics (moderation/metrics.py), /healthz (moderation/health.py).
MODERATO_LOG_FORMAT = env_str("MODERATO_LOG_FORMAT", "json").lower()
if MODERATO_LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"MODERATO_LOG_FORMAT={MODERATO_LOG_FORMAT!r} is neither json nor plain")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
LOGGING = logging_config(style=MODERATO_LOG_FORMAT, level=LOG_LEVEL)
# prometheus_client's multiprocess files: every web and worker process of one deployment writes
# here and /metrics adds them up, so it must be one directory they share (a volume in compose).
MODERATO_METRICS_DIR = Path(env_str("MODERATO_METRICS_DIR") or DATA_DIR / "metrics")
# When set, /metrics answers only a request with "Authorization: Bearer <this token>".
MODERATO_METRICS_TOKEN = env_str("MODERATO_METRICS_TOKEN")
# Each worker writes a heartbeat row this often; /healthz wants one newer than 4 heartbeats.
MODERATO_WORKER_HEARTBEAT_SECONDS = env_int("MODERATO_WORKER_HEARTBEAT_SECONDS", 15, minimum=1)
# Probes come over plain HTTP from inside the network: never redirect them to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
