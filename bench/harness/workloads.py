"""The workloads: what each server gets, the set-up through the emulator's vendor APIs, and
the interleaved rounds.

Every reference gets the emulator's request as is (Prism without the spec's base path,
which it ignores by design); what each answers is in `expect`. A reference that has no
counterpart of a workload is left out of it (WireMock stubs the loyalty PUT only).
"""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from . import load
from .common import Budget, Skip, log
from .load import Req
from .servers import Server
from .servers import emulators as emulator_commands

ORDER = ("emulator", "raw", "wiremock", "prism")  # the table's columns
ENROLL_BODY = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
}
FAULT_RULE = {
    "match": {"api": "loyalty", "operation": "updateProfile"},
    "error": "loyalty.EMAIL_ALREADY_EXISTS",
    "probability": 0.1,
}
MIXED_SHARE = (0.05, 0.15)  # of 4xx answers under FAULT_RULE


@dataclass(frozen=True)
class Workload:
    name: str
    api: str  # loyalty | commerce
    valid: bool = True
    fault: bool = False


WORKLOADS = {
    w.name: w
    for w in (
        Workload("loyalty_valid", "loyalty"),
        Workload("loyalty_invalid", "loyalty", valid=False),
        Workload("commerce_update", "commerce"),
        Workload("mixed_faults", "loyalty", fault=True),
    )
}

# Headers sent on every call to every server (--namespace adds X-Emulator-Namespace).
EXTRA_HEADERS: dict[str, str] = {}


def client(server: Server, timeout: float = 30.0) -> httpx.Client:
    # trust_env=False: never route loopback traffic through a proxy from the environment.
    return httpx.Client(
        base_url=server.url, timeout=timeout, trust_env=False, headers=EXTRA_HEADERS
    )


def ok(r: httpx.Response, what: str) -> dict:
    """The JSON body of a set-up call's 2xx answer ({} when empty); Skip naming the call otherwise."""
    if r.status_code >= 300:
        raise Skip(f"{what} answered {r.status_code} {r.text[:160]!r}")
    return r.json() if r.content else {}


# ----------------------------------------------------------------------------- loyalty


def loyalty_body(email: str, valid: bool) -> dict:
    """A 15-field profile update (the issue's workload): every primary attribute, EMD."""
    return {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": email,
        "dateOfBirth": "1990-01-01",
        "gender": "F",
        "postalZipCode": "H0H 0H0" if valid else "nope",
        "provinceState": "QC",
        "phoneNumber": "(514) 555-0100",
        "languagePreference": "en-CA",
        "city": "Montreal",
        "street": "1 Rue Sainte-Catherine",
        "street2": "Suite 100",
        "channel": "WEB",
        "extendedDataSource": "MARKETING",
        "extendedData": {"casl": True, "doNotEmail": False},
    }


def loyalty_session(c: httpx.Client, email: str) -> str:
    """Enroll a member and open a session for it; the session's correlation id."""
    account = ok(
        c.post("/client/users", json={**ENROLL_BODY, "email": email}), "enroll: POST /client/users"
    )
    correlation_id = str(uuid.uuid4())
    ok(
        c.post(
            f"/client/users/{account['accountId']}/sessions",
            json={"correlationId": correlation_id, "channel": "WEBSITE"},
            headers={"X-Identifier-Type": "ACCOUNT_ID"},
        ),
        "session: POST /client/users/{accountId}/sessions",
    )
    return correlation_id


def loyalty_put(correlation_id: str, email: str, valid: bool) -> Req:
    return Req(
        "PUT",
        f"/client/users/{correlation_id}/profile",
        {"Content-Type": "application/json", "Accept": "application/json", **EXTRA_HEADERS},
        orjson.dumps(loyalty_body(email, valid)),
        expect=200 if valid else 400,
    )


def loyalty_setup(c: httpx.Client, workload: Workload) -> Req:
    email = f"ada-{workload.name.replace('_', '-')}-{uuid.uuid4().hex[:8]}@example.com"
    return loyalty_put(loyalty_session(c, email), email, workload.valid)


# ----------------------------------------------------------------------------- commerce


def commerce_setup(c: httpx.Client) -> Req:
    token = ok(
        c.post(
            "/ccadmin/v1/login",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Bearer emulator-app-key"},
        ),
        "login: POST /ccadmin/v1/login",
    )["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "firstName": "Kim",
        "lastName": "Anderson",
        "email": f"kim-{uuid.uuid4().hex[:8]}@example.com",
    }
    profile = ok(
        c.post("/ccadmin/v1/profiles", json=body, headers=auth), "create: POST /ccadmin/v1/profiles"
    )
    return Req(
        "PUT",
        f"/ccadmin/v1/profiles/{profile['id']}",
        {"Content-Type": "application/json", "Accept": "application/json", **auth, **EXTRA_HEADERS},
        orjson.dumps({"firstName": "Kim", "lastName": "Anderson"}),
    )


# ----------------------------------------------------------------------------- per server


def requests_for(
    workload: Workload, servers: dict[str, Server | None], emulators: list[str]
) -> dict[str, tuple[Server, Req]]:
    """(server, request) for each server that takes part in the workload: every emulator
    (``emulators``, each with its own set-up: its own member, session or profile), then the
    references, which get the first emulator's request."""
    out = {}
    for name in emulators:
        if servers.get(name) is None:
            continue
        with client(servers[name]) as c:
            if workload.api == "commerce":
                out[name] = (servers[name], commerce_setup(c))
            else:
                out[name] = (servers[name], loyalty_setup(c, workload))
    req = out["emulator"][1]
    if workload.fault:
        return out  # the references have no fault rules: their loyalty_valid figures stand
    out["raw"] = (servers["raw"], Req(req.method, req.path, req.headers, req.body, expect=200))
    if workload.api == "loyalty" and servers.get("wiremock"):
        out["wiremock"] = (servers["wiremock"], req)
    prism = servers.get("prism" if workload.api == "loyalty" else "prism_commerce")
    if prism:
        out["prism"] = (prism, req.without_prefix(prism.base_path))
    return out


def preflight(server: Server, req: Req) -> dict:
    """One request like the workload's, to record what the server answers."""
    with client(server) as c:
        r = c.request(req.method, req.path, headers=req.headers, content=req.body)
    return {"status": r.status_code, "expected": req.expect, "body": r.text[:200]}


def add_fault(emu: Server) -> str:
    with client(emu) as c:
        return ok(c.post("/_emulator/faults", json=FAULT_RULE), "POST /_emulator/faults")["id"]


def remove_fault(emu: Server, rule_id: str) -> None:
    with client(emu) as c:
        ok(c.delete(f"/_emulator/faults/{rule_id}"), f"DELETE /_emulator/faults/{rule_id}")


# ----------------------------------------------------------------------------- rounds


def interleaved(
    running: dict[str, tuple[Server, Req]], connections: int, rounds: int, seconds: int
) -> dict[str, list[dict]]:
    """`rounds` rounds, each one wrk run per server, the order rotating from round to round:
    a shared VM drifts by tens of percent within minutes, and interleaving puts the same
    drift into every server's figures, so their ratios hold."""
    names = list(running)
    out: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            srv, req = running[name]
            cpu = srv.cpu_seconds()
            cell = load.run(srv.url, req, connections, seconds)
            spent = srv.cpu_seconds()
            if cpu is not None and spent is not None and cell["requests"]:
                cell["cpu_us_per_req"] = round((spent - cpu) / cell["requests"] * 1e6, 1)
            out[name].append(cell)
    return out


def cell_check(workload: Workload, name: str, req: Req, cell: dict, pre: dict | None) -> str:
    if pre and pre["status"] // 100 != pre["expected"] // 100:
        return f"answers {pre['status']}, want {pre['expected']}"
    share = MIXED_SHARE if workload.fault and name not in ORDER[1:] else None
    return load.check(req.expect, cell, share)


def run_one(workload: Workload, servers: dict[str, Server | None], args, budget: Budget) -> dict:
    emulators = list(emulator_commands(args))
    running = requests_for(workload, servers, emulators)
    result: dict[str, Any] = {
        "servers": {
            name: {
                "request": {"method": r.method, "path": r.path, "body": r.body.decode()},
                "cells": {},
            }
            for name, (_, r) in running.items()
        }
    }
    preflights = {}
    if not workload.fault:
        for name, (srv, req) in running.items():
            preflights[name] = result["servers"][name]["preflight"] = preflight(srv, req)
    budget.need(
        len(running) * (len(args.connections) * args.rounds * (args.duration + 0.5) + args.warmup),
        workload.name,
    )
    rules = (
        {name: add_fault(running[name][0]) for name in emulators if name in running}
        if workload.fault
        else {}
    )
    try:
        for srv, req in running.values():
            load.run(srv.url, req, 16, args.warmup)
        for conns in args.connections:
            for name, rounds in interleaved(running, conns, args.rounds, args.duration).items():
                cell = load.merge_rounds(rounds)
                cell["check"] = cell_check(
                    workload, name, running[name][1], cell, preflights.get(name)
                )
                result["servers"][name]["cells"][str(conns)] = cell
                log(
                    f"{workload.name:16s} {name:8s} c={conns:<3d} {cell['rps']:9.0f} req/s  "
                    f"p50 {cell['p50_ms']:7.2f} ms  p99 {cell['p99_ms']:7.2f} ms  [{cell['check']}]  "
                    f"rounds: {', '.join(format(x['rps'], '.0f') for x in cell['rounds'])}"
                )
    finally:
        for name, rule_id in rules.items():
            remove_fault(running[name][0], rule_id)
    return result


def warm_jvm(wiremock: Server, seconds: int) -> None:
    """WireMock runs on the JVM, whose JIT compiles the hot path after some thousands of
    calls: it gets `seconds` of the valid and the invalid PUT before any cell counts."""
    for valid in (True, False):
        load.run(wiremock.url, loyalty_put("warm-up", "warm-up@example.com", valid), 16, seconds)


def run_all(args, servers: dict[str, Server | None], budget: Budget) -> dict:
    results: dict[str, dict] = {}
    if servers.get("wiremock"):
        log(f"wiremock: JIT warm-up, {args.jvm_warmup} s of each loyalty PUT")
        warm_jvm(servers["wiremock"], args.jvm_warmup)
    for name in args.workloads:
        try:
            results[name] = run_one(WORKLOADS[name], servers, args, budget)
        except (Skip, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
            results[name] = {"status": f"failed: {exc}", "servers": {}}
            log(f"{name}: failed: {exc}")
    if "mixed_faults" in results and "loyalty_valid" in results:
        for name, ref in results["loyalty_valid"]["servers"].items():
            if name in ORDER[1:]:  # the references
                results["mixed_faults"]["servers"][name] = {**ref, "reused": "loyalty_valid"}
    return results
