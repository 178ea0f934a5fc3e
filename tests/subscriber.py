"""A partner's webhook endpoint for the tests: a loopback HTTP server in a thread that keeps
every POST it receives (headers and raw body) and answers what the test scripts (a status,
after a pause), and a hang guard to wait for what it should receive."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

HANG_GUARD = 20.0  # seconds: only a hang reaches it


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Subscriber:
    """``answers``: what the next POSTs get, in order (status, pause seconds); then 200.
    ``on_post``: called with each POST before it is answered (the partner's own work)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[tuple[int, float]] = deque()
        self.on_post: Callable[[Received], None] | None = None
        self._lock = threading.Condition()
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                if subscriber.on_post is not None:
                    subscriber.on_post(got)
                with subscriber._lock:
                    status, pause = (
                        subscriber.answers.popleft() if subscriber.answers else (200, 0.0)
                    )
                if pause:
                    time.sleep(pause)
                with subscriber._lock:
                    subscriber.received.append(got)
                    subscriber._lock.notify_all()
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the emulator gave up on a slow answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/occ-webhook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Subscriber:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = HANG_GUARD) -> list[Received]:
        """The first ``count`` POSTs, once they have arrived (AssertionError on a hang)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"the subscriber received {len(self.received)} POSTs, not {count}"
                )
            return list(self.received[:count])


def serving() -> Iterator[Subscriber]:
    with Subscriber() as subscriber:
        yield subscriber
