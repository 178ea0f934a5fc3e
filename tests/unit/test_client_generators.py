"""Partner teams generate their clients from the specs: openapi-python-client (Python) and
openapi-typescript (types for TypeScript) read every operation of every spec, type every
documented string field, and the generated Python client sends seed 002's sample request
to a live emulator and gets the documented answer (docs/decisions.md#14).

openapi-typescript comes from tools/setup-openapi-typescript.sh (`python3 dev.py test` runs
it first); without it its half skips, except under CI, where it fails.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_python_client.strings import snake_case

from emulator import specs
from emulator.server import EmulatorServer
from emulator.specs import OPENAPI_DIR
from tests.seeds import COMMERCE, seed_text
from tests.vendors.test_commerce_seed_sample import REQUEST_MARK, RESPONSE_MARK, _json_after

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPECS = ("commerce", "loyalty", "control")
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
TYPESCRIPT = ROOT / "tools" / "openapi-typescript" / "node_modules" / ".bin" / "openapi-typescript"


def spec(name: str) -> dict[str, Any]:
    return specs.load(f"{name}.yaml")


def operation_ids(name: str) -> list[str]:
    return [
        op["operationId"]
        for item in spec(name)["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


def string_properties(name: str) -> set[tuple[str, str]]:
    """(schema, property) of every component schema's property the spec types `string`."""
    found = set()
    for schema_name, schema in spec(name)["components"]["schemas"].items():
        parts = [schema, *schema.get("allOf", [])]
        for part in parts:
            for prop, prop_schema in (part.get("properties") or {}).items():
                if prop_schema.get("type") == "string":
                    found.add((schema_name, prop))
    return found


@pytest.fixture(scope="module")
def python_clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each spec's generated Python client package (``<name>_client``), and the generator's
    words, which must hold no warning."""
    folder = tmp_path_factory.mktemp("clients")
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"}
    made = {}
    for name in SPECS:
        out = folder / f"{name}_client"
        result = subprocess.run(
            [
                str(GENERATOR),
                "generate",
                "--path",
                str(OPENAPI_DIR / f"{name}.yaml"),
                "--output-path",
                str(out),
                "--meta",
                "none",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        words = result.stdout + result.stderr
        assert "Endpoint will not be generated" not in words, words
        assert "Unable to process schema" not in words, words
        made[name] = out
    sys.path.insert(0, str(folder))
    yield made
    sys.path.remove(str(folder))


@pytest.mark.parametrize("name", SPECS)
def test_the_python_client_has_every_operation(python_clients: dict[str, Path], name: str) -> None:
    generated = {path.stem for path in (python_clients[name] / "api").glob("*/*.py")}
    missing = [op for op in operation_ids(name) if snake_case(op) not in generated]
    assert missing == [], f"openapi-python-client left out {missing} of {name}.yaml"


@pytest.mark.parametrize("name", SPECS)
def test_the_python_client_types_every_string_field(
    python_clients: dict[str, Path], name: str
) -> None:
    untyped = []
    for schema, prop in sorted(string_properties(name)):
        model = python_clients[name] / "models" / f"{snake_case(schema)}.py"
        if not model.exists():
            continue  # a schema no operation reaches (the generator makes no model of it)
        text = model.read_text()
        # the attrs field's annotation, to the line that gives its default (may span lines)
        names = "|".join(re.escape(n) for n in (snake_case(prop), snake_case(prop) + "_"))
        field = re.search(rf"^    (?:{names}): (.+?)(?: = |$)", text, re.M | re.S)
        if field is None or re.search(r"\bAny\b", field.group(1)):
            untyped.append(f"{schema}.{prop}: {field.group(1) if field else 'absent'}")
    assert untyped == [], f"{name}.yaml's string fields the Python client does not type str"


@pytest.fixture(scope="module")
def typescript(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each spec's openapi-typescript output."""
    if not TYPESCRIPT.exists():
        message = (
            f"openapi-typescript is not installed ({TYPESCRIPT.relative_to(ROOT)}): "
            "run bash tools/setup-openapi-typescript.sh"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("typescript")
    made = {}
    for name in SPECS:
        out = folder / f"{name}.d.ts"
        result = subprocess.run(
            [str(TYPESCRIPT), str(OPENAPI_DIR / f"{name}.yaml"), "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        made[name] = out.read_text()
    return made


@pytest.mark.parametrize("name", SPECS)
def test_the_typescript_types_have_every_operation(typescript: dict[str, str], name: str) -> None:
    missing = [
        op for op in operation_ids(name) if not re.search(rf"^    {op}: {{", typescript[name], re.M)
    ]
    assert missing == [], f"openapi-typescript left out {missing} of {name}.yaml"


@pytest.mark.parametrize("name", SPECS)
def test_the_typescript_types_type_every_string_field(
    typescript: dict[str, str], name: str
) -> None:
    types = typescript[name]
    untyped = []
    for schema, prop in sorted(string_properties(name)):
        block = re.search(
            rf"^        {re.escape(schema)}: [^\n]*{{$(.*?)^        }}", types, re.M | re.S
        )
        if block is None:
            untyped.append(f"{schema}: no type")
            continue
        field = re.search(
            rf"^            (?:readonly )?\"?{re.escape(prop)}\"?\??: (.+);$", block.group(1), re.M
        )
        if field is None or "unknown" in field.group(1):
            untyped.append(f"{schema}.{prop}: {field.group(1) if field else 'absent'}")
    assert untyped == [], f"{name}.yaml's string fields openapi-typescript does not type string"


def test_the_generated_client_sends_the_seeds_sample_request(
    python_clients: dict[str, Path],
) -> None:
    """The partner's path through a generated client: a user's login (no Authorization header:
    login's security allows none), an application key's, then seed 002's Sample Request to
    the seed's profile: the seed's Sample Response, but for what the request itself changes
    (docs/decisions.md#9)."""
    text = seed_text(COMMERCE)
    sent, shown = _json_after(text, REQUEST_MARK), _json_after(text, RESPONSE_MARK)
    package = importlib.import_module("commerce_client")
    login = importlib.import_module("commerce_client.api.authentication.login")
    update = importlib.import_module("commerce_client.api.profiles.update_profile")
    models = importlib.import_module("commerce_client.models")
    with EmulatorServer() as server, contextlib.ExitStack() as clients:
        base = f"{server.url}/ccadmin/v1"
        anonymous = clients.enter_context(package.Client(base_url=base))
        as_user = login.sync_detailed(
            client=anonymous,
            body=models.LoginRequest(
                grant_type=models.LoginRequestGrantType.PASSWORD,
                username="alex.admin@example.com",
                password="Admin-Passw0rd",
            ),
        )
        assert (as_user.status_code, as_user.parsed.expires_in) == (200, 900)
        app = clients.enter_context(
            package.AuthenticatedClient(base_url=base, token="emulator-app-key")
        )
        token = login.sync_detailed(
            client=app,
            body=models.LoginRequest(grant_type=models.LoginRequestGrantType.CLIENT_CREDENTIALS),
        )
        assert (token.status_code, token.parsed.expires_in) == (200, 300)
        client = clients.enter_context(
            package.AuthenticatedClient(base_url=base, token=token.parsed.access_token)
        )
        answer = update.sync_detailed(
            profile_id=shown["id"],
            client=client,
            body=models.ProfileUpdateRequest.from_dict(sent),
        )
    assert answer.status_code == 200, answer.content
    expected = {
        **shown,
        "firstName": sent["firstName"],
        "loyaltyPrograms": [
            {**program, "status": sent_program["status"]}
            for program, sent_program in zip(
                shown["loyaltyPrograms"], sent["loyaltyPrograms"], strict=True
            )
        ],
    }
    assert answer.parsed.to_dict() == expected


def test_the_enrolment_body_is_the_profiles_fields() -> None:
    """EnrollRequest writes ProfileUpdate's properties out again (a `$ref` into another
    schema's properties is what generators cannot read): each one must stay the same."""
    schemas = spec("loyalty")["components"]["schemas"]
    profile, enrol = schemas["ProfileUpdate"], schemas["EnrollRequest"]
    assert set(profile["properties"]) <= set(enrol["properties"])
    for name, schema in profile["properties"].items():
        assert enrol["properties"][name] == schema, name
    for key in ("required", "x-vendor-required-one-of", "additionalProperties"):
        assert enrol[key] == profile[key], key


@pytest.mark.parametrize("name", SPECS)
def test_no_field_documented_as_a_string_is_left_untyped(name: str) -> None:
    """A property whose description says "Type: string" but whose schema has no type is what
    a generator types Any."""
    text = (OPENAPI_DIR / f"{name}.yaml").read_text()
    assert "'Type: string" not in text and '"Type: string' not in text
