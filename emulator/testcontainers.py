"""The emulator's container image under Testcontainers: one emulator per test module or
session, started and removed by the test itself (``pip install 'profile-emulator[testcontainers]'``).

    from emulator.testcontainers import EmulatorContainer

    with EmulatorContainer() as emulator:  # localhost/profile-emulator:latest, a new token
        team = emulator.namespace()  # an emulator.client.Emulator on a namespace of its own
        team.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
        url = f"{emulator.base_url}/client/users/seed-session-1/profile"
        answer = httpx.put(url, json={...}, headers=team.headers)  # your client, its namespace
        assert [call["status"] for call in team.requests(operation="updateProfile")] == [400]

The same API as the Node.js module (testcontainers-node/): ``base_url``, ``namespace()``,
``activate(scenario)``, ``inject(...)``, ``requests(...)`` (the journal) and ``reset()``,
the last four on the ``default`` namespace (the one a call without X-Emulator-Namespace
reaches). The image wants a control token once its port is published: a random one is
made unless one is given, and every client made here sends it.

The ``testcontainers`` package is imported when an EmulatorContainer is made, not when this
module is, so the rest of the package needs none of it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from emulator.client import Emulator, new_http_client

if TYPE_CHECKING:
    import httpx
    from testcontainers.core.container import DockerContainer

IMAGE = "localhost/profile-emulator:latest"  # what container/build.sh tags
PORT = 8080  # the port the image listens on (its health check asks there)
HEALTH = "/_emulator/health"


class EmulatorContainer:
    """One container of the emulator's image; a context manager (or ``start()``/``stop()``).

    ``token``: the control token (default: a random one). ``fixtures``: a folder laid out as
    the repository's ``fixtures/`` mounted read-only on ``/fixtures`` instead of the packaged
    seed data. ``args``: more ``profile-emulator serve`` options (``--log-level``, ...).
    ``startup_timeout``: seconds to wait for ``/_emulator/health``. Other keyword arguments go
    to Testcontainers' ``DockerContainer`` (docker-py's run options, e.g. ``network_mode``);
    ``container`` is that DockerContainer, for anything else it offers.
    """

    def __init__(
        self,
        image: str = IMAGE,
        *,
        token: str | None = None,
        fixtures: str | Path | None = None,
        args: Sequence[str] = (),
        startup_timeout: int = 60,
        **docker_options: Any,
    ) -> None:
        try:
            from testcontainers.core.container import DockerContainer
            from testcontainers.core.wait_strategies import HttpWaitStrategy
        except ImportError as exc:  # the optional extra is not installed
            raise ImportError(
                "emulator.testcontainers needs the testcontainers package: "
                "pip install 'profile-emulator[testcontainers]'"
            ) from exc
        self.token = token or secrets.token_hex(16)
        ready = HttpWaitStrategy(PORT, HEALTH).for_status_code(200)
        self.container: DockerContainer = (
            DockerContainer(image, **docker_options)
            .with_exposed_ports(PORT)
            .with_env("EMULATOR_CONTROL_TOKEN", self.token)
            .waiting_for(ready.with_startup_timeout(startup_timeout))
        )
        if fixtures is not None:
            self.container.with_volume_mapping(Path(fixtures).resolve(), "/fixtures", "ro")
        if args:
            self.container.with_command(list(args))
        self._base_url: str | None = None
        self._http: httpx.Client | None = None
        self._default: Emulator | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> EmulatorContainer:
        """Start the container; return once ``/_emulator/health`` answers 200."""
        self.container.start()
        host = self.container.get_container_host_ip()
        port = self.container.get_exposed_port(PORT)
        self._base_url = f"http://{host}:{port}"
        self._http = new_http_client()
        self._default = self.namespace("default")
        return self

    def stop(self) -> None:
        """Remove the container (and its anonymous volumes); close the clients made here."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self._base_url = self._default = None
        self.container.stop()

    def __enter__(self) -> EmulatorContainer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the API --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the emulator: the vendor APIs and ``/_emulator``."""
        if self._base_url is None:
            raise RuntimeError("the emulator's container is not started")
        return self._base_url

    def namespace(self, name: str | None = None) -> Emulator:
        """The control API of a namespace (a new one unless named), as an
        :class:`emulator.client.Emulator` that sends the token; the code under test puts its
        own calls there with ``.headers``. The container's clients share one connection pool,
        closed by :meth:`stop`."""
        return Emulator(
            self.base_url,
            name or f"ns-{uuid.uuid4().hex[:16]}",
            token=self.token,
            client=self._http,
        )

    @property
    def default(self) -> Emulator:
        """The ``default`` namespace: where vendor calls without X-Emulator-Namespace go."""
        if self._default is None:
            raise RuntimeError("the emulator's container is not started")
        return self._default

    def activate(self, scenario: str) -> None:
        """Switch a scenario of the fixtures on in the default namespace."""
        self.default.activate(scenario)

    def inject(self, error: str | None = None, **rule: Any) -> str:
        """Add a fault rule to the default namespace (``Emulator.inject``'s arguments)."""
        return self.default.inject(error, **rule)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The default namespace's journal, oldest first (``Emulator.requests``' filters)."""
        return self.default.requests(**filters)

    def reset(self) -> None:
        """The default namespace back to its fixtures: state, rules, scenarios, journal."""
        self.default.reset()
