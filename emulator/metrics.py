"""The server's metrics (``GET /_emulator/metrics``, Prometheus' text format): vendor calls by
API, operation and status, their durations, the fault rules that acted, and, read when
scraped, the namespaces in use and the bytes their journals hold.

A vendor call is recorded once, where ``EmulatorApp`` journals it, in plain counts (a
dictionary look-up, a few integer additions, one ``bisect``: about a microsecond, on the
event loop's thread, the only one that records or scrapes). A scrape turns them into metric
families in a ``CollectorRegistry`` of this server's own (never prometheus-client's global
one), so two servers in one process count apart; prometheus-client is imported by the first
scrape, not at start-up (its import takes ~45 ms).

Labels are bounded: an API's name, an operation id of its spec (``""`` for a call routed to
none), a status code (``"none"`` when no response ever started: a transport fault), a rule's
action and a transport fault's name. Counters are the server's, across namespaces, and only
go up: a namespace's reset leaves them as they are.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast

from emulator.reply import Reply

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

    from emulator.context import RequestContext
    from emulator.runtime import Namespace

# The text exposition format, version 0.0.4 (what every Prometheus server reads).
MEDIA_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a call answered from memory takes about a millisecond; a delay rule may hold one
# for seconds, the `timeout` fault up to the server's hold (300 s by default).
BUCKETS = (
    *(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)  # floats: their labels read 1.0, as Prometheus' clients write them
UNROUTED = ""  # the operation label of a call that reached no operation of its API
NO_RESPONSE = "none"  # the status label of a call no response started for


class _Operation:
    """The counts of one (API, operation): calls by status, and the durations' histogram."""

    __slots__ = ("buckets", "statuses", "sum")

    def __init__(self) -> None:
        self.statuses: dict[int | None, int] = {}
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, not cumulative; the last: +Inf
        self.sum = 0.0


class Metrics:
    """One server's metrics: ``call`` records a vendor call, ``exposition`` is a scrape."""

    def __init__(self, namespaces: Callable[[], Iterable[Namespace]]) -> None:
        """``namespaces``: the namespaces in use now (``Runtime.namespaces``), read when
        scraped."""
        self._namespaces = namespaces
        self._operations: dict[tuple[str, str | None], _Operation] = {}
        self._faults: dict[tuple[str, str, str | None], int] = {}
        self._registry: CollectorRegistry | None = None

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
        counts = self._operations.get((api, operation))
        if counts is None:
            counts = self._operations[(api, operation)] = _Operation()
        statuses = counts.statuses
        statuses[status] = statuses.get(status, 0) + 1
        counts.buckets[bisect_left(BUCKETS, seconds)] += 1  # the first bound >= seconds
        counts.sum += seconds
        if action is not None:
            key = (api, action, fault)
            self._faults[key] = self._faults.get(key, 0) + 1

    def exposition(self) -> bytes:
        """The scrape: every metric in the text format (``MEDIA_TYPE``)."""
        from prometheus_client import CollectorRegistry, generate_latest

        if self._registry is None:
            self._registry = CollectorRegistry()
            # Duck-typed: the registry calls collect() (subclassing prometheus-client's
            # Collector would import it at start-up).
            self._registry.register(cast("Collector", _Collector(self)))
        return generate_latest(self._registry)

    async def get_metrics(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/metrics (control.yaml, tag Metrics): the server's, every namespace's."""
        return Reply(200, self.exposition(), media_type=MEDIA_TYPE)

    def families(self) -> Iterator[Metric]:
        """The counts as metric families, and the gauges read now."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        calls = CounterMetricFamily(
            "emulator_vendor_calls",
            "Vendor calls answered (or broken by a transport fault), by API, operation and status.",
            labels=("api", "operation", "status"),
        )
        seconds = HistogramMetricFamily(
            "emulator_vendor_call_duration_seconds",
            "Time from a vendor call's arrival to its answer (fault delays included), by API "
            "and operation.",
            labels=("api", "operation"),
        )
        bounds = [*map(str, BUCKETS), "+Inf"]
        for (api, operation), counts in list(self._operations.items()):
            label = UNROUTED if operation is None else operation
            for status, count in list(counts.statuses.items()):
                code = NO_RESPONSE if status is None else str(status)
                calls.add_metric((api, label, code), count)
            cumulative, total = [], 0
            for bound, count in zip(bounds, counts.buckets, strict=True):
                total += count
                cumulative.append((bound, total))
            seconds.add_metric((api, label), cumulative, counts.sum)
        yield calls
        yield seconds
        faults = CounterMetricFamily(
            "emulator_faults",
            "Vendor calls a fault rule acted on, by API, the rule's action (error, respond, "
            "fault, delay) and the transport fault injected (empty for the other actions).",
            labels=("api", "action", "fault"),
        )
        for (api, action, fault), count in list(self._faults.items()):
            faults.add_metric((api, action, fault or ""), count)
        yield faults
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


class _Collector:
    """The registry's one collector (prometheus-client calls ``collect`` at each scrape)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.families()
