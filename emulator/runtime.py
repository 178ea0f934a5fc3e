"""The namespaces of one server: each a test's (or a team's) isolated state, configuration,
fault rules and journal, made from the fixture seed on first use, dropped on reset or to make
room, and written to the data file when there is one."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator import fixtures
from emulator.clock import Clock, NamespaceClock
from emulator.contract import contract_of
from emulator.engine import MAX_RULES, Engine
from emulator.errors import Catalogue
from emulator.fixtures import FixtureError
from emulator.journal import JOURNAL_BYTES, JOURNAL_SIZE, Journal
from emulator.persistence import DataFileError, Persistence
from emulator.state import Store, clone
from emulator.state_schema import Documents, IndexKey, StateSchema
from emulator.webhooks import subscribers
from emulator.webhooks.hub import Webhooks
from emulator.webhooks.subscribers import Outbound, Subscriber, SubscriberError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from emulator.vendors.base import Vendor

log = logging.getLogger("emulator")

DEFAULT_NAMESPACE = "default"
NAMESPACE_HEADER = "x-emulator-namespace"
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_NAMESPACES = 1000  # namespaces kept at once; the least recently used idle one makes room
HOLD_SECONDS = 300.0  # the `timeout` fault holds a connection at most this long


@dataclass
class Namespace:
    """Everything one test (or one team) sees: state, configuration, fault rules, journal."""

    name: str
    store: Store
    config: dict[str, Any]
    faults: Engine = field(default_factory=Engine)
    journal: Journal = field(default_factory=Journal)
    clock: NamespaceClock = field(default_factory=lambda: NamespaceClock(Clock()))
    in_flight: int = 0  # calls under way (a namespace with one is not evicted)
    used: float = 0.0  # time.monotonic() of its latest call (the least recently used makes room)
    # Its webhooks (subscribers, delivery rules, failed messages, deliveries); left out: made
    # from its clock and journal, with no subscriber.
    webhooks: Webhooks = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.webhooks is None:
            self.webhooks = Webhooks(self.clock, self.journal, Outbound())


class Runtime:
    """The namespaces of one server, their fixture seed, scenarios and the optional data file."""

    def __init__(
        self,
        vendors: tuple[Vendor, ...],
        fixtures_dir: Path,
        data_file: Path | None = None,
        *,
        journal_size: int = JOURNAL_SIZE,
        journal_bytes: int = JOURNAL_BYTES,
        max_namespaces: int = MAX_NAMESPACES,
        max_rules: int = MAX_RULES,
        hold_seconds: float = HOLD_SECONDS,
        clock: Clock | None = None,
        shipped: tuple[str, ...] = (),
        fsync: str = "batch",
        webhook_hosts: frozenset[str] = frozenset(),
    ) -> None:
        """``shipped``: the names of every vendor the emulator ships, which the shipped
        scenarios may name even where this server serves only some of them."""
        self.vendors = {vendor.name: vendor for vendor in vendors}
        self.fixtures_dir = fixtures_dir
        self.journal_size = journal_size
        self.journal_bytes = journal_bytes
        self.max_namespaces = 0  # no cap while the data file's namespaces are restored
        self.max_rules = max_rules  # fault rules each namespace holds at once (0: no cap)
        self.hold_seconds = hold_seconds
        self.clock = clock or Clock()  # delays, held calls, rule lifetimes, durations
        self.catalogue = Catalogue()
        self._indexes: dict[str, Mapping[str, IndexKey]] = {}
        documents: dict[str, Documents] = {}
        for vendor in vendors:
            self.catalogue.register(vendor.name, vendor.errors)
            self._indexes.update(vendor.collections)
            documents.update(vendor.documents)
        self.contract = contract_of(vendors)
        self.state_schema = StateSchema(self._indexes, documents)
        self.seed = fixtures.seed(vendors, fixtures_dir, self.state_schema)
        schema = self.state_schema
        # The seed's state in a store of its own, never written: each namespace is a copy.
        self._seeded = Store(self._indexes, kept=schema.kept, counters=schema.counters)
        self._seeded.restore(self.seed.state)
        # Shipped scenarios of every vendor load wherever only some vendors are served; a
        # rule for a vendor this server lacks is refused when its scenario is activated.
        lenient = dataclasses.replace(self.contract, absent=frozenset(shipped) - set(self.vendors))
        self.scenarios = fixtures.scenarios(fixtures_dir, lenient)
        self.outbound = Outbound(webhook_hosts)  # where deliveries may go, and their client
        try:
            self.subscribers: dict[str, Subscriber] = subscribers.load(fixtures_dir, self.outbound)
        except SubscriberError as exc:
            raise FixtureError(str(exc)) from None
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.Lock()
        self.persistence: Persistence | None = None
        self.close_error: str | None = None  # why the data file's last write failed at exit
        if data_file is not None:
            self._load(Persistence(data_file, always=fsync == "always"))
        self.max_namespaces = max_namespaces

    def _load(self, persistence: Persistence) -> None:
        """The data file's namespaces (each checked by the state schema), then every write
        into it from here on."""
        try:
            saved = persistence.load(self.state_schema, NAMESPACE_PATTERN, self.seed.state)
            for name, state in saved.items():
                self.namespace(name).store.restore(state, copied=True)
            persistence.start()
        except DataFileError as exc:
            raise FixtureError(str(exc)) from None
        self.persistence = persistence
        for name, namespace in self._namespaces.items():
            namespace.store.changes = persistence.recorder(name)

    def namespace(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        """The namespace of that name, made from the fixture seed if there is none. When
        there are ``max_namespaces`` already, the least recently used one with no call under
        way (never ``default``) is dropped first, as a reset would (0: no cap)."""
        namespace = self._namespaces.get(name)
        if namespace is None:
            with self._lock:
                namespace = self._namespaces.get(name)
                if namespace is None:
                    if self.max_namespaces and len(self._namespaces) >= self.max_namespaces:
                        self._make_room()
                    store = self._seeded.copy()
                    if self.persistence is not None:
                        self.persistence.made(name, store.live)  # NotPersisted: none is made
                        store.changes = self.persistence.recorder(name)
                    config = clone(self.seed.config)
                    clock = NamespaceClock(self.clock)  # rule lifetimes follow its advances
                    engine = Engine(seed=config["seed"], clock=clock.now, max_rules=self.max_rules)
                    journal = Journal(self.journal_size, self.journal_bytes)
                    namespace = Namespace(
                        name,
                        store,
                        config,
                        engine,
                        journal,
                        clock,
                        used=time.monotonic(),
                        webhooks=Webhooks(clock, journal, self.outbound, self.subscribers),
                    )
                    self._namespaces[name] = namespace
        return namespace

    def existing(self, name: str) -> Namespace | None:
        """The namespace of that name if a call has made it (none is made here)."""
        return self._namespaces.get(name)

    def _make_room(self) -> None:
        idle = [
            ns
            for ns in self._namespaces.values()
            if not ns.in_flight and ns.name != DEFAULT_NAMESPACE
        ]
        if not idle:  # every one has a call under way: the cap gives way until they end
            return
        oldest = min(idle, key=lambda ns: ns.used)
        self._forget(oldest)
        del self._namespaces[oldest.name]
        log.warning(
            "namespace %r dropped to make room (--max-namespaces %d): it was the least "
            "recently used",
            oldest.name,
            self.max_namespaces,
        )

    def reset(self, name: str) -> None:
        """The namespace back to its fixture seed: state, configuration, seed, rules, active
        scenarios and journal. It is dropped and made afresh on its next call, so the
        per-test namespaces of a long session do not pile up on the server."""
        with self._lock:
            dropped = self._namespaces.get(name)
            if dropped is not None:
                self._forget(dropped)
                del self._namespaces[name]

    def _forget(self, dropped: Namespace) -> None:
        """A namespace about to be dropped (reset, or evicted to make room) leaves the data
        file first (:class:`~emulator.persistence.NotPersisted`: it stays); its deliveries
        stop."""
        if self.persistence is not None:
            self.persistence.dropped(dropped.name)
            # A call still under way in the dropped namespace writes nowhere the file sees.
            dropped.store.changes = None
        dropped.webhooks.close()

    def namespaces(self) -> list[Namespace]:
        """The namespaces in use (made by a call since they were last reset), by name."""
        with self._lock:
            return sorted(self._namespaces.values(), key=lambda namespace: namespace.name)

    def check_state(self, data: Any) -> bytes:
        """``data`` as JSON when it is state the handlers can use (the state schema, the same
        one the data file is read with); else ValueError naming the path."""
        return self.state_schema.check(data)

    @property
    def persistence_status(self) -> str | None:
        """None without a data file; else ``ok`` or ``failing: <reason>``."""
        return None if self.persistence is None else self.persistence.status

    async def stop_deliveries(self) -> None:
        """Every namespace's webhook deliveries stopped, their HTTP client closed (the
        server's shutdown: a slow subscriber does not hold it)."""
        for namespace in self.namespaces():
            namespace.webhooks.close()
        await self.outbound.aclose()

    def close(self) -> None:
        """The data file's last fsync; why it failed goes to ``close_error``."""
        if self.persistence is not None:
            self.close_error = self.persistence.close()
