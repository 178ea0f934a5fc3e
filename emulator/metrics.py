"""The server's metrics (``GET /_emulator/metrics``, Prometheus' text format): vendor calls by
API, operation and status, their durations, the fault rules that acted, and, read when
scraped, the namespaces in use and the bytes their journals hold.

One ``CollectorRegistry`` per server (never prometheus-client's global one), so two servers
in one process count apart. A vendor call is recorded once, where ``EmulatorApp`` journals it:
a dictionary look-up, two increments and one histogram observation. Labels are bounded: an
API's name, an operation id of its spec (``""`` for a call routed to none), a status code
(``"none"`` when no response ever started: a transport fault), a rule's action and a
transport fault's name. Counters are the server's, across namespaces, and only go up: a
namespace's reset leaves them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from emulator.reply import Reply

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from emulator.context import RequestContext
    from emulator.runtime import Namespace

# The text exposition format, version 0.0.4 (what every Prometheus server reads).
MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a call answered from memory takes about a millisecond; a delay rule may hold one
# for seconds, the `timeout` fault up to the server's hold (300 s by default).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
UNROUTED = ""  # the operation label of a call that reached no operation of its API


class Metrics:
    """One server's metrics: ``call`` records a vendor call, ``exposition`` is a scrape."""

    def __init__(self, namespaces: Callable[[], Iterable[Namespace]]) -> None:
        """``namespaces``: the namespaces in use now (``Runtime.namespaces``), read when
        scraped."""
        self.registry = CollectorRegistry()
        self._calls = Counter(
            "emulator_vendor_calls",
            "Vendor calls answered (or broken by a transport fault), by API, operation and status.",
            ("api", "operation", "status"),
            registry=self.registry,
        )
        self._seconds = Histogram(
            "emulator_vendor_call_duration_seconds",
            "Time from a vendor call's arrival to its journal entry (fault delays included), "
            "by API and operation.",
            ("api", "operation"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._faults = Counter(
            "emulator_faults",
            "Vendor calls a fault rule acted on, by API, the rule's action (error, respond, "
            "fault, delay) and the transport fault injected (empty for the other actions).",
            ("api", "action", "fault"),
            registry=self.registry,
        )
        self.registry.register(_Gauges(namespaces))
        # (api, operation, status) -> its counter and histogram children: labels() once.
        self._children: dict[tuple[str, str | None, int | None], tuple[Counter, Histogram]] = {}

    def call(
        self,
        api: str,
        operation: str | None,
        status: int | None,
        seconds: float,
        action: str | None = None,
        fault: str | None = None,
    ) -> None:
        """One vendor call: its operation id (None: unrouted), the status that went out (None:
        none did), its duration, the action of the rule that acted on it (None: none) and
        the transport fault injected, if any."""
        key = (api, operation, status)
        children = self._children.get(key)
        if children is None:
            label = UNROUTED if operation is None else operation
            children = self._children[key] = (
                self._calls.labels(api, label, "none" if status is None else str(status)),
                self._seconds.labels(api, label),
            )
        children[0].inc()
        children[1].observe(seconds)
        if action is not None:
            self._faults.labels(api, action, fault or "").inc()

    def exposition(self) -> bytes:
        """The scrape: every metric in the text format (``MEDIA_TYPE``)."""
        return generate_latest(self.registry)

    async def get_metrics(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/metrics (control.yaml, tag Metrics): the server's, every namespace's."""
        return Reply(200, self.exposition(), media_type=MEDIA_TYPE)


class _Gauges(Collector):
    """What the namespaces hold, read when scraped (nothing is kept up to date per call)."""

    def __init__(self, namespaces: Callable[[], Iterable[Namespace]]) -> None:
        self._namespaces = namespaces

    def collect(self) -> Iterator[Metric]:
        namespaces = list(self._namespaces())
        yield GaugeMetricFamily(
            "emulator_namespaces",
            "Namespaces in use (made by a call since they were last reset or dropped).",
            value=len(namespaces),
        )
        yield GaugeMetricFamily(
            "emulator_journal_bytes",
            "Bytes the journals of every namespace hold, as their byte budget "
            "(--journal-bytes) counts them.",
            value=sum(namespace.journal.weight for namespace in namespaces),
        )
