"""The stored documents of OCC, as the handlers read them: the state schema snapshots and the
data file are checked against, and the id counters.

A stored profile is what getProfile answers (the spec's updateProfile_response, key for
key; see ``profiles.py``), so each field has the type the spec gives it there; besides,
the handlers match roles, memberships and listed addresses by their repository ids, which
they must have. The fixture file's schema takes its fields' types from here, so a seed is
a state the handlers can use too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from emulator.state_schema import Counters, Documents, decimals
from emulator.vendors.commerce.profiles import ADDRESS_TEXT, PROFILE_KEYS

# First values of the per-namespace id counters (above the seed's example ids).
FIRST_NUMBERS = {
    "profiles": 570100,
    "addresses": 110100,
    "roles": 100100,
    "loyalty": 100100,
    "tokens": 1,
}
# The numbers ids are made of stay below this: repository ids of at most 15 digits (what
# checks.py takes from a client), a membership's numeric repositoryId exact in JavaScript.
NUMBERS = 10**15
PROFILE_PREFIX = "se-"

_STR = {"type": "string"}
_TEXT = {"type": ["string", "null"]}
_OBJECT_OR_NULL = {"type": ["object", "null"]}
_ADDRESS_TEXT = {
    key: _TEXT
    for key in (*ADDRESS_TEXT, "country", "countryName", "state", "regionName", "state_ISOCode")
}
# A default or billing address, or an organization's: the spec's Address (null where unset).
ADDRESS = {
    "type": ["object", "null"],
    "properties": {"repositoryId": _TEXT, **_ADDRESS_TEXT},
}
# An item of a profile's shippingAddresses: the handlers keep an address by its repositoryId.
LISTED_ADDRESS: dict[str, Any] = {
    "type": "object",
    "required": ["repositoryId"],
    "properties": {"repositoryId": _STR, **_ADDRESS_TEXT},
}
ROLE = {
    "type": "object",
    "required": ["function", "repositoryId"],
    "properties": {
        "function": _STR,
        "repositoryId": _STR,
        "relativeTo": {"type": ["object", "null"], "properties": {"id": _STR}},
    },
}
# The spec's number, an integer as the emulator makes them (checks.py's bound on a sent one).
MEMBERSHIP_NUMBER = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
PROGRAM = {
    "type": "object",
    "required": ["programId", "membershipId", "repositoryId"],
    "properties": {
        "programName": _TEXT,
        "repositoryId": MEMBERSHIP_NUMBER,
        "membershipId": _STR,
        "programId": _STR,
        "status": _TEXT,
    },
}
# Each of PROFILE_KEYS, as the spec's response types it; `active` the string the handlers
# compare, `parentOrganization` the organization's id (rendered as the organization).
PROFILE_PROPERTIES: dict[str, Any] = {
    **{key: _TEXT for key in PROFILE_KEYS},
    **{
        key: _OBJECT_OR_NULL
        for key in (
            "derivedPriceListGroup",
            "catalog",
            "shippingSurchargePriceList",
            "derivedSalePriceList",
            "priceListGroup",
            "derivedShippingSurchargePriceList",
        )
    },
    "id": _STR,
    "repositoryId": _STR,
    "active": {"enum": ["true", "false"]},
    "taxExempt": {"type": "boolean"},
    "translations": {"type": "object"},
    "roles": {"type": "array", "items": ROLE},
    "loyaltyPrograms": {"type": "array", "items": PROGRAM},
    "shippingAddresses": {"type": "array", "items": LISTED_ADDRESS},
    "shippingAddress": ADDRESS,
    "billingAddress": ADDRESS,
    "secondaryOrganizations": {"type": "array", "items": {"type": "object"}},
    "login": _TEXT,
    "password": _TEXT,
}
# The keys getProfile answers of a profile's organization (profiles.ORGANIZATION_KEYS).
ORGANIZATION_PROPERTIES: dict[str, Any] = {
    "id": _STR,
    "repositoryId": _STR,
    "name": _TEXT,
    "description": _TEXT,
    "active": {"type": "boolean"},
    "shippingAddress": ADDRESS,
    "billingAddress": ADDRESS,
    "secondaryAddresses": {"type": "array", "items": ADDRESS},
    "approvalRequired": {"type": "boolean"},
    "ordersPendingApproval": {"type": "integer", "minimum": 0},
}


def _addresses(doc: Mapping[str, Any]) -> list[Any]:
    listed = [*(doc.get("shippingAddresses") or ()), *(doc.get("secondaryAddresses") or ())]
    return [*listed, doc.get("shippingAddress"), doc.get("billingAddress")]


def _token_id(token: str) -> Any:
    """The ``jti`` of a token as ``auth.issue`` makes them (header.payload.signature, the
    payload base64url JSON), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):  # orjson.JSONDecodeError is a ValueError
        return None
    return claims.get("jti") if isinstance(claims, dict) else None


def _whole(number: Any) -> bool:
    """A membership's repositoryId that is JSON Schema's integer (100001 or 100001.0)."""
    return type(number) in (int, float) and number == int(number)


def numbers_in_use(state: Mapping[str, Mapping[str, Any]]) -> dict[str, list[int]]:
    """Per counter, the numbers of the ids in ``state`` it makes: profiles' ``se-<n>``, the
    repository ids of roles, memberships and addresses (organizations' too), tokens' jti."""
    profiles = state.get("commerce.profiles", {})
    holders = [*profiles.values(), *state.get("commerce.organizations", {}).values()]
    addresses = [a for doc in holders for a in _addresses(doc) if a]  # an object or null
    roles = [role for profile in profiles.values() for role in profile.get("roles") or ()]
    programs = [p for profile in profiles.values() for p in profile.get("loyaltyPrograms") or ()]
    memberships = [program.get("repositoryId") for program in programs]
    return {
        "profiles": decimals(
            key[len(PROFILE_PREFIX) :] for key in profiles if key.startswith(PROFILE_PREFIX)
        ),
        "addresses": decimals(address.get("repositoryId") for address in addresses),
        "roles": decimals(role.get("repositoryId") for role in roles),
        "loyalty": [int(number) for number in memberships if _whole(number)],
        "tokens": decimals(_token_id(token) for token in state.get("commerce.tokens", {})),
    }


COUNTERS = Counters(tuple(FIRST_NUMBERS), NUMBERS, numbers_in_use)
DOCUMENTS = {
    "commerce.profiles": Documents(
        {"type": "object", "required": list(PROFILE_KEYS), "properties": PROFILE_PROPERTIES},
        key="id",
    ),
    "commerce.organizations": Documents(
        {
            "type": "object",
            "required": ["id", "repositoryId", "active", "secondaryAddresses"],
            "properties": ORGANIZATION_PROPERTIES,
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
    "commerce.counters": COUNTERS.documents(),
}
