"""Oracle Commerce Cloud Admin REST API (seed 002): the vendor plug-in."""

from __future__ import annotations

import copy
from typing import Any

from emulator import specs
from emulator.errors import VendorError
from emulator.vendors.base import Vendor
from emulator.vendors.commerce import documents, errors, handlers
from emulator.vendors.commerce.checks import invalid_request, unreported
from emulator.vendors.commerce.profiles import BESIDE, PROFILE_KEYS, blank

SPEC = "commerce.yaml"
DEFAULT_CONFIG: dict[str, Any] = {
    "authEnabled": True,  # off = no token needed (local play)
    "tokenLifetimeSeconds": 300,  # tokens from an application key live 5 minutes
    "userTokenLifetimeSeconds": 900,  # tokens from user credentials live 15 minutes
    "duplicateEmailsAllowed": False,  # the vendor's shopper profile configuration, off by default
}
_STR = {"type": "string"}
# A fixture's role, membership and address: as stored (documents.py), the ids optional (the
# emulator makes the missing ones).
_ROLE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["function"],
    "properties": {
        "function": _STR,
        "repositoryId": _STR,
        "relativeTo": {"type": "object", "required": ["id"], "properties": {"id": _STR}},
    },
}
_PROGRAM = {**documents.PROGRAM, "required": ["programId", "membershipId"]}
_ADDRESS = {
    "type": "object",
    "properties": {
        **documents.LISTED_ADDRESS["properties"],
        "isDefaultAddress": {"type": "boolean"},
    },
}
# The namespace's configuration (DEFAULT_CONFIG's keys): what a fixture file's `config` and a
# PATCH /_emulator/config may set, the one schema of both.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "authEnabled": {"type": "boolean"},
        "tokenLifetimeSeconds": {"type": "integer", "minimum": 1, "maximum": 31536000},
        "userTokenLifetimeSeconds": {"type": "integer", "minimum": 1, "maximum": 31536000},
        "duplicateEmailsAllowed": {"type": "boolean"},
    },
}
FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "config": CONFIG_SCHEMA,
        "applications": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key"],
                "properties": {"key": {"type": "string", "minLength": 1}, "name": _STR},
            },
        },
        "organizations": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {**documents.ORGANIZATION_PROPERTIES, "name": _STR},
            },
        },
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "email"],
                "properties": {
                    **documents.PROFILE_PROPERTIES,
                    "email": _STR,
                    "password": _STR,
                    "active": {
                        "type": ["boolean", "string"],
                        "enum": [True, False, "true", "false"],
                    },
                    "receiveEmail": {"enum": ["yes", "no"]},
                    "roles": {"type": "array", "items": _ROLE},
                    "loyaltyPrograms": {"type": "array", "items": _PROGRAM},
                    "shippingAddresses": {"type": "array", "items": _ADDRESS},
                    # the shopper type's custom properties: top-level keys of the profile
                    "customProperties": {
                        "type": "object",
                        "propertyNames": {"not": {"enum": [*PROFILE_KEYS, *BESIDE]}},
                        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    },
                },
            },
        },
    },
}


def _fixture_profile(item: dict[str, Any], counters: dict[str, dict[str, int]]) -> dict[str, Any]:
    def take(name: str) -> int:
        number = counters[name]["next"]
        counters[name]["next"] = number + 1
        return number

    doc = blank(item["id"])
    doc.update(
        {
            key: copy.deepcopy(value)
            for key, value in item.items()
            if key
            not in ("roles", "loyaltyPrograms", "shippingAddresses", "active", "customProperties")
        }
    )
    doc["active"] = str(item.get("active", True)).lower()
    doc.update(copy.deepcopy(item.get("customProperties", {})))
    doc["roles"] = [
        {**role, "repositoryId": role.get("repositoryId") or str(take("roles"))}
        for role in item.get("roles", [])
    ]
    doc["loyaltyPrograms"] = [
        {
            "programName": p.get("programName"),
            "repositoryId": p["repositoryId"] if "repositoryId" in p else take("loyalty"),
            "membershipId": p["membershipId"],
            "programId": p["programId"],
            "status": p.get("status"),
        }
        for p in item.get("loyaltyPrograms", [])
    ]
    addresses, default = [], None
    for sent in item.get("shippingAddresses", []):
        address = {
            "repositoryId": sent.get("repositoryId") or str(take("addresses")),
            **{k: v for k, v in sent.items() if k not in ("repositoryId", "isDefaultAddress")},
        }
        if sent.get("isDefaultAddress") and default is None:
            default = address
        addresses.append(address)
    doc["shippingAddresses"] = addresses
    if default is not None:
        doc["shippingAddress"] = copy.deepcopy(default)
    return doc


def load_fixtures(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = {**copy.deepcopy(DEFAULT_CONFIG), **doc.get("config", {})}
    # The ids the file gives are in use: the ones made for the rest go above them.
    given = documents.COUNTERS.lowest(
        {
            "commerce.profiles": {p["id"]: p for p in doc.get("profiles", [])},
            "commerce.organizations": {o["id"]: o for o in doc.get("organizations", [])},
        }
    )
    counters = {
        name: {"next": max(first, given[name])} for name, first in documents.FIRST_NUMBERS.items()
    }
    applications = {
        a["key"]: {"key": a["key"], "name": a.get("name")} for a in doc.get("applications", [])
    }
    organizations = {}
    for item in doc.get("organizations", []):
        org = {
            "name": None,
            "repositoryId": item["id"],
            "description": None,
            "active": True,
            "shippingAddress": {},
            "secondaryAddresses": [],
            "id": item["id"],
            "billingAddress": {},
            "approvalRequired": False,
            "ordersPendingApproval": 0,
        }
        org.update(copy.deepcopy(item))
        organizations[item["id"]] = org
    profiles = {item["id"]: _fixture_profile(item, counters) for item in doc.get("profiles", [])}
    state = {
        "commerce.applications": applications,
        "commerce.organizations": organizations,
        "commerce.profiles": profiles,
        "commerce.tokens": {},
        "commerce.counters": counters,
    }
    return state, config


_PROFILES = "/ccadmin/v1/profiles/"
# The methods of a profile by id, as the spec declares them: for these, an empty id is 22000.
_PROFILE_METHODS = specs.methods(SPEC, "/profiles/{profile_id}")


def _blank_profile_id(path: str) -> bool:
    """A profile path whose id is empty or whitespace (an empty one leaves an empty path
    segment): string operations, each reading the path once."""
    return path.startswith(_PROFILES) and path[len(_PROFILES) :].lstrip() in ("", "/")


def unrouted(method: str, path: str, method_not_allowed: bool) -> VendorError:
    if method in _PROFILE_METHODS and _blank_profile_id(path):
        return errors.PROFILE_ID_BLANK
    if method_not_allowed:
        return errors.METHOD_NOT_ALLOWED.fill(method=method, path=path)
    return errors.RESOURCE_NOT_FOUND.fill(method=method, path=path)


VENDOR = Vendor(
    name="commerce",
    spec=SPEC,
    prefix="/ccadmin/",
    handlers=handlers,
    errors=errors.CATALOGUE,
    collections={
        "commerce.profiles": {
            "email": lambda p: (p.get("email") or "").lower() or None,
            # the username: the email unless the profile was created with its own
            "login": lambda p: (p.get("login") or p.get("email") or "").lower() or None,
        },
        "commerce.organizations": {},
        "commerce.applications": {},
        "commerce.tokens": {},
        "commerce.counters": {},
    },
    documents=documents.DOCUMENTS,
    load_fixtures=load_fixtures,
    fixture_schema=FIXTURE_SCHEMA,
    config_schema=CONFIG_SCHEMA,
    invalid_request=invalid_request,
    unrouted=unrouted,
    unreported=unreported,
    too_large=errors.PAYLOAD_TOO_LARGE,
    internal_error=errors.INTERNAL_ERROR,
    head_too_large=errors.HEADERS_TOO_LARGE,
    unavailable=errors.SERVICE_UNAVAILABLE,
)
