"""The shipped scenarios (fixtures/scenarios/): each one observed by a client, each inside
the vendor specs; scenario files validated at start-up; names that cannot leave the folder."""

from __future__ import annotations

import functools
import math
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from emulator.app import FIXTURES_DIR, OPENAPI_DIR, create_app
from emulator.cli import main as cli_main
from emulator.client import Emulator
from emulator.fixtures import FixtureError
from emulator.rules import FaultRule
from emulator.server import EmulatorServer
from emulator.vendors import VENDORS
from tests.control.conftest import (
    COMMERCE_PROFILE,
    LOYALTY_PROFILE,
    VALID_UPDATE,
    Clocked,
    commerce_token,
    raw_request,
)

SHIPPED = sorted(path.stem for path in (FIXTURES_DIR / "scenarios").glob("*.yaml"))
CATALOGUE = {
    f"{vendor.name}.{name}": error for vendor in VENDORS for name, error in vendor.errors.items()
}


def test_the_shipped_set() -> None:
    assert SHIPPED == [
        "commerce-internal-error",
        "commerce-timeout",
        "commerce-token-expired",
        "connection-drops",
        "loyalty-email-taken",
        "loyalty-flaky",
        "loyalty-rate-limited",
        "loyalty-unstable",
        "slow-vendor",
    ]


# --- each shipped scenario, as a client sees it ---------------------------------------------


@pytest.fixture
def scenario(emu: Emulator) -> Callable[[str], None]:
    return emu.activate


def test_loyalty_email_taken(scenario: Callable[[str], None], http: httpx.Client) -> None:
    scenario("loyalty-email-taken")
    for email in ("new@example.com", "other@example.com"):
        r = http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "email": email})
        assert (r.status_code, r.json()) == (
            400,
            {
                "statusCode": 400,
                "errorCode": "EMAIL_ALREADY_EXISTS",
                "errorMessage": "Sorry, that email address is already in use",
            },
        )
    assert http.get(LOYALTY_PROFILE).status_code == 200


def test_loyalty_flaky_503_with_retry_after_then_success(
    scenario: Callable[[str], None], http: httpx.Client
) -> None:
    scenario("loyalty-flaky")
    for _ in range(2):
        r = http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
        assert (r.status_code, r.headers["retry-after"], r.json()) == (
            503,
            "1",
            dict(CATALOGUE["loyalty.SERVICE_UNAVAILABLE"].body),
        )
    r = http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    assert (r.status_code, r.json()) == (200, {"debugMessage": "Profile Updated"})


def test_loyalty_rate_limited_three_429s(
    scenario: Callable[[str], None], http: httpx.Client
) -> None:
    scenario("loyalty-rate-limited")
    calls = [
        lambda: http.get(LOYALTY_PROFILE),
        lambda: http.get(f"{LOYALTY_PROFILE}/emd"),
        lambda: http.put(LOYALTY_PROFILE, json=VALID_UPDATE),
    ]
    for call in calls:
        r = call()
        assert (r.status_code, r.headers["retry-after"], r.json()) == (
            429,
            "2",
            dict(CATALOGUE["loyalty.RATE_LIMITED"].body),
        )
    assert [call().status_code for call in calls] == [200, 200, 200]


def test_loyalty_unstable_one_call_in_ten_from_the_seed(emu: Emulator, http: httpx.Client) -> None:
    emu.config(seed=5)
    emu.activate("loyalty-unstable")
    statuses = [http.get(LOYALTY_PROFILE).status_code for _ in range(60)]
    rng = random.Random(5)
    assert statuses == [503 if rng.random() < 0.1 else 200 for _ in range(60)]
    assert 0 < statuses.count(503) < 20


def test_commerce_token_expired_once_then_a_new_login_gets_through(
    scenario: Callable[[str], None], http: httpx.Client
) -> None:
    scenario("commerce-token-expired")
    token = commerce_token(http)  # logging in is never refused
    r = http.get(COMMERCE_PROFILE, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()) == (401, dict(CATALOGUE["commerce.UNAUTHORIZED"].body))
    token = commerce_token(http)
    r = http.get(COMMERCE_PROFILE, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["id"]) == (200, "se-570031")


def test_commerce_internal_error_22001(scenario: Callable[[str], None], http: httpx.Client) -> None:
    scenario("commerce-internal-error")
    auth = {"Authorization": f"Bearer {commerce_token(http)}"}
    expected = (
        500,
        {
            "errorCode": "22001",
            "message": "An internal error occurred while getting the profile.",
            "status": "500",
        },
    )
    r = http.get(COMMERCE_PROFILE, headers=auth)
    assert (r.status_code, r.json()) == expected
    r = http.put(COMMERCE_PROFILE, headers=auth, json={"firstName": "Kim"})
    assert (r.status_code, r.json()) == expected


def test_commerce_timeout_once(
    scenario: Callable[[str], None], http: httpx.Client, server: EmulatorServer
) -> None:
    scenario("commerce-timeout")
    auth = {"Authorization": f"Bearer {commerce_token(http)}", **http.headers}
    with pytest.raises(httpx.ReadTimeout):
        httpx.put(
            f"{server.url}{COMMERCE_PROFILE}", headers=auth, json={"firstName": "Kim"}, timeout=0.5
        )
    r = http.put(COMMERCE_PROFILE, headers=auth, json={"firstName": "Kim"})
    assert r.status_code == 200


def test_slow_vendor_lognormal_latency_from_the_seed(clocked: Clocked) -> None:
    clocked.emu.config(seed=3)
    clocked.emu.activate("slow-vendor")
    rng = random.Random(3)
    for _ in range(3):
        expected = min(250 * math.exp(0.5 * rng.gauss(0, 1)), 2000) / 1000
        call = clocked.start("GET", LOYALTY_PROFILE)
        assert clocked.clock.asked[-1] == pytest.approx(expected)
        clocked.clock.advance(clocked.clock.asked[-1])
        assert call.result(timeout=10).status_code == 200


def test_connection_drops_one_call_in_five_from_the_seed(emu: Emulator, http: httpx.Client) -> None:
    emu.config(seed=8)
    emu.activate("connection-drops")
    rng = random.Random(8)
    expected = [rng.random() < 0.2 for _ in range(25)]
    outcome = []
    for _ in expected:
        try:
            http.get(LOYALTY_PROFILE)
            outcome.append(False)
        except httpx.ReadError:  # the pool opens a new connection for the next call
            outcome.append(True)
    assert outcome == expected and any(outcome)


# --- inside the contract --------------------------------------------------------------------


@functools.cache
def _spec(api: str) -> dict[str, Any]:
    vendor = next(v for v in VENDORS if v.name == api)
    return yaml.safe_load((OPENAPI_DIR / vendor.spec).read_text(encoding="utf-8"))


def _operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op
        for item in spec["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


def _response(
    spec: dict[str, Any], operation: dict[str, Any], status: int
) -> dict[str, Any] | None:
    response = operation["responses"].get(str(status)) or operation["responses"].get("default")
    if response is not None and "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _conforms(spec: dict[str, Any], response: dict[str, Any], body: Any) -> bool:
    schema = response["content"]["application/json"]["schema"]
    return OAS30Validator({**schema, "components": spec["components"]}).is_valid(body)


def _answers(rule: FaultRule) -> tuple[int, dict[str, str], Any] | None:
    if rule.error is not None:
        error = CATALOGUE[rule.error].filled_example()
        return error.status, dict(error.headers), dict(error.body)
    if rule.respond is not None:
        return rule.respond["status"], rule.respond.get("headers", {}), rule.respond.get("body")
    return None


SHIPPED_RULES = [
    (name, n, rule)
    for name in SHIPPED
    for n, rule in enumerate(
        create_app().runtime.scenarios[name].parse_rules(known_errors=CATALOGUE)
    )
]


@pytest.mark.parametrize(
    ("name", "n", "rule"), SHIPPED_RULES, ids=[f"{name}[{n}]" for name, n, _ in SHIPPED_RULES]
)
def test_shipped_scenarios_answer_inside_the_vendor_specs(
    name: str, n: int, rule: FaultRule
) -> None:
    """Every operation a rule can match documents the status, headers and body it sends."""
    answer = _answers(rule)
    if answer is None:
        return  # a delay or a transport fault: no HTTP answer to check
    status, headers, body = answer
    apis = [rule.match.api] if rule.match.api else [v.name for v in VENDORS]
    for api in apis:
        spec = _spec(api)
        operations = _operations(spec)
        for operation_id in [rule.match.operation] if rule.match.operation else operations:
            response = _response(spec, operations[operation_id], status)
            assert response is not None, f"{api}.{operation_id} does not document {status}"
            assert _conforms(spec, response, body), f"{api}.{operation_id} {status}: {body}"
            for header in headers:
                assert header in response.get("headers", {}), (
                    f"{api}.{operation_id} {status}: {header}"
                )


def test_every_catalogue_error_is_documented_by_its_vendors_spec() -> None:
    """Each error has a status and body that some operation of its vendor documents. A 405
    is the exception by nature: it answers a method the spec does not declare."""
    undocumented = []
    for name, error in CATALOGUE.items():
        api = name.partition(".")[0]
        spec = _spec(api)
        filled = error.filled_example()
        if filled.status == 405:
            continue
        if not any(
            (response := _response(spec, op, filled.status)) is not None
            and _conforms(spec, response, dict(filled.body))
            for op in _operations(spec).values()
        ):
            undocumented.append(name)
    assert undocumented == []


# --- loading scenario files -----------------------------------------------------------------


@pytest.fixture
def fixtures(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, folder)
    yield folder


def test_a_bad_scenario_file_fails_start_up_naming_file_and_field(
    fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = fixtures / "scenarios" / "broken.yaml"
    bad.write_text(
        "name: broken\ndescription: x\nrules:\n  - fault: timeout\n  - delay: {uniform: [9, 1]}\n"
    )
    with pytest.raises(FixtureError) as caught:
        create_app(fixtures)
    assert (
        str(caught.value)
        == f"{bad}: rules[1].delay.uniform: lower bound 9 is greater than upper bound 1"
    )
    assert cli_main(["serve", "--fixtures", str(fixtures), "--port", "1"]) == 2
    assert f"{bad}: rules[1].delay.uniform" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: other\ndescription: x\nrules: []\n",
            "name: 'other' must equal the file name 'broken'",
        ),
        ("name: broken\nrules: []\n", "description: required field is missing"),
        (
            "name: broken\ndescription: x\nrules: [{error: loyalty.NOPE}]\n",
            "rules[0].error: unknown error",
        ),
        ("!!python/object/apply:os.system ['touch /tmp/pwned']\n", "not valid YAML"),
    ],
)
def test_scenario_files_are_validated(fixtures: Path, text: str, message: str) -> None:
    (fixtures / "scenarios" / "broken.yaml").write_text(text)
    with pytest.raises(FixtureError, match=r"broken\.yaml: "):
        create_app(fixtures)
    with pytest.raises(FixtureError) as caught:
        create_app(fixtures)
    assert message in str(caught.value)


def test_a_scenario_naming_a_vendor_this_server_lacks_loads_but_cannot_be_activated(
    fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emulator.app

    loyalty_only = tuple(v for v in VENDORS if v.name == "loyalty")
    monkeypatch.setattr(emulator.app, "VENDORS", loyalty_only)
    with EmulatorServer(fixtures) as small, Emulator(small.url) as emulator:
        assert "commerce-internal-error" in [s["name"] for s in emulator.scenarios()]
        r = httpx.put(f"{small.url}/_emulator/scenarios/commerce-internal-error")
        assert r.status_code == 400
        assert "rules[0].error: unknown error 'commerce.22001'" in r.json()["detail"]
        emulator.activate("loyalty-flaky")


def test_scenario_names_cannot_reach_outside_the_folder(fixtures: Path) -> None:
    secret = fixtures / "secret.yaml"  # a valid scenario one level up, outside scenarios/
    secret.write_text("name: secret\ndescription: outside\nrules: [{fault: timeout}]\n")
    with EmulatorServer(fixtures) as running:
        for path in (
            "..%2Fsecret",
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e",
            "..",
            "%2Fetc%2Fpasswd",
            "secret",
            "loyalty-flaky.yaml",
            "loyalty-flaky%00",
            "..%5Csecret",
        ):
            raw = raw_request(
                running.port,
                f"PUT /_emulator/scenarios/{path} HTTP/1.1\r\n"
                "Host: x\r\nConnection: close\r\n\r\n".encode(),
            )
            status = int(raw.split(b" ", 2)[1])
            assert status in (400, 404), (path, raw)
        assert httpx.get(f"{running.url}/_emulator/faults").json() == []
