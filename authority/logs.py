"""Structured logs: one JSON object per line on stderr, with secrets and personal data removed.

Every request produces one ``request`` line (method, path without the query string,
status, duration in milliseconds, request id). Every record, from our code or from a
library, passes :class:`RedactionFilter` before it is written: values under sensitive
names (password, token, secret, authorization, cookie, id_number, phone, ...) and
anything shaped like a citizen ID number, a mobile phone number or a bearer credential
are replaced, in the message, its arguments, extra fields and tracebacks alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import secrets
import sys
import time
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

REDACTED = "[redacted]"

# Names whose values are secret or personal wherever they appear (dict keys, key=value).
SENSITIVE_NAMES = (
    r"pass(?:word|wd|phrase)?|pwd|secret|client_secret|token|access_token|refresh_token|"
    r"id_token|id_token_hint|authorization|cookie|set-cookie|session|csrf_token|"
    r"authorization_code|code_verifier|otp|totp|recovery_code|id_?number|id_?card|phone(?:_number)?|mobile|"
    r"api_?key|private_?key|kek|credential"
)
_SENSITIVE_KEY = re.compile(rf"^(?:{SENSITIVE_NAMES})$", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # key=value, key: value, "key": "value", "key is value" (query strings, form
    # dumps, headers, JSON, exception messages).
    (
        re.compile(
            rf"(?i)\b({SENSITIVE_NAMES})(\s*[\"']?\s*(?:[=:]|\s+is\s+)\s*[\"']?)"
            r"(?:Bearer\s+|Basic\s+)?"
            r"[^\s&,;\"'}\]]+"
        ),
        rf"\1\2{REDACTED}",
    ),
    # OAuth authorization codes in query strings (``code`` alone is too common a word
    # elsewhere: error codes, status codes, license-type codes).
    (re.compile(r"([?&]code=)[^&\s\"']+"), rf"\1{REDACTED}"),
    # Credentials in an Authorization header written out some other way.
    (re.compile(r"(?i)\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    # Citizen ID numbers: 18 characters (GB 11643) or the old 15-digit form.
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), "[id-number]"),
    (re.compile(r"(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])"), "[id-number]"),
    # Mainland mobile numbers, with or without +86.
    (re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])"), "[phone]"),
]

# LogRecord attributes that are not "extra" fields.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "request_id"}


# A cheap test decides whether the substitutions are needed at all: every pattern
# above needs a run of 11+ digits or one of these fragments of a sensitive name. Most
# log lines have neither, and logging runs on every request.
_DIGIT_RUN = re.compile(r"\d{11}")
_SUSPECT_WORDS = (
    "pass", "pwd", "secret", "token", "auth", "cookie", "session", "csrf", "code", "otp",
    "id_num", "idnum", "id_card", "idcard", "phone", "mobile", "apikey", "api_key",
    "private", "kek", "credential", "bearer", "basic", "dpop",
)  # fmt: skip


_SUSPECT_WORD = re.compile("|".join(_SUSPECT_WORDS))


def _suspect(text: str) -> bool:
    return bool(_SUSPECT_WORD.search(text.lower()) or _DIGIT_RUN.search(text))


def scrub(text: str) -> str:
    """``text`` with secrets and personal data replaced."""
    if not _suspect(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=1024)
def _is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.match(key))


def scrub_value(value: Any, key: str | None = None) -> Any:
    """Scrub a structured value: sensitive keys are replaced whole, strings pattern-scrubbed."""
    if key is not None and _is_sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class RedactionFilter(logging.Filter):
    """Remove secrets and personal data from a record before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Render the message once, scrub it, and drop the arguments so that no later
        # formatting step can reintroduce the raw values.
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!r} {record.args!r}"
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS:
                setattr(record, name, scrub_value(value, name))
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRS:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test capture replaces it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records through redaction to JSON lines on stderr (idempotent)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RedactionFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())


def current_request_id() -> str | None:
    """The id of the request being handled, if any (also in the X-Request-ID header)."""
    if not has_request_context():
        return None
    rid: str | None = g.get("request_id")
    return rid


request_log = logging.getLogger("authority.request")


def setup_logging(app: Flask, level: str) -> None:
    """Configure JSON logging and log one line per request with its id and duration."""
    configure_logging(level)
    app.logger.handlers.clear()  # Flask's default handler would bypass our format.
    app.logger.propagate = True

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        # Accept a load balancer's id so that lines correlate across hops, but only if
        # it is a plain token (a header must not be able to inject log content).
        g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        rid = g.get("request_id") or secrets.token_hex(8)
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started else None
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration, 2) if duration is not None else None,
                "request_id": rid,
            },
        )
        return response
