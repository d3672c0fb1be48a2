"""Logs: one formatter for web, worker and beat, a request id that follows a comment into its tasks.

Every line is one JSON object (``MODERATO_LOG_FORMAT=json``, the default) or one plain line
(``plain``, for a terminal) with the same fields: ``time``, ``level``, ``logger``, ``message``,
``request_id``, ``comment_id`` (when known), ``exception`` (a traceback), and any ``extra=``
fields of the call. Both formats pass every line through ``redact`` first.

The request id lives in a context variable: ``RequestIdMiddleware`` sets it for a request,
``config.celery`` copies it into the headers of every task published meanwhile and restores
it in the worker around the task, so a comment's scoring lines carry the id of the request
that submitted it. Importing this module needs no Django settings (gunicorn's master uses it).
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
comment_id: ContextVar[int | None] = ContextVar("comment_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept when it looks like an id (a UUID, a proxy's trace id); anything else
# (too long, spaces, quotes, control characters) is replaced so it cannot forge log lines.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")

REDACTED = "[redacted]"


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Redaction:
    """One rule: every match of ``pattern`` in a line becomes ``replacement`` (``re.sub`` syntax)."""

    name: str
    pattern: re.Pattern[str]
    replacement: str


# Key names whose values never reach a log: an ``extra=`` field, a dict key, a ``key=value`` or
# ``"key": "value"`` pair inside a message. Extend this, or REDACTIONS, to add a rule.
SECRET_KEY_NAMES = re.compile(
    r"pass(?:word|wd|phrase)?|secret|token|api[_ -]?key|apikey|authori[sz]ation|cookie|csrf|session[_-]?id"
    r"|private[_-]?key|hash[_-]?key|credentials?",
    re.IGNORECASE,
)
_KEY = r"[\w-]*(?:" + SECRET_KEY_NAMES.pattern + r")[\w-]*"

REDACTIONS: list[Redaction] = [
    # Moderato's own API keys (moderation.compat.services): "mod" and 40 hex digits.
    Redaction("moderato api key", re.compile(r"\bmod[0-9a-f]{40}\b"), REDACTED),
    # The moderators' one-click links (moderation.emails): the signed token decides a comment.
    Redaction("one-click link", re.compile(r"(/moderation/email-action/)[A-Za-z0-9_:.=-]+"), rf"\1{REDACTED}"),
    # A reader's export and erase links (moderation.emails): the token carries their address and acts for them.
    Redaction("reader link", re.compile(r"(/moderation/readers/(?:export|erase)/)[A-Za-z0-9_:.=-]+"), rf"\1{REDACTED}"),
    # Header lines: "Authorization: Bearer x", "Cookie: a=b; c=d", "Set-Cookie: ..."
    Redaction(
        "credential header",
        re.compile(r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key)(\s*[:=]\s*)[^\r\n]*"),
        rf"\1\2{REDACTED}",
    ),
    Redaction("bearer token", re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # A password in a URL: postgres://user:secret@host, redis://:secret@host
    Redaction("url password", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@"), rf"\1{REDACTED}@"),
    # "password": "x", 'api_key': 'x' (JSON, repr of a dict)
    Redaction(
        "quoted secret field",
        re.compile(rf"""(?i)(["'](?:{_KEY})["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2"""),
        rf"\1\2{REDACTED}\2",
    ),
    # password=x, api_key: x, ?token=x&... (a form, a query string, key=value logs)
    Redaction("secret field", re.compile(rf"""(?i)\b({_KEY})(\s*[=:]\s*)(?!["'\s])[^\s&,;"']+"""), rf"\1\2{REDACTED}"),
]


def redact(text: str) -> str:
    """Replace every secret a rule of REDACTIONS finds in ``text``."""
    for rule in REDACTIONS:
        text = rule.pattern.sub(rule.replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """Redact a structured value: whole under a secret key name, else its strings by pattern."""
    if SECRET_KEY_NAMES.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class LogFormatter(logging.Formatter):
    """One line per record, JSON or plain, with the request and comment ids, secrets redacted."""

    def __init__(self, style: str = "json") -> None:
        if style not in {"json", "plain"}:
            raise ValueError(f"log format {style!r} is neither json nor plain")
        super().__init__()
        self.style_name = style

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            # Django logs a failed response (logger django.request) after the middleware has
            # finished; the id is then read from the request it passes along.
            "request_id": request_id.get() or getattr(getattr(record, "request", None), "request_id", None),
        }
        if comment_id.get() is not None:
            fields["comment_id"] = comment_id.get()
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in fields and key != "request":
                fields[key] = redact_value(key, value)
        if record.exc_info:
            fields["exception"] = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        elif record.exc_text:
            fields["exception"] = redact(record.exc_text)
        if record.stack_info:
            fields["stack"] = redact(record.stack_info)
        return fields

    def format(self, record: logging.LogRecord) -> str:
        fields = self.fields(record)
        if self.style_name == "json":
            return json.dumps(fields, default=str, ensure_ascii=False)
        head = f"{fields.pop('time')} {fields.pop('level')} {fields.pop('logger')}"
        message, exception = fields.pop("message"), fields.pop("exception", "")
        context = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        return f"{head} [{context}]: {message}" + (f"\n{exception}" if exception else "")


def logging_config(*, style: str, level: str) -> dict[str, Any]:
    """The ``dictConfig`` of every process: Django's LOGGING, and gunicorn's ``logconfig_dict``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"moderato": {"()": "config.logging.LogFormatter", "style": style}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "moderato"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # gunicorn's own lines (start, worker boot and exit) through the same formatter; its
            # access log stays off: RequestIdMiddleware logs each request with its id.
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": False},
        },
    }


# The web side ------------------------------------------------------------------------------

request_logger = logging.getLogger("moderato.request")


class RequestIdMiddleware:
    """Give each request an id (a sane incoming ``X-Request-ID``, else a new one), log it, return it."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = incoming if SANE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        token = request_id.set(rid)
        request.request_id = rid
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = rid
            # The path without its query string: a query may carry a key.
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={"status": response.status_code, "duration_ms": round((time.monotonic() - started) * 1000, 1)},
            )
            return response
        finally:
            request_id.reset(token)


# The task side (connected in config.celery) ---------------------------------------------------

TASK_HEADER = "moderato_request_id"


def task_headers_stamp(headers: dict[str, Any]) -> None:
    """Before a task is published: carry the current request id in the message headers."""
    rid = request_id.get()
    if rid and TASK_HEADER not in headers:
        headers[TASK_HEADER] = rid


def task_context_enter(*, task_request: Any, comment: int | None) -> tuple[Any, Any]:
    """Before a task runs: its request id (from its headers, else the caller's, else a new one).

    A task published outside any request (by beat, say) gets a new id of its own, which the
    tasks it queues in turn inherit.
    """
    rid = getattr(task_request, TASK_HEADER, None) or (getattr(task_request, "headers", None) or {}).get(TASK_HEADER)
    rid = rid if isinstance(rid, str) and SANE_REQUEST_ID.fullmatch(rid) else None
    return request_id.set(rid or request_id.get() or new_request_id()), comment_id.set(comment)


def task_context_exit(tokens: tuple[Any, Any]) -> None:
    request_id.reset(tokens[0])
    comment_id.reset(tokens[1])
