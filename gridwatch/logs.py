"""Logging set up once at the program's edge, with secrets scrubbed from every line."""

from __future__ import annotations

import logging
import re
import sys

# rtsp://user:secret@host -> rtsp://user:***@host ; "Bearer abc" -> "Bearer ***"; token=abc -> token=***
_PATTERNS = [
    (re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"),
     r"\g<scheme>\g<user>:***@"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (re.compile(r"(?i)\b(token|password|passwd|api_key)=([^&\s]+)"), r"\1=***"),
]


def redact(text: str) -> str:
    """Remove credentials from a URL or a log message."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("aioice", "aiortc", "libav", "httpx", "httpcore", "multipart"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
