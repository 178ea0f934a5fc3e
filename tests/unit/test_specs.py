"""The hand-written specs are valid OpenAPI 3.0 and every operation has a handler."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from emulator import jsonyaml, specs
from emulator.specs import OPENAPI_DIR
from tests.seeds import LOYALTY, seed_text

SPECS = sorted(OPENAPI_DIR.glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spec_is_valid_openapi_30(spec: Path):
    document = yaml.safe_load(spec.read_text())
    assert document["openapi"].startswith("3.0.")
    validate(document)


def test_every_vendor_operation_resolves_to_a_handler():
    from emulator.vendors import VENDORS

    for vendor in VENDORS:
        document = yaml.safe_load((SPECS[0].parent / vendor.spec).read_text())
        for item in document["paths"].values():
            for method, operation in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    assert callable(vendor.handler(operation["operationId"]))


def test_loyalty_catalogue_documented_messages_are_verbatim_from_the_seed():
    from emulator.vendors.loyalty import errors

    text = seed_text(LOYALTY)
    for name, error in errors.CATALOGUE.items():
        if error.fidelity == "documented" and name != "MISSING_CORRELATION_ID":
            template = error.body["errorMessage"].replace(
                "{fields}", "dateOfBirth gender email postalCode"
            )
            template = template.replace("{attributes}", "{att1}, {att-x}")
            assert template in text, name


def _broken(name: str) -> list[dict]:
    """Spec documents the OpenAPI 3.0 schema refuses, one way each."""
    from emulator import specs

    variants = []
    for breakage in ("no description", "bad type", "unknown version", "bad parameter"):
        doc = specs.load(name)
        _path, item = next(iter(doc["paths"].items()))
        operation = next(op for method, op in item.items() if method in ("get", "put", "post"))
        if breakage == "no description":
            next(iter(operation["responses"].values())).pop("description", None)
            next(iter(operation["responses"].values())).pop("$ref", None)
        elif breakage == "bad type":
            operation["responses"] = []
        elif breakage == "unknown version":
            doc["openapi"] = "3.7"
        else:
            operation["parameters"] = [{"name": "x", "in": "nowhere"}]
        variants.append(doc)
    return variants


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_the_compiled_spec_check_agrees_with_connexions(spec: Path) -> None:
    from connexion.exceptions import InvalidSpecification
    from connexion.spec import OpenAPISpecification

    from emulator import specs
    from emulator.connexion_seam import CheckedSpecification

    CheckedSpecification._validate_spec(specs.load(spec.name))
    OpenAPISpecification._validate_spec(specs.load(spec.name))
    for doc in _broken(spec.name):
        assert not CheckedSpecification._checker.is_valid(doc)
        with pytest.raises(InvalidSpecification):
            OpenAPISpecification._validate_spec(doc)
        with pytest.raises(InvalidSpecification):  # Connexion's own words on failure
            CheckedSpecification._validate_spec(doc)


def test_an_invalid_spec_stops_the_app_from_being_built() -> None:
    from connexion.exceptions import InvalidSpecification

    from emulator.connexion_seam import SpecMiddleware

    async def app(scope: object, receive: object, send: object) -> None:
        pass

    middleware = SpecMiddleware(app, import_name=__name__)
    with pytest.raises(InvalidSpecification):
        middleware.add_api(_broken("loyalty.yaml")[0], name="broken")
    assert middleware.apis == []


# --- the parse cache (emulator/specs.py): where and when Python keeps bytecode ---------------


@pytest.fixture
def cached_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of commerce.yaml, with bytecode (and so the parse cache) written under
    tmp_path/cache, as Python does with PYTHONPYCACHEPREFIX and no PYTHONDONTWRITEBYTECODE."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "cache"))
    spec = tmp_path / "specs" / "commerce.yaml"
    spec.parent.mkdir()
    spec.write_bytes((OPENAPI_DIR / "commerce.yaml").read_bytes())
    return spec


def _string_keyed(node: object) -> object:
    if isinstance(node, dict):
        return {str(key): _string_keyed(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_string_keyed(value) for value in node]
    return node


def _no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> None:
        raise AssertionError("the YAML was parsed: the cache was not used")

    monkeypatch.setattr(jsonyaml, "load_yaml", refuse)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_a_spec_is_given_as_its_yaml_parse_with_string_keys(spec: Path) -> None:
    """The YAML gives a status such as `200:` as an int; every other value of the specs is
    one JSON has already."""
    parsed = specs.parse(spec)
    assert parsed == _string_keyed(yaml.safe_load(spec.read_text()))
    statuses = [
        status
        for item in parsed["paths"].values()
        for method, operation in item.items()
        if method in specs.HTTP_METHODS
        for status in operation["responses"]
    ]
    assert "200" in statuses and all(isinstance(status, str) for status in statuses)


def test_the_parse_is_cached_where_python_keeps_bytecode_and_read_back(
    cached_spec, monkeypatch
) -> None:
    parsed = specs.parse(cached_spec)
    cache = Path(sys.pycache_prefix + str(cached_spec.parent)) / "commerce.yaml.json"
    assert specs.cache_path(cached_spec) == cache and cache.is_file()
    assert cache.stat().st_mode & 0o777 == 0o644
    assert list(cache.parent.iterdir()) == [cache]  # no temporary file left
    _no_yaml(monkeypatch)
    assert specs.parse(cached_spec) == parsed


def test_an_edited_spec_is_parsed_again_and_its_cache_replaced(cached_spec, monkeypatch) -> None:
    specs.parse(cached_spec)
    cached_spec.write_text(cached_spec.read_text().replace("title:", "title: Edited", 1))
    edited = specs.parse(cached_spec)
    assert edited["info"]["title"].startswith("Edited")
    _no_yaml(monkeypatch)
    assert specs.parse(cached_spec) == edited


@pytest.mark.parametrize("damage", ["torn", "other key", "empty"])
def test_a_damaged_cache_is_not_used(cached_spec, damage: str) -> None:
    expected = specs.parse(cached_spec)
    cache = specs.cache_path(cached_spec)
    raw = cache.read_bytes()
    cache.write_bytes(
        {"torn": raw[: len(raw) // 2], "other key": b"0" * 64 + raw[64:], "empty": b""}[damage]
    )
    assert specs.parse(cached_spec) == expected
    assert cache.read_bytes() == raw  # and written again, whole


def test_nothing_is_written_when_python_writes_no_bytecode(cached_spec, monkeypatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    expected = _string_keyed(yaml.safe_load(cached_spec.read_text()))
    assert specs.parse(cached_spec) == expected
    assert not specs.cache_path(cached_spec).exists()


def test_a_cache_it_cannot_write_is_no_error(cached_spec, monkeypatch) -> None:
    blocked = Path(sys.pycache_prefix)
    blocked.write_text("a file where the cache folder would go")
    assert specs.parse(cached_spec)["openapi"].startswith("3.0.")
