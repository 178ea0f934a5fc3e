"""The table, the targets (each MET / NOT MET / n/a with the reason) and their printout."""

from __future__ import annotations

from typing import Any

from .workloads import ORDER

# Issue 13's goals, and issue 5's that still stand (vs Prism, reset, state size).
# The invalid and OCC paths keep their share of the valid path's req/s @16 as measured
# before issue 13 (bench/README.md, "Before").
TARGETS: list[tuple[str, str, str, float]] = [
    # (key, label, comparison, goal)
    ("valid_vs_raw", "valid PUT @16 vs raw ASGI", ">=", 0.5),
    ("cpu_valid_vs_raw", "valid PUT @16 vs raw ASGI, by CPU/request", ">=", 0.5),
    ("valid_vs_wiremock", "valid PUT @16 vs WireMock (stretch)", ">=", 1.0),
    ("cpu_valid_vs_wiremock", "valid PUT @16 vs WireMock, by CPU/request", ">=", 1.0),
    ("valid_vs_prism", "valid PUT @16 vs Prism", ">=", 2.0),
    ("p99_ms", "valid PUT p99 @16 (ms)", "<=", 3.0),
    ("invalid_vs_valid", "invalid PUT / valid PUT req/s @16", ">=", 0.80),
    ("commerce_vs_valid", "OCC PUT / valid PUT req/s @16", ">=", 0.95),
    ("fixture_ms", "fixture overhead per test (ms)", "<=", 1.0),
    ("cold_start_ms", "cold start (ms)", "<=", 300.0),
    ("cold_start_cpu_ms", "cold start, CPU time of the process (ms)", "<=", 300.0),
    ("rss_mb", "RSS after start (MB)", "<=", 80.0),
    ("reset_ms", "reset with 10k profiles (ms)", "<=", 5.0),
    ("latency_ratio", "latency 100k / 100 profiles (p50)", "<=", 1.2),
    ("garbage", "cyclic garbage objects (bench/garbage.py)", "<=", 0),
]


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def cell(workloads: dict, workload: str, server: str, conns: int) -> dict | None:
    return (
        workloads.get(workload, {})
        .get("servers", {})
        .get(server, {})
        .get("cells", {})
        .get(str(conns))
    )


def rows(args, workloads: dict) -> list[dict]:
    out = []
    for workload in args.workloads:
        for conns in args.connections:
            cells = {name: cell(workloads, workload, name, conns) for name in ORDER}
            rps = {name: c and c["rps"] for name, c in cells.items()}
            emu = cells["emulator"] or {}
            quiet = cell(workloads, workload, "emulator_quiet", conns) or {}
            quiet_rps = quiet.get("rps")
            cpu = {name: c and c.get("cpu_us_per_req") for name, c in cells.items()}
            out.append(
                {
                    "workload": workload,
                    "connections": conns,
                    **{f"{name}_rps": rps[name] for name in ORDER},
                    "emulator_p50_ms": emu.get("p50_ms"),
                    "emulator_p99_ms": emu.get("p99_ms"),
                    "emulator_spread": emu.get("rps_spread"),
                    "emulator_check": emu.get("check"),
                    **{
                        f"emulator_vs_{name}": ratio(rps["emulator"], rps[name])
                        for name in ORDER[1:]
                    },
                    **{f"{name}_cpu_us": cpu[name] for name in ORDER},
                    # Server CPU per request, the reference's over the emulator's: what req/s would
                    # be with a core each and nothing else running (the machine's load drops out).
                    "cpu_raw_vs_emulator": ratio(cpu["raw"], cpu["emulator"]),
                    "cpu_wiremock_vs_emulator": ratio(cpu["wiremock"], cpu["emulator"]),
                    # What the access log costs: the emulator as users run it (emulator) and
                    # with --quiet (emulator_quiet), same rounds.
                    "emulator_quiet_rps": quiet_rps,
                    "access_log_cost": cost(rps["emulator"], quiet_rps),
                    "access_log_cost_cpu": cost(
                        quiet.get("cpu_us_per_req"), cpu["emulator"], per_request=True
                    ),
                }
            )
    return out


def cost(
    with_log: float | None, without: float | None, *, per_request: bool = False
) -> float | None:
    """The share of req/s the access log takes (1 - with/without); ``per_request``: the
    figures are CPU per request (1 - without/with)."""
    if not with_log or not without:
        return None
    return round(1 - (without / with_log if per_request else with_log / without), 3)


def emulator_names(workloads: dict) -> list[str]:
    """The emulators of the run (the headline first, then --quiet, then --variant ones)."""
    names: list[str] = []
    for w in workloads.values():
        for name in w.get("servers", {}):
            if name not in ORDER[1:] and name not in names:
                names.append(name)
    return sorted(names, key=lambda n: (n != "emulator", n != "emulator_quiet"))


def emulator_rows(args, workloads: dict) -> list[dict]:
    """Every emulator's cells side by side (same rounds), each against the headline one."""
    out = []
    for workload in args.workloads:
        for conns in args.connections:
            base = cell(workloads, workload, "emulator", conns) or {}
            for name in emulator_names(workloads):
                c = cell(workloads, workload, name, conns)
                if c is None:
                    continue
                out.append(
                    {
                        "workload": workload,
                        "connections": conns,
                        "emulator": name,
                        "rps": c["rps"],
                        "p50_ms": c.get("p50_ms"),
                        "p99_ms": c.get("p99_ms"),
                        "cpu_us": c.get("cpu_us_per_req"),
                        "rps_vs_emulator": ratio(c["rps"], base.get("rps")),
                        "cpu_vs_emulator": ratio(
                            c.get("cpu_us_per_req"), base.get("cpu_us_per_req")
                        ),
                        "rounds": [r["rps"] for r in c.get("rounds", [])],
                        "check": c.get("check"),
                    }
                )
    return out


def find(table: list[dict], workload: str, conns: int = 16) -> dict:
    return next((r for r in table if r["workload"] == workload and r["connections"] == conns), {})


def values(table: list[dict], scalars: dict) -> dict[str, tuple[float | None, str]]:
    """Each target's value, and why it is missing or not to be trusted ('' when fine)."""
    valid, invalid, occ = (
        find(table, "loyalty_valid"),
        find(table, "loyalty_invalid"),
        find(table, "commerce_update"),
    )

    def wrong(row: dict, what: str) -> str:
        return (
            ""
            if row.get("emulator_check") in ("ok", None)
            else f"{what} answers: {row['emulator_check']}"
        )

    fixture = scalars.get("fixture_cost", {}).get("servers", {})
    cold, reset, lat = scalars["cold_start"], scalars["reset"], scalars["latency_by_state"]
    return {
        "valid_vs_raw": (valid.get("emulator_vs_raw"), wrong(valid, "valid PUT")),
        "valid_vs_wiremock": (valid.get("emulator_vs_wiremock"), wrong(valid, "valid PUT")),
        "cpu_valid_vs_raw": (valid.get("cpu_raw_vs_emulator"), wrong(valid, "valid PUT")),
        "cpu_valid_vs_wiremock": (valid.get("cpu_wiremock_vs_emulator"), wrong(valid, "valid PUT")),
        "valid_vs_prism": (valid.get("emulator_vs_prism"), wrong(valid, "valid PUT")),
        "p99_ms": (valid.get("emulator_p99_ms"), wrong(valid, "valid PUT")),
        "invalid_vs_valid": (
            ratio(invalid.get("emulator_rps"), valid.get("emulator_rps")),
            wrong(invalid, "invalid PUT") or wrong(valid, "valid PUT"),
        ),
        "commerce_vs_valid": (
            ratio(occ.get("emulator_rps"), valid.get("emulator_rps")),
            wrong(occ, "OCC PUT") or wrong(valid, "valid PUT"),
        ),
        "fixture_ms": (
            max((s["overhead_ms"] for s in fixture.values()), default=None),
            scalars.get("fixture_cost", {}).get("status", ""),
        ),
        "cold_start_ms": (
            cold.get("median_s") and round(cold["median_s"] * 1000, 1),
            cold.get("status", ""),
        ),
        "cold_start_cpu_ms": (
            cold.get("cpu_median_s") and round(cold["cpu_median_s"] * 1000, 1),
            cold.get("status", ""),
        ),
        "rss_mb": (cold.get("rss_median_mb"), cold.get("status", "")),
        "reset_ms": (reset.get("median_ms"), reset.get("status", "")),
        "latency_ratio": (lat.get("ratio_100k_100_p50"), lat.get("status", "")),
        "garbage": (
            sum(scalars.get("garbage", {}).get("garbage", {}).values())
            if "garbage" in scalars.get("garbage", {})
            else None,
            scalars.get("garbage", {}).get("status", ""),
        ),
    }


def targets(table: list[dict], scalars: dict) -> list[dict]:
    got = values(table, scalars)
    out = []
    for key, label, cmp, goal in TARGETS:
        value, why = got[key]
        if value is None:
            status = f"n/a ({why if why and why != 'ok' else 'not measured'})"
        elif why and why != "ok":
            status = f"NOT MET ({why})"
        else:
            status = "MET" if (value >= goal if cmp == ">=" else value <= goal) else "NOT MET"
        out.append({"target": label, "goal": f"{cmp} {goal:g}", "value": value, "status": status})
    return out


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


HEAD = (
    "workload",
    "conns",
    "emu req/s",
    "spread",
    "p50 ms",
    "p99 ms",
    "raw req/s",
    "wiremock",
    "prism",
    "emu/raw",
    "emu/wm",
    "emu/prism",
    "cpu us emu",
    "raw",
    "wm",
    "cpu raw/emu",
    "wm/emu",
    "quiet req/s",
    "log cost",
    "check",
)


def table_lines(table: list[dict]) -> list[str]:
    lines = [
        (
            r["workload"],
            str(r["connections"]),
            fmt(r["emulator_rps"], ",.0f"),
            fmt(r["emulator_spread"], ".0%"),
            fmt(r["emulator_p50_ms"], ".2f"),
            fmt(r["emulator_p99_ms"], ".2f"),
            fmt(r["raw_rps"], ",.0f"),
            fmt(r["wiremock_rps"], ",.0f"),
            fmt(r["prism_rps"], ",.0f"),
            fmt(r["emulator_vs_raw"], ".3f"),
            fmt(r["emulator_vs_wiremock"], ".2f"),
            fmt(r["emulator_vs_prism"], ".2f"),
            fmt(r["emulator_cpu_us"], ".1f"),
            fmt(r["raw_cpu_us"], ".1f"),
            fmt(r["wiremock_cpu_us"], ".1f"),
            fmt(r["cpu_raw_vs_emulator"], ".3f"),
            fmt(r["cpu_wiremock_vs_emulator"], ".2f"),
            fmt(r["emulator_quiet_rps"], ",.0f"),
            fmt(r["access_log_cost"], ".1%"),
            r["emulator_check"] or "-",
        )
        for r in table
    ]
    widths = [max([len(h)] + [len(row[i]) for row in lines]) for i, h in enumerate(HEAD)]
    left = (0, len(HEAD) - 1)

    def line(cols) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        )

    return [line(HEAD), "  ".join("-" * w for w in widths)] + [line(row) for row in lines]


EMULATOR_HEAD = (
    "workload",
    "conns",
    "emulator",
    "req/s",
    "p50 ms",
    "p99 ms",
    "cpu us",
    "req/s vs emulator",
    "cpu vs emulator",
    "rounds",
)


def emulator_lines(table: list[dict]) -> list[str]:
    lines = [
        (
            r["workload"],
            str(r["connections"]),
            r["emulator"],
            fmt(r["rps"], ",.0f"),
            fmt(r["p50_ms"], ".2f"),
            fmt(r["p99_ms"], ".2f"),
            fmt(r["cpu_us"], ".1f"),
            fmt(r["rps_vs_emulator"], ".3f"),
            fmt(r["cpu_vs_emulator"], ".3f"),
            " ".join(format(x, ".0f") for x in r["rounds"]),
        )
        for r in table
    ]
    widths = [max([len(h)] + [len(row[i]) for row in lines]) for i, h in enumerate(EMULATOR_HEAD)]
    left = (0, 2, len(EMULATOR_HEAD) - 1)

    def line(cols) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cols, widths, strict=True))
        )

    return [line(EMULATOR_HEAD), "  ".join("-" * w for w in widths)] + [line(r) for r in lines]


def notes(result: dict) -> list[str]:
    out = [f"{w}: {v['status']}" for w, v in result["workloads"].items() if "status" in v]
    out += [
        f"server {name}: {s['status']}"
        for name, s in result["servers"].items()
        if s.get("status") != "ok"
    ]
    for wname, w in result["workloads"].items():
        for sname, s in w.get("servers", {}).items():
            pre = s.get("preflight")
            if pre and pre["status"] != pre["expected"]:
                out.append(
                    f"{wname}/{sname}: answered {pre['status']} where {pre['expected']} is expected: "
                    f"{pre['body'][:120]}"
                )
    return out


def scalar_lines(sc: dict) -> list[str]:
    cs, rs, ls = sc["cold_start"], sc["reset"], sc["latency_by_state"]
    out = [
        "cold start (spawn -> first 200 on /_emulator/health, median of "
        f"{len(cs.get('samples_s', []))}): "
        + (
            f"{cs['median_s'] * 1000:.0f} ms  samples {[round(s * 1000) for s in cs['samples_s']]} ms; "
            f"RSS then {cs['rss_median_mb']} MB; CPU time of the start {fmt(cs.get('cpu_median_s'), '.3f')} s"
            if cs.get("median_s") is not None
            else cs.get("status", "-")
        )
    ]
    for name, vs in sc.get("cold_start_variants", {}).items():
        if vs.get("median_s") is None or cs.get("median_s") is None:
            out.append(f"  {name}: {vs.get('status', '-')}")
            continue
        out.append(
            f"  {name} (same spawns, taking turns): {vs['median_s'] * 1000:.0f} ms "
            f"(x{vs['median_s'] / cs['median_s']:.3f} of the emulator's), CPU "
            f"{fmt(vs.get('cpu_median_s'), '.3f')} s"
            + (
                f" (x{vs['cpu_median_s'] / cs['cpu_median_s']:.3f})"
                if vs.get("cpu_median_s") and cs.get("cpu_median_s")
                else ""
            )
            + f", RSS {vs['rss_median_mb']} MB"
        )
    out.append(
        f"reset with 10k profiles (POST /_emulator/reset round trip, median of {len(rs['samples_ms'])}): "
        f"{rs['median_ms']:.2f} ms  (empty: {fmt(rs.get('empty_median_ms'), '.2f')} ms)"
        if rs.get("median_ms") is not None
        else f"reset with 10k profiles: {rs.get('status')}"
    )
    out.append("latency of the valid PUT at 1 connection, by profiles stored:")
    for label in ("100", "10k", "100k"):
        s = ls.get("steps", {}).get(label)
        out.append(
            f"  {label:>5s} ({s['profiles']:>6d}): p50 {s['p50_ms']:.3f} ms  mean {s['mean_ms']:.3f} ms  "
            f"p99 {s['p99_ms']:.3f} ms  {s['rps']:,.0f} req/s  [{s['check']}]"
            if s and "p50_ms" in s
            else f"  {label:>5s}: {ls.get('status')}"
        )
    if ls.get("ratio_100k_100_p50") is not None:
        out.append(
            f"  100k/100: p50 x{ls['ratio_100k_100_p50']:.3f}  mean x{ls['ratio_100k_100_mean']:.3f}"
        )
    gc = sc.get("garbage", {})
    out.append(
        f"cyclic garbage after {gc['calls']} calls of each kind: {gc['garbage'] or 0}"
        if "garbage" in gc
        else f"cyclic garbage: {gc.get('status', 'not run')}"
    )
    for mode, s in sc.get("fixture_cost", {}).get("servers", {}).items():
        out.append(
            f"fixture cost per test, {mode} server: {s['overhead_ms']:.3f} ms (fixture "
            f"{s['fixture_median_ms']:.3f} - plain {s['plain_median_ms']:.3f}; namespace seeding "
            f"{s['namespace_seed_ms']:.3f})"
        )
    return out


def print_report(result: dict[str, Any]) -> None:
    m = result["meta"]
    print(
        f"\nprofile-emulator benchmark  {m['date']}  commit {m['commit']}  {m['rounds']} x {m['duration_s']} s/cell  "
        f"pinned={m['pinned']}  ({m['total_s']:.0f} s in all)"
    )
    print("\n".join(table_lines(result["rows"])))
    if result.get("emulator_rows"):
        print("\nthe emulators, same rounds (emulator: as users run it; emulator_quiet: --quiet):")
        print("\n".join(emulator_lines(result["emulator_rows"])))
    extra = notes(result)
    if extra:
        print("notes:\n" + "\n".join(f"  - {n[:300]}" for n in extra))
    print()
    print("\n".join(scalar_lines(result["scalars"])))
    print("\ntargets:")
    for t in result["targets"]:
        print(
            f"  {t['target']:<44s} {fmt(t['value'], '.3f'):>9s}  goal {t['goal']:<7s} {t['status']}"
        )
    print()
