"""What runs beside the live loop's frame loop: a background thread worker (the full-frame detector, the window
searches) and the process-wide guard that keeps OpenCV to one thread while any live loop is open."""

import os
import threading
from collections.abc import Callable
from typing import Any

import cv2


class BackgroundWorker:
    """Runs `work(job)` on its own thread, one job at a time: the full-frame detector, or window searches.

    `submit` hands it a job when it is idle (a busy worker refuses, so it always works on a recent
    frame); `poll` returns the result of the last finished job once, with the index of the frame it
    belongs to. OpenCV and ONNX Runtime release the GIL while they compute, so the work runs beside
    the frame loop on the other core.
    """

    def __init__(self, work: Callable[[Any], Any], name: str) -> None:
        self.work = work
        self._job: tuple[int, Any] | None = None
        self._result: tuple[int, Any] | None = None
        self._error: BaseException | None = None
        self._busy = False
        self._closed = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, index: int, job: Any) -> bool:
        with self._condition:
            if self._busy or self._closed:
                return False
            self._job, self._busy = (index, job), True
            self._condition.notify_all()
            return True

    def poll(self) -> tuple[int, Any] | None:
        with self._condition:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            result, self._result = self._result, None
            return result

    def wait(self, timeout_s: float = 5.0) -> None:
        """Block until the job under way (if any) has finished: for tests and shutdown."""
        with self._condition:
            self._condition.wait_for(lambda: not self._busy or self._closed, timeout=timeout_s)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        _lower_this_threads_priority()
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                (index, job), self._job = self._job, None
            try:
                result, error = self.work(job), None
            except Exception as err:  # handed to the frame loop by poll(), not lost on this thread
                result, error = None, err
            with self._condition:
                self._result = (index, result) if error is None else None
                self._error, self._busy = error, False
                self._condition.notify_all()


def _lower_this_threads_priority(niceness: int = 10) -> None:
    """Where the OS allows it (Linux: a thread is a task of its own), the scheduler prefers the frame loop
    to the scan when both want the same core."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (
        AttributeError,
        OSError,
    ):  # no per-thread priority here (macOS, Windows): the scan runs at the same priority
        pass


class OpenCVOneThread:
    """OpenCV's thread count is one setting for the whole process: it is 1 while any live loop is open, and
    the setting from before the first one comes back when the last one closes (a server's streams open and
    close in any order)."""

    def __init__(self) -> None:
        self._lock, self._open, self._saved = threading.Lock(), 0, 0

    def enter(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = cv2.getNumThreads()
                cv2.setNumThreads(1)
            self._open += 1

    def leave(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                cv2.setNumThreads(self._saved)


opencv_one_thread = OpenCVOneThread()  # the process's one guard
