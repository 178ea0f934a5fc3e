"""The container image and podman's Docker-compatible API, once per test session (once per
worker under pytest-xdist); tests/podman.py says how each is had on this host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.podman import DockerAPI, Image, build_image, docker_api


@pytest.fixture(scope="session")
def image() -> Image:
    return build_image()


@pytest.fixture(scope="session")
def docker(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerAPI]:
    with docker_api(tmp_path_factory.mktemp("podman-api")) as api:
        yield api
