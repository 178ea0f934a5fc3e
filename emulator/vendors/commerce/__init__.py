"""Oracle Commerce Cloud Admin REST API (seed 002): the vendor plug-in."""

from __future__ import annotations

import copy
from typing import Any

from emulator import specs
from emulator.errors import VendorError
from emulator.state import Documents
from emulator.vendors.base import Vendor
from emulator.vendors.commerce import errors, handlers
from emulator.vendors.commerce.checks import invalid_request, unreported
from emulator.vendors.commerce.profiles import PROFILE_KEYS, blank

SPEC = "commerce.yaml"
DEFAULT_CONFIG: dict[str, Any] = {
    "authEnabled": True,  # off = no token needed (local play)
    "tokenLifetimeSeconds": 300,  # OCC application-key tokens live 5 minutes
}
# First values of the per-namespace id counters (above the seed's example ids).
COUNTERS = {
    "profiles": 570100,
    "addresses": 110100,
    "roles": 100100,
    "loyalty": 100100,
    "tokens": 1,
}

_STR = {"type": "string"}
_OBJ = {"type": "object"}
_NULLABLE_STR = {"type": ["string", "null"]}
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
_PROGRAM = {
    "type": "object",
    "required": ["programId", "membershipId"],
    "properties": {
        "programName": _NULLABLE_STR,
        "repositoryId": {"type": "integer"},
        "membershipId": _STR,
        "programId": _STR,
        "status": _NULLABLE_STR,
    },
}
_ADDRESS = {
    "type": "object",
    "properties": {"repositoryId": _STR, "isDefaultAddress": {"type": "boolean"}},
}
# The namespace's configuration (DEFAULT_CONFIG's keys): what a fixture file's `config` and a
# PATCH /_emulator/config may set, the one schema of both.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "authEnabled": {"type": "boolean"},
        "tokenLifetimeSeconds": {"type": "integer", "minimum": 1, "maximum": 31536000},
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
                "properties": {
                    "id": _STR,
                    "repositoryId": _STR,
                    "name": _STR,
                    "description": _NULLABLE_STR,
                    "active": {"type": "boolean"},
                    "approvalRequired": {"type": "boolean"},
                    "ordersPendingApproval": {"type": "integer", "minimum": 0},
                    "shippingAddress": _OBJ,
                    "billingAddress": _OBJ,
                    "secondaryAddresses": {"type": "array", "items": _OBJ},
                },
            },
        },
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "email"],
                "properties": {
                    **{key: {} for key in PROFILE_KEYS},
                    "id": _STR,
                    "email": _STR,
                    "password": _STR,
                    "active": {
                        "type": ["boolean", "string"],
                        "enum": [True, False, "true", "false"],
                    },
                    "receiveEmail": {"enum": ["yes", "no"]},
                    "parentOrganization": _NULLABLE_STR,
                    "roles": {"type": "array", "items": _ROLE},
                    "loyaltyPrograms": {"type": "array", "items": _PROGRAM},
                    "shippingAddresses": {"type": "array", "items": _ADDRESS},
                    "shippingAddress": _OBJ,
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
            if key not in ("roles", "loyaltyPrograms", "shippingAddresses", "active")
        }
    )
    doc["active"] = str(item.get("active", True)).lower()
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
    counters = {name: {"next": first} for name, first in COUNTERS.items()}
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


# The stored documents, as the handlers read them (the state schema: snapshots and the
# data file are checked against it). A profile holds every key of the seed's response.
_ARRAY_OF_OBJECTS = {"type": "array", "items": _OBJ}
_COUNTER = {
    "type": "object",
    "required": ["next"],
    "additionalProperties": False,
    "properties": {"next": {"type": "integer", "minimum": 0}},
}
DOCUMENTS = {
    "commerce.profiles": Documents(
        {
            "type": "object",
            "required": list(PROFILE_KEYS),
            "properties": {
                "id": _STR,
                "repositoryId": _STR,
                "email": _NULLABLE_STR,
                "active": {"enum": ["true", "false"]},
                "parentOrganization": _NULLABLE_STR,
                "password": _NULLABLE_STR,
                "translations": _OBJ,
                "roles": {"type": "array", "items": {"type": "object"}},
                "loyaltyPrograms": _ARRAY_OF_OBJECTS,
                "shippingAddresses": _ARRAY_OF_OBJECTS,
                "secondaryOrganizations": {"type": "array"},
                "shippingAddress": {"type": ["object", "null"]},
                "billingAddress": {"type": ["object", "null"]},
            },
        },
        key="id",
    ),
    "commerce.organizations": Documents(
        {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": _STR,
                "name": _NULLABLE_STR,
                "active": {"type": "boolean"},
                "approvalRequired": {"type": "boolean"},
                "ordersPendingApproval": {"type": "integer", "minimum": 0},
                "secondaryAddresses": _ARRAY_OF_OBJECTS,
            },
        },
        key="id",
    ),
    "commerce.applications": Documents(
        {"type": "object", "required": ["key"], "properties": {"key": _STR}}, key="key"
    ),
    "commerce.tokens": Documents(
        {
            "type": "object",
            "required": ["token", "subject", "issuedAt", "expiresAt"],
            "properties": {
                "token": _STR,
                "issuedAt": {"type": "number"},
                "expiresAt": {"type": "number"},
                "subject": {
                    "type": "object",
                    "required": ["type", "id"],
                    "properties": {"type": _STR, "id": _STR},
                },
            },
        },
        key="token",
    ),
    "commerce.counters": Documents(_COUNTER, required=tuple(COUNTERS), kept=True),
}


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
        "commerce.profiles": {"email": lambda p: (p.get("email") or "").lower() or None},
        "commerce.organizations": {},
        "commerce.applications": {},
        "commerce.tokens": {},
        "commerce.counters": {},
    },
    documents=DOCUMENTS,
    load_fixtures=load_fixtures,
    fixture_schema=FIXTURE_SCHEMA,
    config_schema=CONFIG_SCHEMA,
    invalid_request=invalid_request,
    unrouted=unrouted,
    unreported=unreported,
    too_large=errors.PAYLOAD_TOO_LARGE,
    internal_error=errors.INTERNAL_ERROR,
)
