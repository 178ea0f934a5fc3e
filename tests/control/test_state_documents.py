"""One schema: whatever the state schema admits, the handlers can use.

Documents are generated from the vendors' document schemas (the state schema PUT
/_emulator/state checks) by Schemathesis' generator, and restored over HTTP; then every read
and update of each must answer a status its spec declares for that operation, never a 500,
with a body the spec describes for that status, and the state the handlers leave reads back
and restores again (they write only what the schema admits). (hypothesis-jsonschema 0.23.1,
the latest, reaches into Hypothesis internals that Hypothesis 6.170 no longer has.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator
from schemathesis.config import SchemathesisConfig

from emulator import specs
from emulator.fixtures import FixtureError
from emulator.runtime import Runtime
from emulator.server import EmulatorServer
from emulator.state_schema import StateSchema
from emulator.vendors import VENDORS, loyalty
from emulator.vendors.base import Vendor

pytestmark = pytest.mark.slow

STATE = "/_emulator/state"
SCHEMAS = {name: dict(docs.schema) for v in VENDORS for name, docs in v.documents.items()}
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# What a client sends (openapi/loyalty.yaml's ProfileUpdate, openapi/commerce.yaml's
# ShippingAddressInput and RoleInput); the predefined OCC role functions.
MEMBER = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada.documents@example.com",
    "postalZipCode": "H0H 0H0",
}
ADDRESS = {
    "firstName": "Jack",
    "lastName": "Black",
    "address1": "405 Example Street",
    "city": "Wake Forest",
    "selectedCountry": "US",
    "selectedState": "NC",
    "postalCode": "27587",
}
FUNCTIONS = ["admin", "buyer", "approver", "accountAddressManager", "profileAddressManager"]
# Keys a path can carry as they are; ids near the counters' first numbers, so some are ids
# a counter would make.
SAFE = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
ACCOUNT_IDS = st.one_of(st.from_regex(r"\A100000[01][0-9]{3}\Z"), SAFE)
PROFILE_IDS = st.one_of(st.from_regex(r"\Ase-5701[0-9]{2}\Z"), SAFE)


def valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a JSON Schema: the body of an operation that takes them (OpenAPI 3.1, whose
    schemas are JSON Schema), as Schemathesis generates valid ones."""
    operation = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"204": {"description": "Taken."}},
    }
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "values", "version": "1"},
        "paths": {"/values": {"put": operation}},
    }
    config = SchemathesisConfig.from_dict({"generation": {"mode": "positive"}})
    api = schemathesis.openapi.from_dict(spec, config=config)
    return api["/values"]["PUT"].as_strategy().map(lambda case: case.body)


STRATEGIES = {collection: valid(schema) for collection, schema in SCHEMAS.items()}


def doc_of(collection: str) -> st.SearchStrategy[dict[str, Any]]:
    return STRATEGIES[collection]


def keyed(docs: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {doc[key]: doc for doc in docs}


@st.composite
def loyalty_states(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(ACCOUNT_IDS, min_size=1, max_size=3, unique=True))
    accounts = {i: {**draw(doc_of("loyalty.accounts")), "accountId": i} for i in ids}
    sessions = {
        f"s-{n}": {**draw(doc_of("loyalty.sessions")), "correlationId": f"s-{n}", "accountId": i}
        for n, i in enumerate(ids)
    }
    return {
        "loyalty.accounts": accounts,
        "loyalty.sessions": sessions,
        "loyalty.emdKeys": keyed(draw(st.lists(doc_of("loyalty.emdKeys"), max_size=3)), "key"),
        "loyalty.counters": {"accounts": draw(doc_of("loyalty.counters"))},
    }


@st.composite
def commerce_states(draw: st.DrawFn) -> dict[str, Any]:
    org_ids = draw(st.lists(SAFE, max_size=2, unique=True))
    orgs = {i: {**draw(doc_of("commerce.organizations")), "id": i} for i in org_ids}
    profiles = {}
    for i in draw(st.lists(PROFILE_IDS, min_size=1, max_size=2, unique=True)):
        profile = {**draw(doc_of("commerce.profiles")), "id": i}
        if org_ids and draw(st.booleans()):  # a B2B profile with roles in its organizations
            parent = draw(st.sampled_from(org_ids))
            profile["parentOrganization"] = parent
            profile["roles"] = [
                {
                    **role,
                    "function": draw(st.sampled_from(FUNCTIONS)),
                    "relativeTo": {"id": draw(st.sampled_from(org_ids))},
                }
                for role in profile["roles"] or [{"function": "approver", "repositoryId": "1"}]
            ]
        profiles[i] = profile
    applications = keyed(draw(st.lists(doc_of("commerce.applications"), max_size=2)), "key")
    counters = draw(st.fixed_dictionaries({name: doc_of("commerce.counters") for name in NAMES}))
    return {
        "commerce.profiles": profiles,
        "commerce.organizations": orgs,
        "commerce.applications": {**applications, "app": {"key": "app"}},
        "commerce.tokens": keyed(draw(st.lists(doc_of("commerce.tokens"), max_size=2)), "token"),
        "commerce.counters": counters,
    }


NAMES = ("profiles", "addresses", "roles", "loyalty", "tokens")  # commerce.counters' keys


class Contract:
    """One vendor spec's declared answers: the statuses of each operation (by path template
    and method) and the schema of each status's body."""

    def __init__(self, spec: str) -> None:
        self.spec = specs.shared(spec)
        self.base = self.spec["servers"][0]["url"]

    def check(self, r: httpx.Response, template: str, method: str) -> None:
        operation = self.spec["paths"][template][method]
        declared = {code for code in operation["responses"] if code.isdigit()}
        where = f"{method.upper()} {self.base}{template}"
        assert r.status_code != 500, f"{where}: {r.text}"
        assert str(r.status_code) in declared, f"{where}: {r.status_code} {r.text}"
        response = operation["responses"][str(r.status_code)]
        if "$ref" in response:
            response = self.spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            validator = OAS30Validator({**schema, "components": self.spec["components"]})
            errors = [e.message for e in validator.iter_errors(r.json())]
            assert not errors, f"{where}: {r.status_code} {errors[:3]}"


LOYALTY, COMMERCE = Contract("loyalty.yaml"), Contract("commerce.yaml")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """A server of this module's own (a test's namespace is not a hypothesis example's)."""
    with (
        EmulatorServer() as server,
        httpx.Client(
            base_url=server.url, headers={"X-Emulator-Namespace": f"d-{uuid.uuid4().hex[:8]}"}
        ) as http,
    ):
        yield http


def restored(http: httpx.Client, state: dict[str, Any]) -> None:
    r = http.put(STATE, json=state)
    assert r.status_code == 204, r.text  # the state schema admitted every document


def round_trips(http: httpx.Client) -> None:
    """What the handlers left is state the schema admits: it restores as it reads."""
    restored(http, http.get(STATE).json())


@given(state=loyalty_states())
@EXAMPLES
def test_loyalty_documents_the_schema_admits_are_usable(
    client: httpx.Client, state: dict[str, Any]
) -> None:
    restored(client, state)
    call = calls(client, LOYALTY)
    for n, account in enumerate(state["loyalty.accounts"].values()):
        profile = f"/users/s-{n}/profile"
        call("get", profile, "/users/{correlation_id}/profile")
        call("get", f"{profile}/emd", "/users/{correlation_id}/profile/emd")
        for source in account["emd"]:
            query = f"?extendedDataSource={quote(source, safe='')}"
            call("get", f"{profile}/emd{query}", "/users/{correlation_id}/profile/emd")
        body = {**MEMBER, "extendedDataSource": "MARKETING", "extendedData": {"casl": True}}
        call("put", profile, "/users/{correlation_id}/profile", json=body)
        call("put", profile, "/users/{correlation_id}/profile", json=account["profile"])
        for kind, value in identifiers(account):
            call(
                "post",
                f"/users/{quote(value, safe='')}/sessions",
                "/users/{identifier}/sessions",
                json={"correlationId": f"new-{n}", "channel": "WEB"},
                headers={"X-Identifier-Type": kind},
            )
    call("post", "/users", "/users", json={**MEMBER, "email": "new.documents@example.com"})
    round_trips(client)


def identifiers(account: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The identifiers an account can open a session by that a path carries as they are."""
    values = {
        "ACCOUNT_ID": account["accountId"],
        "LOYALTY_ID": account["loyaltyId"],
        "EXTERNAL_ID": account.get("externalId"),
        "EMAIL": account["profile"].get("email"),
        "PHONE_NUMBER": account["profile"].get("phoneNumber"),
    }
    for kind, value in values.items():
        if isinstance(value, str) and value.strip() and value.isascii() and value.isalnum():
            yield kind, value


@given(state=commerce_states())
@EXAMPLES
def test_commerce_documents_the_schema_admits_are_usable(
    client: httpx.Client, state: dict[str, Any]
) -> None:
    restored(client, state)
    call = calls(client, COMMERCE)
    login = {"grant_type": "client_credentials"}
    r = call("post", "/login", "/login", data=login, headers={"Authorization": "Bearer app"})
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    one = "/profiles/{profile_id}"
    for key, profile in state["commerce.profiles"].items():
        path = f"/profiles/{key}"
        call("get", path, one, headers=token)
        resent = {
            "roles": [
                {k: v for k, v in r.items() if k != "repositoryId"} for r in profile["roles"]
            ],
            "loyaltyPrograms": profile["loyaltyPrograms"],
            "shippingAddresses": [*profile["shippingAddresses"], ADDRESS],
        }
        for body in (
            {"firstName": "Quinn"},
            resent,
            {"shippingAddresses": [{**ADDRESS, "isDefaultAddress": True}]},
            {"shippingAddress": {}, "roles": [{"function": "buyer"}]},
            {"active": False},
        ):
            call("put", path, one, json=body, headers=token)
        if isinstance(profile["email"], str) and isinstance(profile.get("password"), str):
            form = {"grant_type": "password", "username": profile["email"]}
            call("post", "/login", "/login", data={**form, "password": profile["password"]})
    new = {"firstName": "Pat", "lastName": "Example", "email": "pat.documents@example.com"}
    call(
        "post",
        "/profiles",
        "/profiles",
        json={**new, "shippingAddresses": [ADDRESS]},
        headers=token,
    )
    call("post", "/refresh", "/refresh", headers=token)
    round_trips(client)


def calls(http: httpx.Client, contract: Contract) -> Callable[..., httpx.Response]:
    def call(method: str, path: str, template: str, **kwargs: Any) -> httpx.Response:
        r = http.request(method, f"{contract.base}{path}", **kwargs)
        contract.check(r, template, method)
        return r

    return call


STATE_SCHEMA = StateSchema(
    {name: indexes for v in VENDORS for name, indexes in v.collections.items()},
    {name: docs for v in VENDORS for name, docs in v.documents.items()},
)


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_a_seed_the_fixture_schema_admits_is_state_the_handlers_can_use(vendor: Vendor) -> None:
    """A fixture file's seed is restored as a snapshot is: it passes the same state schema
    (so it reads back and restores, and the handlers can use it)."""

    @given(fixture=valid(dict(vendor.fixture_schema)))
    @EXAMPLES
    def seeds(fixture: dict[str, Any]) -> None:
        assume(writable(fixture))  # JSON's own limits: tested apart, below
        state, _ = vendor.load_fixtures(fixture)
        STATE_SCHEMA.check(state)

    seeds()


def writable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def test_a_seed_json_cannot_write_back_stops_the_start_naming_file_and_path(
    tmp_path: Path,
) -> None:
    """YAML reads 2**64 as an integer; JSON (GET /_emulator/state, the data file) cannot
    write it: the start stops naming the fixture file and the field."""
    (tmp_path / "loyalty.yaml").write_text(
        "accounts:\n"
        "  - accountId: '1'\n"
        "    loyaltyId: '2'\n"
        "    profile: {}\n"
        f"    extendedData: {{MARKETING: {{points: {2**64}}}}}\n"
    )
    with pytest.raises(FixtureError) as raised:
        Runtime([loyalty.VENDOR], tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'loyalty.yaml'}: loyalty.accounts.1: ")
