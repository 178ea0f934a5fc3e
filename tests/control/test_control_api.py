"""Every call of the control API (openapi/control.yaml) over HTTP, on a real server."""

from __future__ import annotations

import dataclasses
import time
import weakref

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from emulator.vendors import VENDORS
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE, Clocked

CONTROL = "/_emulator"


def test_health(http: httpx.Client) -> None:
    r = http.get(f"{CONTROL}/health")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


# --- errors ---------------------------------------------------------------------------------


def test_errors_lists_every_catalogue_entry_with_its_exact_status_and_body(
    http: httpx.Client,
) -> None:
    listing = http.get(f"{CONTROL}/errors").json()
    expected = {
        f"{vendor.name}.{name}": error.filled_example()
        for vendor in VENDORS
        for name, error in vendor.errors.items()
    }
    assert [entry["name"] for entry in listing] == list(expected)
    for entry in listing:
        error = expected[entry["name"]]
        assert entry["status"] == error.status
        assert entry["body"] == dict(error.body)
        assert entry["fidelity"] in ("documented", "inferred")
        assert entry.get("headers", {}) == dict(error.headers)
    names = {entry["name"] for entry in listing}
    assert {"loyalty.EMAIL_ALREADY_EXISTS", "commerce.22001"} <= names


# --- faults ---------------------------------------------------------------------------------


def test_add_list_remove_and_clear_fault_rules(http: httpx.Client) -> None:
    r = http.post(
        f"{CONTROL}/faults",
        json={
            "error": "loyalty.EMAIL_ALREADY_EXISTS",
            "match": {"operation": "updateProfile"},
            "times": 1,
        },
    )
    assert (r.status_code, r.json()) == (201, {"id": "f-1"})
    r = http.post(
        f"{CONTROL}/faults",
        json={"id": "mine", "fault": "timeout", "description": "hang", "probability": 0.5},
    )
    assert (r.status_code, r.json()) == (201, {"id": "mine"})
    assert http.get(f"{CONTROL}/faults").json() == [
        {
            "id": "f-1",
            "match": {"api": "loyalty", "operation": "updateProfile"},
            "error": "loyalty.EMAIL_ALREADY_EXISTS",
            "times": 1,
            "after": 0,
            "probability": 1.0,
            "stage": "checked",
            "matched": 0,
            "fired": 0,
            "spent": False,
        },
        {
            "id": "mine",
            "description": "hang",
            "match": {},
            "fault": "timeout",
            "after": 0,
            "probability": 0.5,
            "stage": "arrival",
            "matched": 0,
            "fired": 0,
            "spent": False,
        },
    ]
    assert http.delete(f"{CONTROL}/faults/mine").status_code == 204
    assert [rule["id"] for rule in http.get(f"{CONTROL}/faults").json()] == ["f-1"]
    r = http.delete(f"{CONTROL}/faults/mine")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found" and "mine" in r.json()["detail"]
    assert http.delete(f"{CONTROL}/faults").status_code == 204
    assert http.get(f"{CONTROL}/faults").json() == []


def test_a_rule_id_in_use_is_refused(http: httpx.Client) -> None:
    assert http.post(f"{CONTROL}/faults", json={"id": "x", "delayMs": 1}).status_code == 201
    r = http.post(f"{CONTROL}/faults", json={"id": "x", "delayMs": 1})
    assert (r.status_code, r.json()) == (
        400,
        {"error": "invalid_request", "detail": "id: 'x' is already in use"},
    )


BAD_RULES = [
    ({"error": "loyalty.NOPE"}, "error: unknown error 'loyalty.NOPE' (see GET /_emulator/errors)"),
    ({"error": "loyalty.EMAIL_ALREADY_EXIST"}, "did you mean loyalty.EMAIL_ALREADY_EXISTS"),
    (
        {"error": "commerce.22001", "fault": "timeout"},
        "give exactly one of error, respond, fault (got error, fault)",
    ),
    ({"match": {"api": "loyalty"}}, "a rule needs an action (error, respond or fault) or a delay"),
    ({}, "a rule needs an action"),
    ({"fault": "explode"}, "fault: "),
    ({"fault": "timeout", "probability": 2}, "probability: "),
    (
        {"fault": "timeout", "match": {"api": "shop"}},
        "match.api: 'shop' is not one of ['loyalty', 'commerce']",
    ),
    (
        {"fault": "timeout", "match": {"vendor": "x"}},
        "match.vendor: unknown field; expected one of: api, body",
    ),
    ({"delay": {"lognormal": {"median": 5, "sigma": -1, "maxMs": 10}}}, "delay.lognormal.sigma: "),
    ({"delay": {"uniform": [5, 1]}}, "delay.uniform: lower bound 5 is greater than upper bound 1"),
    ({"respond": {"body": {}}}, "respond.status: required field is missing"),
    ({"respond": {"status": 503, "headers": {"Retry-After": 2}}}, "respond.headers.Retry-After: "),
    ({"respond": {"status": 200, "headers": {"X-A": "1\r\nX-B: 2"}}}, "respond.headers.X-A:"),
    ({"error": "commerce.22001", "times": 0}, "times: "),
    ({"error": "commerce.22001", "ttlSeconds": 0}, "ttlSeconds: "),
    ({"fault": "timeout", "matched": 3}, "matched: unknown field"),
    ([{"fault": "timeout"}], ""),  # the top level: nothing but jsonschema's words
]


@pytest.mark.parametrize(
    ("rule", "detail"), BAD_RULES, ids=[d or "top level" for _, d in BAD_RULES]
)
def test_bad_rules_are_refused_with_a_400_naming_what_is_wrong(
    http: httpx.Client, rule: object, detail: str
) -> None:
    """What the emulator words is asserted whole; where jsonschema words the reason (a type,
    a bound, an enum), only the field it names: `field.path: <jsonschema's reason>`."""
    r = http.post(f"{CONTROL}/faults", json=rule)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"
    if detail.endswith(": ") or not detail:
        assert r.json()["detail"].startswith(detail) and len(r.json()["detail"]) > len(detail)
    else:
        assert detail in r.json()["detail"]
    assert http.get(f"{CONTROL}/faults").json() == []


@pytest.mark.parametrize(
    ("content", "headers", "detail"),
    [
        (b"{not json", {"content-type": "application/json"}, "Malformed JSON"),
        (b"", {"content-type": "application/json"}, "RequestBody is required"),
    ],
)
def test_unreadable_rule_bodies_are_refused(
    http: httpx.Client, content: bytes, headers: dict[str, str], detail: str
) -> None:
    r = http.post(f"{CONTROL}/faults", content=content, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request" and detail in r.json()["detail"]


# --- scenarios ------------------------------------------------------------------------------


def test_scenarios_are_listed_from_the_fixtures_with_their_descriptions(
    http: httpx.Client, server: EmulatorServer
) -> None:
    listing = http.get(f"{CONTROL}/scenarios").json()
    shipped = server.app.runtime.scenarios
    assert [s["name"] for s in listing] == sorted(shipped)
    for entry in listing:
        assert entry == {
            "name": entry["name"],
            "description": shipped[entry["name"]].description,
            "active": False,
        }
        assert entry["description"].strip()


def test_activate_and_deactivate_a_scenario(http: httpx.Client) -> None:
    http.post(f"{CONTROL}/faults", json={"delayMs": 0, "id": "own"})
    r = http.put(f"{CONTROL}/scenarios/commerce-internal-error")
    assert r.status_code == 200
    assert r.json() == {
        "name": "commerce-internal-error",
        "active": True,
        "description": r.json()["description"],
    }
    rules = http.get(f"{CONTROL}/faults").json()
    assert [(rule["id"], rule.get("scenario")) for rule in rules] == [
        ("s-commerce-internal-error-1", "commerce-internal-error"),
        ("s-commerce-internal-error-2", "commerce-internal-error"),
        ("own", None),
    ]
    active = {s["name"]: s["active"] for s in http.get(f"{CONTROL}/scenarios").json()}
    assert active["commerce-internal-error"] is True and sum(active.values()) == 1
    r = http.delete(f"{CONTROL}/scenarios/commerce-internal-error")
    assert (r.status_code, r.json()["active"]) == (200, False)
    assert [rule["id"] for rule in http.get(f"{CONTROL}/faults").json()] == ["own"]
    assert http.delete(f"{CONTROL}/scenarios/commerce-internal-error").status_code == 200  # no-op


def test_reactivating_a_spent_scenario_starts_it_over(http: httpx.Client) -> None:
    http.put(f"{CONTROL}/scenarios/loyalty-flaky")
    for _ in range(2):
        assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 503
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200
    http.put(f"{CONTROL}/scenarios/loyalty-flaky")
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 503


def test_unknown_scenario_is_404(http: httpx.Client) -> None:
    for method in ("PUT", "DELETE"):
        r = http.request(method, f"{CONTROL}/scenarios/no-such-scenario")
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"
        assert "no-such-scenario" in r.json()["detail"] and "loyalty-flaky" in r.json()["detail"]


# --- journal --------------------------------------------------------------------------------


def test_the_journal_records_vendor_calls_oldest_first(http: httpx.Client) -> None:
    http.get(LOYALTY_PROFILE, params={"x": "1"})
    http.put(LOYALTY_PROFILE, json={"firstName": "Ada", "lastName": "Lovelace"})
    http.get(f"{CONTROL}/faults")  # control calls are not journaled
    journal = http.get(f"{CONTROL}/requests").json()
    assert journal["count"] == 2
    first, second = journal["requests"]
    assert {
        k: first[k]
        for k in ("api", "operation", "method", "path", "query", "body", "status", "rule", "fault")
    } == {
        "api": "loyalty",
        "operation": "getProfile",
        "method": "GET",
        "path": LOYALTY_PROFILE,
        "query": "x=1",
        "body": None,
        "status": 200,
        "rule": None,
        "fault": None,
    }
    assert first["headers"]["x-emulator-namespace"] == http.headers["x-emulator-namespace"]
    assert first["at"].endswith("Z") and first["at"] <= second["at"]
    assert (second["operation"], second["status"]) == ("updateProfile", 400)  # a documented error
    assert second["body"] == {"firstName": "Ada", "lastName": "Lovelace"}


def test_the_journal_records_spec_failures_unrouted_calls_and_non_json_bodies(
    http: httpx.Client,
) -> None:
    http.put(LOYALTY_PROFILE, content=b"{broken", headers={"content-type": "application/json"})
    http.get("/client/nowhere")
    http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer wrong-key"},
    )
    entries = http.get(f"{CONTROL}/requests").json()["requests"]
    assert [(e["api"], e["operation"], e["status"], e["body"]) for e in entries] == [
        ("loyalty", "updateProfile", 400, "{broken"),
        ("loyalty", None, 404, None),
        ("commerce", "login", 401, "grant_type=client_credentials"),
    ]


def test_the_journal_filters_by_api_operation_status_and_limit(http: httpx.Client) -> None:
    for _ in range(3):
        http.get(LOYALTY_PROFILE)
    http.put(LOYALTY_PROFILE, json={})
    http.get("/ccadmin/v1/profiles/se-570031")  # no token: 401

    def query(**params: object) -> list[tuple[str, str, int]]:
        journal = http.get(f"{CONTROL}/requests", params=params).json()
        assert journal["count"] == len(journal["requests"])
        return [(e["api"], e["operation"], e["status"]) for e in journal["requests"]]

    assert len(query()) == 5
    assert query(api="commerce") == [("commerce", "getProfile", 401)]
    assert query(operation="getProfile") == [("loyalty", "getProfile", 200)] * 3 + [
        ("commerce", "getProfile", 401)
    ]
    assert (
        query(api="loyalty", operation="getProfile", status=200)
        == [("loyalty", "getProfile", 200)] * 3
    )
    assert query(status=400) == [("loyalty", "updateProfile", 400)]
    assert query(limit=2) == [("loyalty", "updateProfile", 400), ("commerce", "getProfile", 401)]
    assert query(operation="enrollMember") == []


@pytest.mark.parametrize(
    "params", [{"api": "shop"}, {"status": "abc"}, {"status": 99}, {"limit": 0}, {"operation": ""}]
)
def test_bad_journal_filters_are_400(http: httpx.Client, params: dict[str, object]) -> None:
    r = http.get(f"{CONTROL}/requests", params=params)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")


def test_clear_the_journal(http: httpx.Client) -> None:
    http.get(LOYALTY_PROFILE)
    assert http.delete(f"{CONTROL}/requests").status_code == 204
    assert http.get(f"{CONTROL}/requests").json() == {"count": 0, "requests": []}


def test_the_journal_is_bounded_oldest_entries_fall_off() -> None:
    with EmulatorServer(journal_size=3) as small, httpx.Client(base_url=small.url) as http:
        for n in range(5):
            http.get(LOYALTY_PROFILE, params={"n": n})
        journal = http.get(f"{CONTROL}/requests").json()
        assert [e["query"] for e in journal["requests"]] == ["n=2", "n=3", "n=4"]


# --- state ----------------------------------------------------------------------------------


def test_state_snapshot_and_restore(http: httpx.Client) -> None:
    snapshot = http.get(f"{CONTROL}/state").json()
    assert {"loyalty.accounts", "loyalty.sessions"} <= snapshot.keys()
    assert snapshot["loyalty.sessions"]["seed-session-1"]["accountId"] == "1000000001"
    r = http.post(
        "/client/users/1000000002/sessions", json={"correlationId": "c-new", "channel": "APP"}
    )
    assert r.status_code == 201
    assert "c-new" in http.get(f"{CONTROL}/state").json()["loyalty.sessions"]
    assert http.put(f"{CONTROL}/state", json=snapshot).status_code == 204
    assert http.get(f"{CONTROL}/state").json() == snapshot
    assert http.get("/client/users/c-new/profile").status_code != 200


def test_restore_can_set_up_a_test_state(http: httpx.Client) -> None:
    state = http.get(f"{CONTROL}/state").json()
    del state["loyalty.sessions"]["seed-session-1"]
    state["loyalty.sessions"]["mine"] = {
        "correlationId": "mine",
        "accountId": "1000000001",
        "channel": "STORE",
    }
    assert http.put(f"{CONTROL}/state", json=state).status_code == 204
    assert http.get("/client/users/mine/profile").json()["firstName"] == "Ada"
    assert http.get(LOYALTY_PROFILE).status_code != 200


@pytest.mark.slow
def test_a_snapshot_far_over_the_vendor_body_cap_restores(http: httpx.Client) -> None:
    """10k members is ~3 MB of JSON: a vendor call that size is a 413, a snapshot is not."""
    state = http.get(f"{CONTROL}/state").json()
    template = state["loyalty.accounts"]["1000000001"]
    for n in range(10_000):
        account_id = str(2_000_000_000 + n)
        state["loyalty.accounts"][account_id] = {
            **template,
            "accountId": account_id,
            "loyaltyId": str(8_000_000_000 + n),
            "profile": {
                **template["profile"],
                "email": f"member-{n}@example.com",
                "phoneNumber": None,
            },
        }
    r = http.put(f"{CONTROL}/state", json=state)
    assert r.status_code == 204, r.text
    assert len(r.request.content) > 2 * 1024 * 1024
    assert http.get(f"{CONTROL}/state").json() == state
    session = {"correlationId": "big-1", "channel": "WEB"}
    assert (
        http.post(
            "/client/users/member-9999@example.com/sessions",
            json=session,
            headers={"X-Identifier-Type": "EMAIL"},
        ).status_code
        == 201
    )


def test_control_bodies_over_their_cap_are_413_in_the_control_shape(
    server: EmulatorServer, http: httpx.Client
) -> None:
    apis = server.app.apis
    [control] = [api for api in apis if api.name == "control"]
    assert control.max_body[("PUT", f"{CONTROL}/state")] == 256 * 1024 * 1024  # control.yaml
    # The same check as at 256 MiB, without sending 256 MiB.
    server.app.apis = tuple(
        dataclasses.replace(api, max_body={("PUT", f"{CONTROL}/state"): 1000})
        if api is control
        else api
        for api in apis
    )
    try:
        r = http.put(f"{CONTROL}/state", json={"loyalty.sessions": {"x" * 2000: {}}})
    finally:
        server.app.apis = apis
    assert (r.status_code, r.json()) == (
        413,
        {
            "error": "payload_too_large",
            "detail": "Request body too large: this call takes at most 1000 bytes",
        },
    )


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        ({"nope": {}}, "nope: unknown collection; expected one of: loyalty.accounts"),
        (
            {"loyalty.accounts": {"x": {"accountId": "x"}}},
            "loyalty.accounts.x: does not fit the collection's email index (KeyError: 'profile')",
        ),
        ({"loyalty.sessions": []}, "loyalty.sessions: []"),  # the path and the value: the
        ({"loyalty.sessions": {"a": 1}}, "loyalty.sessions.a: 1"),  # checker words the rest
        ([], "[]"),
    ],
)
def test_bad_state_is_refused_and_leaves_state_alone(
    http: httpx.Client, state: object, detail: str
) -> None:
    before = http.get(f"{CONTROL}/state").json()
    r = http.put(f"{CONTROL}/state", json=state)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "detail": r.json()["detail"]}
    assert detail in r.json()["detail"]
    assert http.get(f"{CONTROL}/state").json() == before


# --- config ---------------------------------------------------------------------------------


def test_config_is_each_vendors_fixture_config_and_the_seed(
    http: httpx.Client, server: EmulatorServer
) -> None:
    config = http.get(f"{CONTROL}/config").json()
    assert config["seed"] == 0
    assert config["loyalty"]["extendedData"] == {"dataSizeLimitKb": 5, "topLevelKeysLimit": 20}
    assert config["commerce"] == {
        "authEnabled": True,
        "tokenLifetimeSeconds": 300,  # docs/decisions.md#10: application keys 5 minutes,
        "userTokenLifetimeSeconds": 900,  # users 15
        "duplicateEmailsAllowed": False,  # the vendor's shopper profile configuration
    }
    assert set(config) == {"seed", *server.app.runtime.vendors}


def test_every_vendors_config_is_described_by_the_control_spec(http: httpx.Client) -> None:
    """A vendor that adds a config key must add it to Config in openapi/control.yaml too:
    PATCH is validated by that schema, and GET must conform to it."""
    from openapi_schema_validator import OAS30Validator

    from emulator.specs import load

    schema = load("control.yaml")["components"]["schemas"]["Config"]
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in OAS30Validator(schema).iter_errors(http.get(f"{CONTROL}/config").json())
    ]
    assert errors == []


def test_patch_config_deep_merges_and_takes_effect(http: httpx.Client) -> None:
    r = http.patch(
        f"{CONTROL}/config",
        json={
            "loyalty": {"extendedData": {"dataSizeLimitKb": 1}, "mandatoryFields": ["email"]},
            "commerce": {"authEnabled": False},
        },
    )
    assert r.status_code == 200
    config = r.json()
    assert config["loyalty"]["extendedData"] == {"dataSizeLimitKb": 1, "topLevelKeysLimit": 20}
    assert config["loyalty"]["mandatoryFields"] == ["email"]  # arrays are replaced
    assert config["commerce"] == {
        "authEnabled": False,
        "tokenLifetimeSeconds": 300,
        "userTokenLifetimeSeconds": 900,
        "duplicateEmailsAllowed": False,
    }
    assert http.get(f"{CONTROL}/config").json() == config
    assert http.get("/ccadmin/v1/profiles/se-570031").status_code == 200  # auth is off
    big = {"casl": True, "blob": "x" * 1100}
    r = http.put(
        LOYALTY_PROFILE,
        json={
            **{"email": "ada@example.com"},
            "extendedData": big,
            "extendedDataSource": "MARKETING",
        },
    )
    assert r.json()["errorMessage"].startswith("Invalid Extended data: Exceeded data size limit")


@pytest.mark.parametrize(
    ("patch", "detail"),
    [
        # jsonschema words the reason: only the field the emulator names is asserted
        (
            {"loyalty": {"extendedData": {"dataSizeLimitKb": "x"}}},
            "loyalty.extendedData.dataSizeLimitKb: ",
        ),
        (
            {"loyalty": {"extendedData": {"dataSizeLimitKb": 0}}},
            "loyalty.extendedData.dataSizeLimitKb: ",
        ),
        ({"commerce": {"authEnabled": "no"}}, "commerce.authEnabled: "),
        ({"commerce": {"tokenLifetimeSeconds": 1.5}}, "commerce.tokenLifetimeSeconds: "),
        ({"seed": "7"}, "seed: "),
        ({"loyalty": {"validSources": ["OK", ""]}}, "loyalty.validSources[1]: "),
        # the emulator's own words, whole
        (
            {"loyalty": {"foo": 1}},
            "loyalty.foo: unknown field; expected one of: extendedData, mandatoryFields, validSources",
        ),
        ({"shop": {}}, "shop: unknown field; expected one of: commerce, loyalty, seed"),
    ],
)
def test_bad_config_is_refused_naming_the_field(
    http: httpx.Client, patch: dict[str, object], detail: str
) -> None:
    before = http.get(f"{CONTROL}/config").json()
    r = http.patch(f"{CONTROL}/config", json=patch)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    if detail.endswith(": "):
        assert r.json()["detail"].startswith(detail) and len(r.json()["detail"]) > len(detail)
    else:
        assert r.json()["detail"] == detail
    assert http.get(f"{CONTROL}/config").json() == before


# --- reset and namespaces -------------------------------------------------------------------


def test_reset_restores_state_config_seed_rules_scenarios_and_journal(http: httpx.Client) -> None:
    seed_state = http.get(f"{CONTROL}/state").json()
    seed_config = http.get(f"{CONTROL}/config").json()
    http.post("/client/users/1000000002/sessions", json={"correlationId": "c-x", "channel": "APP"})
    http.patch(f"{CONTROL}/config", json={"seed": 9, "commerce": {"authEnabled": False}})
    http.post(f"{CONTROL}/faults", json={"delayMs": 1})
    http.put(f"{CONTROL}/scenarios/slow-vendor")
    assert http.post(f"{CONTROL}/reset").status_code == 204
    assert http.get(f"{CONTROL}/state").json() == seed_state
    assert http.get(f"{CONTROL}/config").json() == seed_config
    assert http.get(f"{CONTROL}/faults").json() == []
    assert not any(s["active"] for s in http.get(f"{CONTROL}/scenarios").json())
    assert http.get(f"{CONTROL}/requests").json()["count"] == 0


def test_several_namespaces_reset_in_one_call_and_none_made(server: EmulatorServer) -> None:
    """POST /_emulator/namespaces/reset (control.yaml): each namespace named is back to its
    seed; a name not in use stays unused; the caller's own namespace is not reset."""
    names = [f"batch-{n}" for n in range(3)]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for name in [*names, "batch-caller"]:
            ns = {"X-Emulator-Namespace": name}
            assert client.put(LOYALTY_PROFILE, json=VALID_UPDATE, headers=ns).status_code == 200
        r = client.post(
            f"{CONTROL}/namespaces/reset",
            json={"namespaces": [*names[:2], "batch-never-used"]},
            headers={"X-Emulator-Namespace": "batch-caller"},
        )
        assert (r.status_code, r.content) == (204, b"")
        in_use = {n["name"] for n in client.get(f"{CONTROL}/namespaces").json()}
        journal = {
            name: client.get(f"{CONTROL}/requests", headers={"X-Emulator-Namespace": name}).json()[
                "count"
            ]
            for name in [*names, "batch-caller"]
        }
    assert not in_use & {names[0], names[1], "batch-never-used"}
    assert {names[2], "batch-caller"} <= in_use
    assert journal == {names[0]: 0, names[1]: 0, names[2]: 1, "batch-caller": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"namespaces": ["bad name"]},  # the namespace header's pattern
        {"namespaces": ["x" * 65]},
        {"namespaces": "batch-1"},
        {},
        {"namespaces": [], "more": 1},
        {"namespaces": [f"n{i}" for i in range(1001)]},  # at most 1000
    ],
)
def test_a_batch_reset_of_what_is_no_namespace_list_is_refused(
    http: httpx.Client, body: dict
) -> None:
    r = http.post(f"{CONTROL}/namespaces/reset", json=body)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "invalid_request", "detail": r.json()["detail"]}


def test_a_batch_reset_over_its_body_cap_is_refused_unread(http: httpx.Client) -> None:
    body = b'{"namespaces": ["' + b"a" * 140_000 + b'"]}'  # control.yaml: 128 KiB at most
    r = http.post(
        f"{CONTROL}/namespaces/reset", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large", r.text


def test_reset_answers_at_once_and_frees_the_old_state_afterwards(
    server: EmulatorServer, http: httpx.Client, namespace: str
) -> None:
    for n in range(300):
        r = http.post(
            "/client/users",
            json={
                "firstName": "Ada",
                "lastName": "Lovelace",
                "dateOfBirth": "1990-01-01",
                "gender": "F",
                "postalZipCode": "H0H 0H0",
                "email": f"reset-{n}@example.com",
            },
        )
        assert r.status_code == 201
    old = server.app.runtime.namespace(namespace)
    assert len(old.store["loyalty.accounts"]) > 300
    freed = weakref.ref(old.store)
    del old
    assert http.post(f"{CONTROL}/reset").status_code == 204
    assert len(http.get(f"{CONTROL}/state").json()["loyalty.accounts"]) < 300  # fresh seed
    deadline = time.monotonic() + 10
    while freed() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert freed() is None  # the old state is not kept


@pytest.mark.slow  # a state large enough that a reset takes a while
def test_a_call_under_way_during_a_reset_answers_from_the_state_it_started_with(
    clocked: Clocked,
) -> None:
    http = clocked.http
    assert (
        http.post(
            f"{CONTROL}/faults", json={"match": {"operation": "getProfile"}, "delayMs": 400}
        ).status_code
        == 201
    )
    old = clocked.server.app.runtime.namespace(clocked.emu.namespace)
    slow = clocked.start("GET", LOYALTY_PROFILE)  # waits on the clock, inside the old state
    assert old.in_flight == 1
    freed = weakref.ref(old.store)
    del old
    assert http.post(f"{CONTROL}/reset").status_code == 204
    for _ in range(3):  # event-loop turns
        assert http.get(f"{CONTROL}/health").status_code == 200
    assert freed() is not None  # not freed under the slow call
    clocked.clock.advance(0.4)
    r = slow.result(timeout=10)
    assert r.status_code == 200 and r.json()["firstName"] == "Ada"
    deadline = time.monotonic() + 10
    while freed() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert freed() is None


def test_reset_and_every_control_call_act_on_the_callers_namespace_only(
    server: EmulatorServer, emu: Emulator
) -> None:
    with Emulator(server.url, emu.namespace + "-other") as other:
        other.inject(delay_ms=1)
        other.config(seed=3)
        other.activate("slow-vendor")
        emu.reset()
        assert len(other.rules()) == 2 and other.config()["seed"] == 3
        assert emu.rules() == [] and emu.config()["seed"] == 0
        other.reset()


def test_the_default_namespace_is_used_without_the_header(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url) as bare, Emulator(server.url) as default:
        default.clear_requests()
        bare.get(LOYALTY_PROFILE)
        assert len(default.requests()) >= 1


@pytest.mark.parametrize("name", ["a b", "x" * 65, "../etc", ""])
def test_a_bad_namespace_header_is_400(server: EmulatorServer, name: str) -> None:
    r = httpx.get(f"{server.url}{CONTROL}/faults", headers={"X-Emulator-Namespace": name})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


def test_control_paths_and_methods_outside_the_spec(http: httpx.Client) -> None:
    r = http.get(f"{CONTROL}/nothing-here")
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = http.post(f"{CONTROL}/health")
    assert (r.status_code, r.json()["error"], r.headers["allow"]) == (
        405,
        "method_not_allowed",
        "GET, HEAD",  # HEAD is served wherever GET is
    )
    r = http.post(f"{CONTROL}/faults/f-1")
    assert (r.status_code, r.headers["allow"]) == (405, "DELETE")
