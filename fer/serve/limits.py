"""What one client can make the server do: bytes read, pixels decoded, model threads taken, frames a second.

- `read_body`: the declared Content-Length is checked first, and the bytes are counted as they arrive, so
  a body without a length, or with a false one, still stops at the limit; the whole body must arrive
  within `read_timeout_s`.
- `image_size`: width and height from the image's header (Pillow reads the header alone), checked against
  `max_pixels` before anything is decoded: a 20000 x 20000 PNG of a few KB is refused without
  allocating its 400 M pixels. Only the still formats the package reads are opened at all.
- `WorkerPool`: `workers` threads run the model, each with a recognizer of its own (OpenCV's cascade is not
  shared safely between threads); `queue` more requests may wait, and beyond that the answer is 503.
- `RateCap`: frames a second a stream connection may send.
"""

import asyncio
import io
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from PIL import Image, UnidentifiedImageError
from starlette.requests import ClientDisconnect, Request

from fer.serve.errors import ServeError

# Pillow's names of the formats fer reads (fer.faces.image_io.IMAGE_SUFFIXES); no other decoder is reached
FORMATS = ("JPEG", "PNG", "BMP", "DIB", "TIFF", "GIF", "WEBP", "PPM")
RETRY_AFTER_S = 1


async def read_body(request: Request, max_bytes: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(int(declared), max_bytes)
    chunks, size = [], 0
    try:
        with anyio.fail_after(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:  # stop reading: the rest is never buffered
                    raise too_large(size, max_bytes, so_far=True)
                chunks.append(chunk)
    except TimeoutError:
        raise ServeError(
            408,
            f"the request body did not arrive within {timeout_s:g} s ({size} bytes came); send the whole image at once",
        ) from None
    except ClientDisconnect:
        raise ServeError(400, "the client closed the connection before the body was complete") from None
    return b"".join(chunks)


def too_large(size: int, max_bytes: int, so_far: bool = False) -> ServeError:
    amount = f"more than {max_bytes} bytes arrived" if so_far else f"the body is {size} bytes"
    return ServeError(413, f"{amount}; the limit is {max_bytes / 2**20:g} MB (max_body_mb): send a smaller image")


def image_size(data: bytes, max_pixels: int) -> tuple[int, int]:
    """(width, height) from the header; ServeError 413 above `max_pixels`, 422 for what is not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit follows
            Image.init()  # registers every plugin, once: TIFF and WebP are not among the few loaded first
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own limit, reached before ours when max_pixels is set high
        raise pixels_error("its header states more pixels than Pillow opens", max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
        raise ServeError(
            422,
            f"the body is not an image this service reads ({type(err).__name__}): send a JPEG, "
            "PNG, BMP, TIFF, GIF, WebP or PGM/PPM file",
        ) from None
    if width * height > max_pixels:
        raise pixels_error(f"it is {width} x {height} = {width * height} pixels", max_pixels)
    return width, height


def pixels_error(what: str, max_pixels: int) -> ServeError:
    return ServeError(
        413, f"image too large: {what}; the limit is {max_pixels} pixels (max_pixels): send a smaller image"
    )


class WorkerPool:
    """`run(job)` calls `job(recognizer)` on a worker thread with a recognizer no other thread is using.

    At most `workers` jobs run and `queue` wait; one more is refused at once with 503 (Retry-After), so a
    burst of clients gets a fast answer instead of a growing backlog. A job's place is freed when it ends
    (or, if its client left before it started, when it is cancelled), not when its client leaves.
    """

    def __init__(self, recognizers: list, queue: int) -> None:
        self.workers, self.capacity = len(recognizers), len(recognizers) + queue
        self._free = list(recognizers)
        self._lock = threading.Lock()
        self._pending = 0
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fer-serve-worker")

    async def run(self, job: Callable[[Any], Any]) -> tuple[Any, float]:
        """(job's result, milliseconds it waited for a worker)."""
        with self._lock:
            if self._pending >= self.capacity:
                raise ServeError(
                    503,
                    f"the server is busy ({self.workers} worker(s) working and "
                    f"{self.capacity - self.workers} request(s) waiting): try again in a second",
                    {"Retry-After": str(RETRY_AFTER_S)},
                )
            self._pending += 1
        submitted = time.perf_counter()
        future = self._executor.submit(self._work, job, submitted)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _work(self, job: Callable[[Any], Any], submitted: float) -> tuple[Any, float]:
        waited_ms = (time.perf_counter() - submitted) * 1000
        with self._lock:  # never empty: no more jobs run than there are recognizers
            recognizer = self._free.pop()
        try:
            return job(recognizer), waited_ms
        finally:
            with self._lock:
                self._free.append(recognizer)

    def _release(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)  # the running jobs finish


class RateCap:
    """A token bucket: `fps` frames a second on average, with bursts of a tenth of a second (at least one
    frame), so a camera's jitter around the cap is not punished."""

    def __init__(self, fps: float, burst_s: float = 0.1) -> None:
        self.fps, self.capacity = fps, max(1.0, fps * burst_s)
        self.tokens, self.last = self.capacity, None

    def allow(self, now: float) -> bool:
        if self.last is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.fps)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
