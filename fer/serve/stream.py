"""WebSocket /v1/stream: a client sends video frames (binary JPEG or PNG messages) and gets each processed
frame's faces back as a text JSON message.

Newest wins: while a frame is processed, the next one waits in a single slot, and a newer frame replaces
it (the replaced one is counted in `dropped`); nothing queues up, so a slow server answers the latest
frame instead of falling behind. Frames above `stream_max_fps` are dropped as they arrive (counted too).
`frame` in an answer is the 1-based number of the binary message it answers, so the client can match
its send time. Each connection has its own live loop (tracking and smoothing over its frames) and its
own thread (`fer.serve.service.LiveStream`, owned by the service, whose stop joins it): it never processes two
frames at once, and the event loop never runs the model.
"""

import asyncio
import json
import logging
import threading
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from fer.serve.auth import origin_allowed, token_matches
from fer.serve.errors import ServeError
from fer.serve.limits import RateCap
from fer.serve.service import LiveStream, Service, ServiceStopping

log = logging.getLogger(__name__)
POLICY_VIOLATION, SERVICE_RESTART, TRY_AGAIN_LATER = 1008, 1012, 1013


class StreamSlots:
    """At most `limit` open stream connections (each holds a thread and a live loop)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open = limit, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


async def stream_endpoint(websocket: WebSocket) -> None:
    service: Service = websocket.app.state.service
    slots: StreamSlots = websocket.app.state.stream_slots
    options = service.options
    # accepted first, then closed with a code: a browser sees the code and reason only on an open socket
    await websocket.accept()
    if not token_matches(websocket.query_params.get("token"), options.token):
        await websocket.close(POLICY_VIOLATION, "missing or wrong token: connect to /v1/stream?token=<token>")
        return
    if not origin_allowed(websocket.headers, options.cors_origins):
        await websocket.close(POLICY_VIOLATION, "this page's origin may not open a stream: add it to cors_origins")
        return
    if not slots.take():
        await websocket.close(TRY_AGAIN_LATER, f"{slots.limit} streams are open (max_streams): try again later")
        return
    try:
        await StreamSession(websocket, service).run()
    finally:
        slots.give_back()


class StreamSession:
    def __init__(self, websocket: WebSocket, service: Service) -> None:
        self.websocket, self.service = websocket, service
        self.max_bytes = service.options.max_body_bytes
        self.rate = RateCap(service.options.stream_max_fps)
        self.received = 0  # binary messages so far: the `frame` number of the newest
        self.dropped = 0
        self.waiting: tuple[int, bytes, float] | None = None  # the newest frame not yet processed
        self.arrived = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.live: LiveStream | None = None

    async def run(self) -> None:
        try:
            live = self.service.open_live()  # its own thread: frames one at a time, in order, then its close
        except ServiceStopping:
            await self.websocket.close(SERVICE_RESTART, "the server is stopping")
            return
        self.live, processing = live, None
        try:
            await asyncio.wrap_future(live.opened)
            processing = asyncio.ensure_future(self._process_frames(live))
            await self._receive_frames()
        finally:
            # first, with no await before it: a cancelled connection still closes its stream (and the
            # service's stop joins the stream's thread in any case)
            live.close()
            if processing is not None:
                processing.cancel()
                await asyncio.gather(processing, return_exceptions=True)
            await asyncio.shield(asyncio.wrap_future(live.ended))  # after the frame under way, if any

    async def _receive_frames(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            if data is None:
                await self._control(message.get("text") or "")
                continue
            self.received += 1
            now = time.perf_counter()
            if not self.rate.allow(now):
                self.dropped += 1
                continue
            if len(data) > self.max_bytes:
                await self._send(
                    {
                        "type": "error",
                        "frame": self.received,
                        "error": f"frame of {len(data)} bytes: the limit is {self.max_bytes} bytes (max_body_mb)",
                    }
                )
                continue
            if self.waiting is not None:  # replaced before its turn: newest wins
                self.dropped += 1
            self.waiting = (self.received, data, now)
            self.arrived.set()

    async def _control(self, text: str) -> None:
        """A text message: {"type": "profile", "profile": <a profile's JSON, or null for the service's>} sets
        this connection's calibration from its next frame on (answered {"type": "profile", ...}); anything
        else is an error message."""
        try:
            message = json.loads(text) if len(text) <= self.max_bytes else None
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "profile":
            await self._send(
                {
                    "type": "error",
                    "frame": None,
                    "error": "send frames as binary messages (JPEG or PNG "
                    'bytes); text messages are {"type": "profile", "profile": {...} or null}',
                }
            )
            return
        try:
            profile = self.service.profile_for_stream(message.get("profile"))
        except ServeError as err:
            await self._send({"type": "error", "frame": None, "error": err.message})
            return
        profile = profile or self.service.profile
        await asyncio.wrap_future(self.live.set_profile(profile))
        await self._send({"type": "profile", "profile": None if profile is None else profile.describe()})

    async def _process_frames(self, live: LiveStream) -> None:
        while True:
            await self.arrived.wait()
            self.arrived.clear()
            index, data, arrived_at = self.waiting
            self.waiting = None
            try:
                answer = await asyncio.wrap_future(live.submit(index, data))
            except ServiceStopping:
                answer = {"type": "error", "frame": index, "error": "the server is stopping"}
            except Exception:  # a bug, not the client's frame: say so and keep the connection
                log.exception("stream frame %d failed", index)
                answer = {"type": "error", "frame": index, "error": "the server failed on this frame; see its log"}
            if answer["type"] == "frame":
                answer["server_ms"] = round((time.perf_counter() - arrived_at) * 1000, 2)
                answer["dropped"] = self.dropped
            await self._send(answer)

    async def _send(self, message: dict) -> None:
        async with self.send_lock:  # the two loops both answer; one message at a time
            try:
                await self.websocket.send_text(json.dumps(message))
            except (WebSocketDisconnect, RuntimeError):  # the client left; the receive loop ends the session
                pass
