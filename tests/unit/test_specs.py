"""The hand-written specs are valid OpenAPI 3.0 and every operation has a handler."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from emulator.specs import OPENAPI_DIR

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

    seed = (Path(__file__).resolve().parents[3] / "shared/seeds/000_53df60a23fd2b759.txt")
    if not seed.exists():
        pytest.skip("vendor seed documents are not beside this checkout")
    text = seed.read_text()
    for name, error in errors.CATALOGUE.items():
        if error.fidelity == "documented" and name != "MISSING_CORRELATION_ID":
            template = error.body["errorMessage"].replace("{fields}", "dateOfBirth gender email postalCode")
            template = template.replace("{attributes}", "{att1}, {att-x}")
            assert template in text, name


def _broken(name: str) -> list[dict]:
    """Spec documents the OpenAPI 3.0 schema refuses, one way each."""
    from emulator import specs

    variants = []
    for breakage in ("no description", "bad type", "unknown version", "bad parameter"):
        doc = specs.load(name)
        path, item = next(iter(doc["paths"].items()))
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
    from emulator.middleware import Dispatcher

    middleware = SpecMiddleware(Dispatcher({}), import_name=__name__)
    with pytest.raises(InvalidSpecification):
        middleware.add_api(_broken("loyalty.yaml")[0], name="broken")
    assert middleware.apis == []
