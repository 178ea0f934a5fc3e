"""ES Loyalty Customer Experience API (seed 000): the vendor plug-in."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from emulator.errors import VendorError
from emulator.state_schema import Counters, Documents, decimals
from emulator.vendors.base import Vendor
from emulator.vendors.loyalty import errors, handlers
from emulator.vendors.loyalty.checks import invalid_request, unreported

DEFAULT_CONFIG: dict[str, Any] = {
    # ConfigType='EXTENDED_DATA': Platform.DataSizeLimitInKb, Platform.TopLevelKeysLimit
    "extendedData": {"dataSizeLimitKb": 5, "topLevelKeysLimit": 20},
    "validSources": [
        "MARKETING",
        "PARTNERSHIP",
        "PPN",
        "SALESFORCE",
        "BANKING_INFO",
        "SUPPLY_MANAGER",
    ],
    "mandatoryFields": ["firstName", "lastName", "dateOfBirth", "gender", "email", "postalCode"],
}

_STR = {"type": "string"}
# The namespace's configuration (DEFAULT_CONFIG's keys): what a fixture file's `config` and a
# PATCH /_emulator/config may set, the one schema of both.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "extendedData": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dataSizeLimitKb": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1048576,
                    "description": "Platform.DataSizeLimitInKb (default 5).",
                },
                "topLevelKeysLimit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1000000,
                    "description": "Platform.TopLevelKeysLimit (default 20).",
                },
            },
        },
        "validSources": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Valid extended data sources (INTERNAL is never valid).",
        },
        "mandatoryFields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Fields updateProfile requires, in the order they are reported.",
        },
    },
}
# An account's profile, stored and in a fixture: getProfile answers it beside the account's
# ids (the spec's StoredProfile), primary attributes as strings, nothing else (null: unset).
_PROFILE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {name: {"type": ["string", "null"]} for name in handlers.PRIMARY},
}
FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "config": CONFIG_SCHEMA,
        "accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["accountId", "loyaltyId", "profile"],
                "properties": {
                    "accountId": _STR,
                    "loyaltyId": _STR,
                    "externalId": _STR,
                    "partnerLinkId": _STR,
                    "externalAgentId": _STR,
                    "profile": _PROFILE,
                    "extendedData": {"type": "object", "additionalProperties": {"type": "object"}},
                },
            },
        },
        "sessions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["correlationId", "accountId", "channel"],
                "properties": {"correlationId": _STR, "accountId": _STR, "channel": _STR},
            },
        },
    },
}


def load_fixtures(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in doc.get("config", {}).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    accounts: dict[str, dict[str, Any]] = {}
    keys: dict[str, dict[str, str]] = {}
    for item in doc.get("accounts", []):
        account = {k: v for k, v in item.items() if k != "extendedData"}
        account["emd"] = item.get("extendedData", {})
        accounts[item["accountId"]] = account
        for source, emd in account["emd"].items():
            for key in emd:
                keys.setdefault(key, {"key": key, "source": source})
    sessions = {s["correlationId"]: dict(s) for s in doc.get("sessions", [])}
    state = {
        "loyalty.accounts": accounts,
        "loyalty.sessions": sessions,
        "loyalty.emdKeys": keys,
        "loyalty.counters": {"accounts": {"next": 1000}},
    }
    return state, config


def _numbers_in_use(state: Mapping[str, Mapping[str, Any]]) -> dict[str, list[int]]:
    """The numbers of the accounts' ids in the enrolment's form (``handlers.ACCOUNT_ID_BASE``
    + n, ``LOYALTY_ID_BASE`` + n): a new account takes neither id of an existing one."""
    accounts = state.get("loyalty.accounts", {}).values()
    numbers = decimals(account.get("accountId") for account in accounts)
    loyalty = decimals(account.get("loyaltyId") for account in accounts)
    return {
        "accounts": [n - handlers.ACCOUNT_ID_BASE for n in numbers]
        + [n - handlers.LOYALTY_ID_BASE for n in loyalty]
    }


# The stored documents, as the handlers read them (the state schema: snapshots and the
# data file are checked against it).
COUNTERS = Counters(("accounts",), handlers.ID_NUMBERS, _numbers_in_use)
DOCUMENTS = {
    "loyalty.accounts": Documents(
        {
            "type": "object",
            "required": ["accountId", "loyaltyId", "profile", "emd"],
            "properties": {
                "accountId": _STR,
                "loyaltyId": _STR,
                "externalId": _STR,
                "partnerLinkId": _STR,
                "externalAgentId": _STR,
                "profile": _PROFILE,
                "emd": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
        key="accountId",
    ),
    "loyalty.sessions": Documents(
        {
            "type": "object",
            "required": ["correlationId", "accountId", "channel"],
            "properties": {
                "correlationId": _STR,
                "accountId": _STR,
                "channel": _STR,
                "externalAgentSessionId": _STR,
            },
        },
        key="correlationId",
    ),
    "loyalty.emdKeys": Documents(
        {
            "type": "object",
            "required": ["key", "source"],
            "properties": {"key": _STR, "source": _STR},
        },
        key="key",
    ),
    "loyalty.counters": COUNTERS.documents(),
}


_USERS = "/client/users/"
_PROFILE_TAILS = ("/profile", "/profile/", "/profile/emd", "/profile/emd/")


def _blank_session(path: str) -> bool:
    """A member-profile path whose correlation id is empty or whitespace (an empty one leaves
    an empty path segment): string operations, each reading the path once."""
    return path.startswith(_USERS) and path[len(_USERS) :].lstrip() in _PROFILE_TAILS


def unrouted(method: str, path: str, method_not_allowed: bool) -> VendorError:
    if _blank_session(path):
        return errors.MISSING_CORRELATION_ID
    if method_not_allowed:
        return errors.METHOD_NOT_ALLOWED.fill(method=method, path=path)
    return errors.RESOURCE_NOT_FOUND.fill(method=method, path=path)


VENDOR = Vendor(
    name="loyalty",
    spec="loyalty.yaml",
    prefix="/client/",
    handlers=handlers,
    errors=errors.CATALOGUE,
    collections={
        "loyalty.accounts": {
            "email": lambda a: (a["profile"].get("email") or "").lower() or None,
            "loyaltyId": lambda a: a.get("loyaltyId"),
            "externalId": lambda a: a.get("externalId"),
            "partnerLinkId": lambda a: a.get("partnerLinkId"),
            "externalAgentId": lambda a: a.get("externalAgentId"),
            "phoneNumber": lambda a: handlers.digits(a["profile"].get("phoneNumber")),
        },
        "loyalty.sessions": {},
        "loyalty.emdKeys": {},
        "loyalty.counters": {},
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
    head_too_large=errors.HEADERS_TOO_LARGE,
    unavailable=errors.SERVICE_UNAVAILABLE,
)
