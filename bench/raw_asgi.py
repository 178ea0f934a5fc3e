"""Raw ASGI ceiling for the benchmarks (issue 5).

A minimal ASGI application with no framework: it reads the whole request body,
parses it as JSON with orjson (when there is one) and answers every path with
200 ``{"debugMessage": "Profile Updated"}``. No routing, no validation, no state.
It is the upper bound a Python server on uvicorn can reach on this machine, so the
emulator's figures are reported as a ratio of it.

It also answers ``GET /_emulator/health`` like the emulator does (same 200 for every
path, but with ``{"status":"ok"}`` there) so that ``bench/run.py --emulator-cmd`` can
use it as a stand-in emulator.

Run:  .venv/bin/python bench/raw_asgi.py --port 8001
 or:  .venv/bin/uvicorn --app-dir bench raw_asgi:app --port 8001
"""

from __future__ import annotations

import argparse

import orjson

BODY = orjson.dumps({"debugMessage": "Profile Updated"})
HEALTH = orjson.dumps({"status": "ok"})
HEADERS = [
    (b"content-type", b"application/json"),
]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return

    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    raw = b"".join(chunks)
    status = 200
    body = HEALTH if scope["path"] == "/_emulator/health" else BODY
    if raw:
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Not JSON (e.g. a form body): the ceiling does not care, it still answers.
            pass

    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # As profile-emulator serve runs uvicorn: no access log, no proxy-headers middleware.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
