"""The one error type of the service: an HTTP status and a sentence saying what was wrong and what to do.

Every error a client sees is JSON `{"error": "...", "status": N}` (see `fer.serve.app`). Messages name
what the client sent, never a path or anything else of the server's.
"""


class ServeError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
