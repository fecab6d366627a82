"""Who may use the service: the bearer token, and which web pages may open a stream.

With `token` set, /v1/model and /v1/predict need `Authorization: Bearer <token>`, and /v1/stream needs
`?token=<token>` (a browser cannot set headers on a WebSocket). /healthz, the page and its files need
none: the page asks for the token itself. Tokens are compared in constant time.

Browsers let any web site open a WebSocket to localhost, with no CORS check; a stream is therefore
accepted only from the service's own page, from a page of `cors_origins`, or from a client that sends no
Origin (a script, not a browser).
"""

import hmac
import logging
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection

from fer.serve.errors import ServeError


def token_matches(given: str | None, token: str | None) -> bool:
    if not token:
        return True
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def bearer(connection: HTTPConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def check_bearer(connection: HTTPConnection, token: str | None) -> None:
    if token_matches(bearer(connection), token):
        return
    said = "no token was sent" if bearer(connection) is None else "the token is wrong"
    raise ServeError(
        401,
        f"{said}: send the header 'Authorization: Bearer <token>' with the token the server was started with",
        {"WWW-Authenticate": "Bearer"},
    )


def origin_allowed(headers: Headers, cors_origins: list[str]) -> bool:
    """True for no Origin (not a browser), the service's own origin (same host and port), or a listed one."""
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin in cors_origins or "*" in cors_origins:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class RedactToken(logging.Filter):
    """uvicorn's access lines print each path with its query: a stream's `?token=` (and the page's, when the
    token is in its address) would be written to the log. The value is replaced by ***."""

    PATTERN = re.compile(r"(token=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.PATTERN.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = self.PATTERN.sub(r"\1***", record.msg)
        return True
