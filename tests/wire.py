"""A raw client connection for tests about the wire (request heads, closed connections):
whole responses read off the socket, Content-Length framed, as a client sees them."""

from __future__ import annotations

import socket

HANG_GUARD = 30  # seconds: a socket read that waits this long means the server hung
OPEN: list[Wire] = []  # connections not closed yet: close_all() at a test's end


class Wire:
    """A client connection that reads whole responses (Content-Length framed)."""

    def __init__(self, port: int, timeout: float = HANG_GUARD) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        OPEN.append(self)

    def send(self, data: bytes) -> Wire:
        self.sock.sendall(data)
        return self

    def response(self, to_head: bool = False) -> tuple[int, dict[str, str], bytes]:
        """The next response (to a HEAD: its head alone, whatever its Content-Length)."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        size = 0 if to_head else int(headers.get("content-length", "0"))
        while len(self.buffer) < size:
            self._more()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return int(status_line.split()[1]), headers, body

    def closed(self) -> bool:
        """Waits (up to the socket's timeout) for the server to close; True when it did,
        with nothing more sent."""
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
        except TimeoutError:
            return False
        except ConnectionResetError:
            pass
        return self.buffer == b""

    def _more(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        assert chunk, f"the connection closed after {self.buffer[:300]!r}"
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def close_all() -> None:
    """Closes every Wire still open (each test's autouse fixture calls it at its end)."""
    while OPEN:
        OPEN.pop().close()
