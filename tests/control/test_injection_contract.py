"""Injected errors stay inside the vendor contract (docs/decisions.md#11, #12, #13), over HTTP.

Expected bodies are the specs' own examples (openapi/*.yaml, read here with a YAML parser
of the test's own), never the emulator's catalogue.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator.client import Emulator, EmulatorError
from emulator.server import EmulatorServer
from tests.control.conftest import (
    APP_KEY,
    COMMERCE_PROFILE,
    LOYALTY_PROFILE,
    VALID_UPDATE,
    commerce_token,
    raw_request,
    wait_for,
)

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"
METHODS = ("get", "put", "post", "delete", "patch")


def spec_operations(name: str) -> list[str]:
    """The operationIds a spec declares (the spec is the list of operations)."""
    spec = yaml.safe_load((OPENAPI / name).read_text(encoding="utf-8"))
    return [
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]


def spec_examples(name: str) -> list[tuple[str, int, str, dict[str, Any]]]:
    """(operationId, status, example name, body) of every JSON error example in a spec."""
    spec = yaml.safe_load((OPENAPI / name).read_text(encoding="utf-8"))

    def deref(node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    found = []
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for status, response in operation["responses"].items():
                if not str(status).isdigit() or int(status) < 400:
                    continue
                media = deref(response).get("content", {}).get("application/json", {})
                named = dict(media.get("examples", {}))
                if "example" in media:
                    named["example"] = {"value": media["example"]}
                for key, example in named.items():
                    found.append(
                        (operation["operationId"], int(status), key, deref(example)["value"])
                    )
    return found


EXAMPLES = [("loyalty", *e) for e in spec_examples("loyalty.yaml")] + [
    ("commerce", *e) for e in spec_examples("commerce.yaml")
]


def valid_call(http: httpx.Client, api: str, operation: str) -> httpx.Response:
    """A call of `operation` that passes every check of the vendor (with no rule, a 2xx)."""
    if api == "loyalty":
        if operation == "enrollMember":
            return http.post(
                "/client/users",
                json={**VALID_UPDATE, "email": f"{uuid.uuid4().hex[:12]}@example.com"},
            )
        if operation == "startSession":
            return http.post(
                "/client/users/1000000002/sessions",
                json={"correlationId": "c-valid", "channel": "WEBSITE"},
            )
        if operation == "updateProfile":
            return http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
        return http.get(LOYALTY_PROFILE + ("/emd" if operation == "getExtendedData" else ""))
    if operation == "login":
        return http.post(
            "/ccadmin/v1/login",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Bearer {APP_KEY}"},
        )
    bearer = {"Authorization": f"Bearer {commerce_token(http)}"}
    if operation == "refresh":
        return http.post("/ccadmin/v1/refresh", headers=bearer)
    if operation == "createProfile":
        return http.post(
            "/ccadmin/v1/profiles",
            headers=bearer,
            json={
                "firstName": "Sam",
                "lastName": "Shopper",
                "email": f"{uuid.uuid4().hex[:12]}@example.com",
            },
        )
    if operation == "updateProfile":
        return http.put(COMMERCE_PROFILE, headers=bearer, json={"firstName": "Kim"})
    if operation == "listProfiles":
        return http.get("/ccadmin/v1/profiles", headers=bearer, params={"q": "email pr"})
    hook = "/ccadmin/v1/webhooks/production-updateProfile"
    if operation == "getWebHooks":
        return http.get("/ccadmin/v1/webhooks", headers=bearer)
    if operation == "getWebHook":
        return http.get(hook, headers=bearer)
    if operation == "updateWebHook":
        return http.put(hook, headers=bearer, json={"urls": []})
    failed = "/ccadmin/v1/webhookFailedMessages"
    if operation == "getFailedMessages":
        return http.get(failed, headers=bearer)
    if operation in ("getFailedMessage", "updateFailedMessage", "deleteFailedMessage"):
        message = f"{failed}/{failed_message(http, bearer)}"
        if operation == "getFailedMessage":
            return http.get(message, headers=bearer)
        if operation == "updateFailedMessage":
            return http.put(message, headers=bearer, json={"resend": False})
        return http.delete(message, headers=bearer)
    return http.get(COMMERCE_PROFILE, headers=bearer)


def failed_message(http: httpx.Client, bearer: dict[str, str]) -> str:
    """The id of a failed webhook message of the namespace, made if there is none: one
    attempt at a loopback port that refuses ("Manage failed webhook calls")."""
    failed = "/ccadmin/v1/webhookFailedMessages"
    items = http.get(failed, headers=bearer).json()["items"]
    if not items:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            refused = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        http.put(
            "/_emulator/webhooks/production-updateProfile",
            json={"url": refused, "secret": "s", "maxNumberOfResendAttempts": 1},
        )
        http.put(COMMERCE_PROFILE, headers=bearer, json={"firstName": "Kim"})
        wait_for(lambda: http.get(failed, headers=bearer).json()["items"])
        items = http.get(failed, headers=bearer).json()["items"]
    return str(items[0]["id"])


@pytest.fixture(scope="module")
def catalogue(server: EmulatorServer) -> list[dict[str, Any]]:
    return httpx.get(f"{server.url}/_emulator/errors").json()


@pytest.mark.parametrize(
    ("api", "operation", "status", "example", "body"),
    EXAMPLES,
    ids=[f"{a}.{o}-{s}-{e}" for a, o, s, e, _ in EXAMPLES],
)
def test_every_documented_error_is_injected_on_each_operation_documenting_it(
    emu: Emulator,
    http: httpx.Client,
    catalogue: list[dict[str, Any]],
    api: str,
    operation: str,
    status: int,
    example: str,
    body: dict[str, Any],
) -> None:
    names = [
        e["name"]
        for e in catalogue
        if e["name"].startswith(f"{api}.") and (e["status"], e["body"]) == (status, body)
    ]
    if not names:
        pytest.skip("an example with values of its own (no catalogue entry sends it as is)")
    emu.inject(error=names[0], operation=operation, times=1)
    r = valid_call(http, api, operation)
    assert (r.status_code, r.json()) == (status, body)
    entry = emu.requests(operation=operation)[-1]
    assert (entry["status"], entry["rule"]) == (status, "f-1")
    assert valid_call(http, api, operation).is_success  # times: 1, then the vendor answers


def test_an_error_of_one_api_never_fires_on_the_other(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="commerce.22001", operation="getProfile")
    r = http.get(LOYALTY_PROFILE)
    assert r.status_code == 200 and "errorCode" not in r.json()
    r = valid_call(http, "commerce", "getProfile")
    assert (r.status_code, r.json()["errorCode"]) == (500, "22001")


def test_an_error_naming_no_operation_fires_only_where_its_spec_documents_it(
    emu: Emulator, http: httpx.Client
) -> None:
    """The README's own `inject(error="loyalty.EMAIL_ALREADY_EXISTS")`."""
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS")
    assert valid_call(http, "commerce", "updateProfile").status_code == 200
    assert valid_call(http, "loyalty", "startSession").status_code == 201
    assert valid_call(http, "loyalty", "getProfile").status_code == 200
    r = valid_call(http, "loyalty", "updateProfile")
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "EMAIL_ALREADY_EXISTS",
            "errorMessage": "Sorry, that email address is already in use",
        },
    )  # the seed's error table, to the character
    assert [rule["matched"] for rule in emu.rules()] == [1]


@pytest.mark.parametrize(
    ("rule", "detail"),
    [
        (
            {"error": "loyalty.EMAIL_ALREADY_EXISTS", "match": {"operation": "startSession"}},
            "error: loyalty.EMAIL_ALREADY_EXISTS is not a response of loyalty startSession in its spec "
            "(documented for: enrollMember, updateProfile)",
        ),
        (
            {
                "error": "loyalty.EMAIL_ALREADY_EXISTS",
                "match": {"api": "commerce", "operation": "login"},
            },
            "match.api: loyalty.EMAIL_ALREADY_EXISTS is an error of the loyalty API, not of commerce",
        ),
        (
            {"error": "loyalty.EMAIL_ALREADY_EXISTS", "match": {"operation": "login"}},
            "match.operation: the loyalty API has no operation 'login'",
        ),
        (
            {"fault": "timeout", "match": {"api": "loyalty", "operation": "login"}},
            "match.operation: the loyalty API has no operation 'login'",
        ),
        (
            {"respond": {"status": 503}, "match": {"operation": "updateProfil"}},
            "match.operation: no API has an operation 'updateProfil' (operations: "
            f"{', '.join(sorted({*spec_operations('loyalty.yaml'), *spec_operations('commerce.yaml')}))}); "
            "did you mean updateProfile",
        ),
        (
            {"error": "loyalty.RESOURCE_NOT_FOUND"},
            "error: loyalty.RESOURCE_NOT_FOUND is not a response of any loyalty operation in its spec",
        ),
        ({"respond": {"status": 100}}, "respond.status: "),  # the reason is jsonschema's (a bound)
        (
            {"respond": {"status": 204, "body": {"a": 1}}},
            "respond.body: a 204 response has no body",
        ),
        ({"respond": {"status": 304, "body": None}}, "respond.body: a 304 response has no body"),
        ({"fault": "timeout", "stage": "checked"}, "stage: transport faults act on arrival"),
    ],
)
def test_rules_outside_the_contract_are_refused(
    http: httpx.Client, rule: dict[str, Any], detail: str
) -> None:
    r = http.post("/_emulator/faults", json=rule)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"
    if detail.endswith(": "):  # only the field the emulator names, then jsonschema's words
        assert r.json()["detail"].startswith(detail) and len(r.json()["detail"]) > len(detail)
    else:
        assert detail in r.json()["detail"]
    assert http.get("/_emulator/faults").json() == []


def test_a_204_goes_out_without_content(server: EmulatorServer, emu: Emulator) -> None:
    emu.inject(respond={"status": 204}, operation="getProfile", stage="arrival")
    raw = raw_request(
        server.port,
        (
            f"GET {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: "
            f"{emu.namespace}\r\nConnection: close\r\n\r\n"
        ).encode(),
    )
    head, _, content = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204")
    assert b"content-length" not in head.lower() and b"transfer-encoding" not in head.lower()
    assert content == b""


# --- where a rule acts (docs/decisions.md#11) ---------------------------------------------------


def commerce_example(name: str) -> dict[str, Any]:
    spec = yaml.safe_load((OPENAPI / "commerce.yaml").read_text(encoding="utf-8"))
    return spec["components"]["examples"][name]["value"]


def test_a_call_without_a_token_gets_401_whatever_rule_waits(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.activate("commerce-internal-error")
    r = http.get(COMMERCE_PROFILE)
    assert (r.status_code, r.json()) == (401, commerce_example("Error401AuthorizationRequired"))
    assert [rule["matched"] for rule in emu.rules()] == [0, 0]  # nothing spent on the 401
    r = valid_call(http, "commerce", "getProfile")
    assert (r.status_code, r.json()) == (500, commerce_example("Error22001ProfileReadFailed"))


def test_malformed_json_and_blank_ids_get_their_own_errors_whatever_rule_waits(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.activate("loyalty-email-taken")
    r = http.put(
        "/client/users/%20/profile",
        content=b'{"firstName": ',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["errorCode"] == "INVALID_REQUEST"
    assert r.json()["errorMessage"].startswith("Invalid request: Malformed JSON")
    r = http.put("/client/users/%20/profile", json=VALID_UPDATE)
    assert (r.status_code, r.json()) == (
        400,
        {  # the seed's error table, to the character
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Must provide a session correlation ID",
        },
    )
    r = http.put("/client/users/no-such-session/profile", json=VALID_UPDATE)
    assert r.status_code == 404
    r = http.put(LOYALTY_PROFILE, json={"firstName": "Ada", "lastName": "Lovelace"})
    assert r.json()["errorMessage"] == (
        "The following missing fields are mandatory: dateOfBirth gender email postalCode"
    )  # seed 000
    r = http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    assert (r.status_code, r.json()["errorCode"]) == (400, "EMAIL_ALREADY_EXISTS")
    assert emu.rules()[0]["matched"] == 1


def test_stage_arrival_answers_before_any_check(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(
        respond={"status": 503, "headers": {"Retry-After": "1"}},
        operation="getProfile",
        api="commerce",
        stage="arrival",
    )
    assert http.get(COMMERCE_PROFILE).status_code == 503  # no token: the outage answers first
    assert emu.rules()[0]["stage"] == "arrival"


def test_a_waiting_rule_is_spent_only_by_a_call_that_passed_the_checks(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="commerce.22001", operation="updateProfile", times=1)
    assert http.put(COMMERCE_PROFILE, json={"firstName": "Kim"}).status_code == 401
    r = http.put(
        COMMERCE_PROFILE,
        json={"firstName": 123},
        headers={"Authorization": f"Bearer {commerce_token(http)}"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {  # seed 002: {0}({1}) must be a String
            "errorCode": "22024",
            "message": "firstName(123) must be a String",
            "status": "400",
        },
    )
    assert emu.rules()[0]["fired"] == 0
    assert valid_call(http, "commerce", "updateProfile").status_code == 500
    assert emu.rules()[0]["spent"] is True


def test_a_rule_waiting_for_the_checks_never_keeps_a_transport_fault_from_arrival(
    server: EmulatorServer, emu: Emulator
) -> None:
    emu.inject(error="loyalty.SERVICE_UNAVAILABLE", probability=0)
    emu.inject(fault="connection_reset")
    request = (
        f"GET /client/users/%20/profile HTTP/1.1\r\nHost: emulator\r\n"
        f"X-Emulator-Namespace: {emu.namespace}\r\nConnection: close\r\n\r\n"
    ).encode()
    with pytest.raises(ConnectionResetError):  # a call the vendor refuses is dropped all the same
        raw_request(server.port, request)
    assert [rule["matched"] for rule in emu.rules()] == [0, 1]


def test_a_latency_scenario_in_front_never_hides_a_tests_own_error(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile")
    emu.activate("slow-vendor")
    r = http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    assert (r.status_code, r.json()["errorCode"]) == (400, "EMAIL_ALREADY_EXISTS")
    assert [(rule["id"], rule["fired"]) for rule in emu.rules()] == [
        ("s-slow-vendor-1", 1),
        ("f-1", 1),
    ]


# --- probability is part of matching (docs/decisions.md#13) --------------------------------------


def test_a_scenarios_failed_draw_lets_a_tests_own_rule_fire(
    server: EmulatorServer, emu: Emulator
) -> None:
    emu.activate("connection-drops")
    mine = emu.inject(fault="connection_reset", times=1)
    request = (
        f"GET {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: "
        f"{emu.namespace}\r\nConnection: close\r\n\r\n"
    ).encode()
    resets = 0
    for _ in range(20):
        try:
            raw_request(server.port, request)
        except ConnectionResetError:
            resets += 1
        rules = {rule["id"]: rule for rule in emu.rules()}
        if rules[mine]["fired"]:
            break
    scenario, own = rules["s-connection-drops-1"], rules[mine]
    assert (own["fired"], own["spent"]) == (1, True)
    assert resets == scenario["fired"] + 1
    assert wait_for(lambda: emu.requests()[-1]["fault"] == "connection_reset")


# --- the spec refuses what it can express (item 6) -------------------------------------------


def test_a_session_the_spec_refuses_is_never_stored(http: httpx.Client) -> None:
    r = http.post(
        "/client/users/1000000002/sessions",
        json={"correlationId": "c-null", "channel": "WEBSITE", "externalAgentSessionId": None},
    )
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_REQUEST")
    assert http.get("/client/users/c-null/profile").status_code == 404


def test_an_enrolment_the_spec_refuses_is_never_stored(http: httpx.Client) -> None:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    r = http.post("/client/users", json={**VALID_UPDATE, "email": email, "externalId": None})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_REQUEST")
    r = http.post("/client/users", json={**VALID_UPDATE, "email": email})
    assert r.status_code == 201  # the email was not taken by the refused enrolment


def test_client_error_names_the_contract(emu: Emulator) -> None:
    with pytest.raises(EmulatorError) as caught:
        emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="startSession")
    assert caught.value.status == 400 and "documented for" in caught.value.detail
