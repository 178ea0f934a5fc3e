"""The benchmark's parts (bench/run.py puts them together):

- ``servers``: the processes measured (emulator, raw ASGI, Prism, WireMock), pinned, polled
  until ready, stopped group-wide; cold start and RSS.
- ``load``: wrk runs (one fixed request, or an enroll fill) and the cells made of them.
- ``workloads``: the requests each server gets, their set-up through the vendor APIs, the
  interleaved rounds.
- ``state``: reset time and latency by state size.
- ``report``: the table, the targets, the JSON.
"""
