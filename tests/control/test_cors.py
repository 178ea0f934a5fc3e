"""CORS, opt-in (`serve --cors-origin ORIGIN`, repeatable): a browser's preflight from a
configured origin is answered, responses to its calls carry Access-Control-Allow-Origin for
it; another origin gets neither; off by default; vendor bodies are the same bytes with and
without it. Over real HTTP, against `profile-emulator serve`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

APP = "http://localhost:3000"
OTHER = "http://evil.example"
PROFILE = "/client/users/seed-session-1/profile"
CORS_HEADERS = {
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
}

pytestmark = pytest.mark.slow


def preflight(url: str, origin: str, path: str = PROFILE) -> httpx.Response:
    return httpx.options(
        url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, x-emulator-namespace",
        },
    )


@pytest.fixture
def with_cors(serve) -> Iterator[str]:
    served = serve("--cors-origin", APP, "--cors-origin", "https://app.example:8443")
    yield served.url
    served.stop()


@pytest.fixture
def without_cors(serve) -> Iterator[str]:
    served = serve()
    yield served.url
    served.stop()


def cors_of(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.lower() in CORS_HEADERS}


def test_a_preflight_from_the_configured_origin_is_answered(with_cors: str) -> None:
    answer = preflight(with_cors, APP)
    assert answer.status_code == 204
    assert answer.content == b""
    assert answer.headers["access-control-allow-origin"] == APP
    assert "PUT" in answer.headers["access-control-allow-methods"].split(", ")
    assert answer.headers["access-control-allow-headers"] == "content-type, x-emulator-namespace"
    assert "Origin" in answer.headers["vary"]
    second = preflight(with_cors, "https://app.example:8443", "/_emulator/faults")
    assert second.status_code == 204
    assert second.headers["access-control-allow-origin"] == "https://app.example:8443"
    # Preflights are not vendor calls: nothing is journaled.
    assert httpx.get(with_cors + "/_emulator/requests").json()["requests"] == []


def test_another_origin_gets_no_preflight_and_no_cors_headers(with_cors: str) -> None:
    answer = preflight(with_cors, OTHER)
    assert answer.status_code == 405  # as without the flag: OPTIONS is no operation
    assert cors_of(answer) == set()
    call = httpx.get(with_cors + PROFILE, headers={"Origin": OTHER})
    assert call.status_code == 200 and cors_of(call) == set()


def test_a_call_from_the_origin_gets_allow_origin_and_the_same_body(
    with_cors: str, without_cors: str
) -> None:
    def update(url: str, origin: str | None) -> httpx.Response:
        headers = {"Origin": origin} if origin else {}
        return httpx.put(url + PROFILE, json={"email": "x@y.zz"}, headers=headers)

    allowed = update(with_cors, APP)
    plain = update(without_cors, APP)
    assert allowed.status_code == plain.status_code == 400
    assert allowed.headers["access-control-allow-origin"] == APP
    assert allowed.content == plain.content  # the vendor's error body, byte for byte
    assert update(with_cors, None).content == plain.content
    assert cors_of(update(with_cors, None)) == set()
    ok = httpx.get(with_cors + PROFILE, headers={"Origin": APP})
    assert ok.headers["access-control-allow-origin"] == APP
    assert ok.content == httpx.get(without_cors + PROFILE).content


def test_off_by_default(without_cors: str) -> None:
    answer = preflight(without_cors, APP)
    assert answer.status_code == 405 and cors_of(answer) == set()
    call = httpx.get(without_cors + PROFILE, headers={"Origin": APP})
    assert call.status_code == 200 and cors_of(call) == set()


@pytest.mark.parametrize("bad", ["localhost:3000", "http://app.example/", "ftp://x", "*"])
def test_an_origin_that_is_not_one_is_refused_at_start(bad: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [str(Path(sys.executable).parent / "profile-emulator"), "serve", "--cors-origin", bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "not an origin" in done.stderr
