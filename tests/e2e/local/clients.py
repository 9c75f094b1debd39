"""Clients that send steady traffic through the bundled proxy and keep every answer, as a user's would.

Each answer is kept with when it was sent and received, its status and the version that served it (the
demo app's `X-App-Version` header), so a test can say which versions clients saw in a given phase and
count every failed request: a 5xx, or no answer at all (refused, reset, timed out).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic()
    received: float
    status: int  # 0: no answer
    version: str  # "" when there was no answer

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


class Clients:
    """`workers` keep-alive connections to 127.0.0.1:`port`, each sending a request every `pause` seconds."""

    def __init__(
        self, port: int, workers: int = 2, pause: float = 0.05, headers: dict[str, str] | None = None
    ) -> None:
        self.port = port
        self.pause = pause
        self.headers = headers or {}
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(workers)]

    def __enter__(self) -> Clients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def between(self, begin: float, end: float = float("inf")) -> list[Answer]:
        """Answers to requests sent at or after `begin` and received before `end`."""
        with self._lock:
            return [a for a in self.answers if a.sent >= begin and a.received < end]

    def versions(self, begin: float = 0.0, end: float = float("inf")) -> Counter[str]:
        return Counter(a.version for a in self.between(begin, end) if not a.failed)

    def failures(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.failed]

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def _loop(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            sent = time.monotonic()
            try:
                connection.request("GET", "/", headers=self.headers)
                response = connection.getresponse()
                response.read()
                version = response.getheader("x-app-version", "")
                answer = Answer(sent, time.monotonic(), response.status, version)
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                answer = Answer(sent, time.monotonic(), 0, "")
                connection.close()
                connection = None
            with self._lock:
                self.answers.append(answer)
            self._stop.wait(self.pause)
        if connection is not None:
            connection.close()
