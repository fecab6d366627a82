"""The Starlette application: routes, JSON errors, security headers. `create_app(options)` builds it.

    GET  /              the page: webcam, boxes and bars, an image drop zone (fer/serve/static)
    GET  /healthz       {"status": "ok"}, no token needed
    GET  /v1/model      labels, version, runtime, input size, limits
    POST /v1/predict    an image (raw body or multipart field `image`) -> its faces; ?explain=occlusion
    POST /v1/profile    multipart photos, each field named by its expression -> a calibration profile (JSON,
                        not kept); ?method= one of fer.inference.profile.METHODS
    WS   /v1/stream     binary frames in, one JSON message per processed frame out (fer.serve.stream)

Every error is JSON {"error": "<what was wrong and what to do>", "status": N}. The service reads no path
a client names and writes no file; no answer holds a path of the server's.
"""

import logging
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fer.inference.profile import METHODS, REFERENCE
from fer.labels import LABELS, label_index
from fer.serve.auth import check_bearer
from fer.serve.errors import ServeError
from fer.serve.limits import read_body
from fer.serve.options import ServeOptions, check_options
from fer.serve.service import EXPLAIN, DetectorFactory, Service, source_label
from fer.serve.stream import StreamSlots, stream_endpoint

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
ENDPOINTS = "GET /, GET /healthz, GET /v1/model, POST /v1/predict, POST /v1/profile, WebSocket /v1/stream"
MAX_CALIBRATION_FILES = 140  # 20 photos of each of the seven expressions
RAW_TYPES = ("application/octet-stream",)  # and image/*


def create_app(options: ServeOptions | None = None, detector_factory: DetectorFactory | None = None) -> Starlette:
    """The service with its models loaded. `detector_factory`: a fresh face detector per worker and per
    stream (tests pass slow or counting ones); by default `options.detector`'s."""
    options = options or ServeOptions()
    check_options(options)
    service = Service(options, detector_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        service.close()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/healthz", healthz),
            Route("/v1/model", model),
            Route("/v1/predict", predict, methods=["POST"]),
            Route("/v1/profile", profile, methods=["POST"]),
            WebSocketRoute("/v1/stream", stream_endpoint),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=middleware(options),
        exception_handlers={ServeError: serve_error, HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.stream_slots = StreamSlots(options.max_streams)
    return app


def middleware(options: ServeOptions) -> list[Middleware]:
    stack = [Middleware(SecurityHeaders)]
    if options.cors_origins:  # off unless asked: other sites' pages may not call the API
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=options.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    return stack


async def page(request: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def model(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    check_bearer(request, service.options.token)
    return JSONResponse(service.describe())


async def predict(request: Request) -> JSONResponse:
    start = time.perf_counter()
    service: Service = request.app.state.service
    options = service.options
    check_bearer(request, options.token)
    explain = explain_method(request)
    multipart = body_is_multipart(request.headers)  # 415 before any byte is read
    body = await read_body(request, options.max_body_bytes, options.read_timeout_s)
    data, source = await multipart_image(request.headers, body) if multipart else (body, "upload")
    answer = await service.predict(data, source, explain)
    answer["timing_ms"]["total"] = round((time.perf_counter() - start) * 1000, 2)
    return JSONResponse(answer)


async def profile(request: Request) -> JSONResponse:
    """A calibration profile from labelled photos: multipart, one file field per photo named by its expression
    (-F happy=@h1.jpg -F happy=@h2.jpg -F neutral=@n.jpg). The answer is the profile's JSON, which a stream
    takes in a {"type": "profile"} message and `fer.Profile` saves; the server keeps nothing."""
    service: Service = request.app.state.service
    options = service.options
    check_bearer(request, options.token)
    method = request.query_params.get("method") or None
    if method is not None and method not in (*METHODS, REFERENCE):
        raise ServeError(
            422, f"method={method[:40]!r}: choose one of {', '.join((*METHODS, REFERENCE))}, or leave it out"
        )
    if not body_is_multipart(request.headers):
        raise ServeError(
            415,
            "send the photos as multipart/form-data, one file field per photo named by its "
            "expression (-F happy=@h1.jpg -F neutral=@n1.jpg)",
        )
    body = await read_body(request, options.max_body_bytes, options.read_timeout_s)
    images = await multipart_files(request.headers, body, MAX_CALIBRATION_FILES)
    unknown = sorted(name for name in images if label_index(name) is None)
    if unknown:
        raise ServeError(
            422,
            f"field(s) {', '.join(unknown)[:200]} are not expressions: name each photo's field "
            f"by its expression ({', '.join(LABELS)})",
        )
    return JSONResponse(await service.calibrate(images, method))


def explain_method(request: Request) -> str | None:
    explain = request.query_params.get("explain")
    if explain is None or explain in ("", "false", "none"):
        return None
    if explain not in EXPLAIN:
        raise ServeError(
            422, f"explain={explain[:40]!r} is not a method this service runs: use explain=occlusion or leave it out"
        )
    return explain


def body_is_multipart(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return True
    if kind.startswith("image/") or kind in RAW_TYPES:
        return False
    said = f"Content-Type {kind!r}" if kind else "no Content-Type"
    raise ServeError(
        415,
        f"{said}: send the image as the body with Content-Type image/jpeg, image/png (any "
        "image/*) or application/octet-stream, or as multipart/form-data with a file field "
        "named image",
    )


async def multipart_form(headers: Headers, body: bytes, max_files: int, expected: str) -> list[tuple[str, str, bytes]]:
    """The file fields of a multipart body already read (and limited), in order: (field name, file name, bytes).
    Files stay in memory (the body already is): nothing is written to disk. `expected` ends a parse error."""

    async def chunks():
        yield body

    parser = MultiPartParser(headers, chunks(), max_files=max_files, max_fields=16)
    parser.spool_max_size = len(body) + 1
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise ServeError(400, f"the multipart body could not be parsed ({err.message}): {expected}") from None
    try:
        return [
            (name, value.filename or "", await value.read())
            for name, value in form.multi_items()
            if isinstance(value, UploadFile)
        ]
    finally:
        await form.close()


async def multipart_files(headers: Headers, body: bytes, max_files: int) -> dict[str, list[bytes]]:
    """Every file field of a multipart body: {field name: [file bytes]}."""
    files: dict[str, list[bytes]] = {}
    for name, _, data in await multipart_form(headers, body, max_files, f"send at most {max_files} photos"):
        files.setdefault(name, []).append(data)
    if not files:
        raise ServeError(422, "the multipart body has no files: send -F <expression>=@photo.jpg for each photo")
    return files


async def multipart_image(headers: Headers, body: bytes) -> tuple[bytes, str]:
    """The `image` file of a multipart body: its bytes and its name as a label."""
    files = await multipart_form(headers, body, 4, "send one file field named image")
    image = next(((filename, data) for name, filename, data in files if name == "image"), None)
    if image is None:
        found = ", ".join(sorted({name for name, _, _ in files})) or "none"
        raise ServeError(
            422,
            f"the multipart body has no file field named image (file fields: {found[:200]}): "
            "send the image as -F image=@photo.jpg",
        )
    return image[1], source_label(image[0])


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


async def serve_error(request: Request, err: ServeError) -> JSONResponse:
    return error_response(err.status, err.message, err.headers)


async def http_error(request: Request, err: HTTPException) -> JSONResponse:
    """The router's own errors (404, 405), worded like the rest."""
    where = f"{request.method} {request.url.path[:200]}"
    messages = {
        404: f"nothing at {where}: the endpoints are {ENDPOINTS}",
        405: f"{where} is not allowed: use {(err.headers or {}).get('Allow', 'another method')}",
    }
    return error_response(err.status_code, messages.get(err.status_code, f"{where}: {err.detail}"), err.headers)


async def internal_error(request: Request, err: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=err)
    return error_response(500, "the server failed on this request; its log says why")


class SecurityHeaders:
    """On every HTTP answer: a content security policy that lets the page load only its own files and open
    WebSockets only to this server (camera frames stay between the browser and the service), no MIME
    sniffing, no referrer, no framing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = content_security_policy(Headers(scope=scope).get("host", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def content_security_policy(host: str) -> str:
    # 'self' covers same-origin WebSockets in current browsers; the explicit ws/wss origin covers the others.
    # The Host header is the client's: used only when it is a plain host[:port]
    sockets = (
        f" ws://{host} wss://{host}" if re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?", host) else ""
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        f"media-src 'self' blob:; connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
