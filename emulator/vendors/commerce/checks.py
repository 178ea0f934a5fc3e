"""updateProfile/createProfile input checks, in one fixed order (first failure wins).

Order: body shape (22007, 22025 for loyaltyPrograms), string types (22024), loyaltyPrograms
format (22025), fields (22026), password confirmation (22007), addresses (22026, 22027),
roles (89001). The handler then loads the profile (22002) and applies the rules that need
state: own admin role (89003), last approver (100088, 100089), email in use.
Which fields are strings comes from the spec's types (``type: string``) and which are
required from its marks (``x-vendor-required``), so contract and checks cannot drift apart.
The spec's type errors of those string fields wait for :func:`check_strings` (22024).
"""

from __future__ import annotations

from typing import Any

import orjson

from emulator import specs
from emulator.errors import DETAIL, VENDOR_VALUE, EmulatedError, RequestInvalid, VendorError, echo
from emulator.jsonyaml import json_path
from emulator.schemas import is_email  # the same rule as the spec's format: email
from emulator.state import Store
from emulator.vendors.commerce import errors, regions
from emulator.vendors.commerce.profiles import (
    present,
    role_function,
    role_org,
    sent_country,
    sent_state,
)

_SCHEMAS = specs.shared("commerce.yaml")["components"]["schemas"]
_PROFILE = _SCHEMAS["ProfileUpdateRequest"]
_DEFAULT_ADDRESS = _SCHEMAS["DefaultShippingAddressInput"]
_ADDRESS = _SCHEMAS["ShippingAddressInput"]
_CREATED = _SCHEMAS["ProfileCreateRequest"]["allOf"][1]


def _marked(schema: dict[str, Any], mark: str) -> tuple[str, ...]:
    return tuple(name for name, prop in schema["properties"].items() if prop.get(mark))


def _strings(schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        name for name, prop in schema["properties"].items() if prop.get("type") == "string"
    )


PROFILE_STRINGS = _strings(_PROFILE) + _strings(_CREATED)  # login: createProfile's alone
ADDRESS_STRINGS = _strings(_ADDRESS)
DEFAULT_ADDRESS_STRINGS = _strings(_DEFAULT_ADDRESS)
ADDRESS_REQUIRED = _marked(_ADDRESS, "x-vendor-required")
DEFAULT_ADDRESS_REQUIRED = _marked(_DEFAULT_ADDRESS, "x-vendor-required")
CREATE_REQUIRED = tuple(_SCHEMAS["ProfileCreateRequest"]["x-vendor-required"])
RECEIVE_EMAIL = _PROFILE["properties"]["receiveEmail"]["x-vendor-enum"]
# Body members with a JSON container type in the spec: their failures wait for the handler,
# which reports them after the auth check (22025 for loyaltyPrograms, 22007 otherwise).
CONTAINERS = ("shippingAddress", "shippingAddresses", "roles", "loyaltyPrograms")
# A role's string fields: one of another type is an invalid role (89001, check_roles), so the
# spec's type error is the handler's to judge (a repositoryId, which is never read, is left be).
ROLE_STRINGS = (
    *_strings(_SCHEMAS["RoleInput"]),
    *(f"relativeTo.{name}" for name in _strings(_SCHEMAS["RoleOrganizationInput"])),
)
# OCC's predefined account-based role functions.
ROLE_FUNCTIONS = ("admin", "buyer", "approver", "accountAddressManager", "profileAddressManager")


def _describe(error: Any) -> str:
    where = json_path(error.absolute_path)
    return f"{where or 'body'}: {echo(error.message, DETAIL)}"


def _string_type_error(error: Any) -> bool:
    """A string field of the body, its address or one of its addresses sent as another JSON
    type (or as a null the spec refuses): check_strings and the field checks report it."""
    if error.validator != "type":
        return False
    path = list(error.absolute_path)
    if len(path) == 1:
        return path[0] in PROFILE_STRINGS
    if len(path) == 2 and path[0] == "shippingAddress":
        return path[1] in DEFAULT_ADDRESS_STRINGS
    if len(path) == 3 and path[0] == "shippingAddresses" and isinstance(path[1], int):
        return path[2] in ADDRESS_STRINGS
    return _role_value_error(error)


def _role_value_error(error: Any) -> bool:
    """A role's string field of another type: check_roles judges the role (89001)."""
    path = list(error.absolute_path)
    return (
        error.validator == "type"
        and len(path) >= 3
        and path[0] == "roles"
        and isinstance(path[1], int)
        and ".".join(map(str, path[2:])) in ROLE_STRINGS
    )


def _deferrable(error: Any) -> bool:
    path = list(error.absolute_path)
    if not path:
        return bool(error.validator == "type")
    return path[0] in CONTAINERS or _string_type_error(error)


def invalid_request(exc: RequestInvalid) -> VendorError | None:
    """Spec failures of a profile body wait for the handler (auth comes first); anything else
    (malformed JSON, an empty body, a bad login form, a wrong media type) is 22007 at once."""
    if exc.errors and all(_deferrable(error) for error in exc.errors):
        return None
    return _invalid_input(_describe(exc.errors[0]) if exc.errors else exc.detail)


def _invalid_input(detail: str) -> VendorError:
    return errors.INVALID_INPUT.fill(detail=echo(detail, DETAIL))


def unreported(deferred: list[Any]) -> VendorError | None:
    """Spec failures still unreported when a handler's checks are done: invalid input (22007).
    A role's field of another type is not one: check_roles has judged the role."""
    left = [error for error in deferred if not _role_value_error(error)]
    return _invalid_input(_describe(left[0])) if left else None


def check_shape(deferred: list[Any]) -> None:
    """22007 (22025 for loyaltyPrograms) for the first spec failure that is not a string
    field's type: those are 22024s (check_strings) or, for a refused null, 22026s."""
    shape = [error for error in deferred if not _string_type_error(error)]
    if shape:
        first = shape[0]
        if list(first.absolute_path)[:1] == ["loyaltyPrograms"]:
            raise EmulatedError(errors.LOYALTY_PROGRAMS_FORMAT)
        raise EmulatedError(errors.INVALID_INPUT, detail=_describe(first))


def _check_strings(obj: dict[str, Any], fields: tuple[str, ...]) -> None:
    for field in fields:
        value = obj.get(field)
        if value is not None and not isinstance(value, str):
            raise EmulatedError(
                errors.NOT_A_STRING,
                field=field,
                value=echo(orjson.dumps(value).decode(), VENDOR_VALUE),
            )


def check_strings(body: dict[str, Any]) -> None:
    """22024 ``{0}({1}) must be a String``: null is allowed (it clears or is checked later)."""
    _check_strings(body, PROFILE_STRINGS)
    if isinstance(body.get("shippingAddress"), dict):
        _check_strings(body["shippingAddress"], DEFAULT_ADDRESS_STRINGS)
    for address in body.get("shippingAddresses") or []:
        _check_strings(address, ADDRESS_STRINGS)


def _repository_number(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.isascii() and value.isdigit() and len(value) <= 15
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def check_loyalty_programs(body: dict[str, Any]) -> None:
    """22025: each membership an object with string programId and membershipId."""
    for program in body.get("loyaltyPrograms") or []:
        if not (
            isinstance(program, dict)
            and all(present(program.get(key)) for key in ("programId", "membershipId"))
            and all(
                isinstance(program.get(key), (str, type(None))) for key in ("programName", "status")
            )
            and _repository_number(program.get("repositoryId"))
        ):
            raise EmulatedError(errors.LOYALTY_PROGRAMS_FORMAT)


def _incorrect(field: str) -> EmulatedError:
    return EmulatedError(errors.MISSING_OR_INCORRECT, field=field)


def check_fields(store: Store, body: dict[str, Any], creating: bool) -> None:
    """22026 ``{0} is either missing or incorrect.``: names and email needed (create) and
    never blanked (update), a well-formed email, receiveEmail yes/no, active a boolean,
    parentOrganization a known organization."""
    for field in CREATE_REQUIRED:
        if (creating or field in body) and not present(body.get(field)):
            raise _incorrect(field)
    if "email" in body and not is_email(body["email"]):
        raise _incorrect("email")
    if "receiveEmail" in body and body["receiveEmail"] not in RECEIVE_EMAIL:
        raise _incorrect("receiveEmail")
    if "active" in body and body["active"] not in (True, False, "true", "false"):
        raise _incorrect("active")
    parent = body.get("parentOrganization")
    if parent is not None and parent not in store["commerce.organizations"]:
        raise _incorrect("parentOrganization")


def check_password(body: dict[str, Any]) -> None:
    """22007: newConfirmPassword must match newPassword."""
    new = body.get("newPassword")
    if (new is not None or body.get("newConfirmPassword") is not None) and new != body.get(
        "newConfirmPassword"
    ):
        raise EmulatedError(
            errors.INVALID_INPUT, detail="newConfirmPassword does not match newPassword"
        )


def _check_address(address: dict[str, Any], required: tuple[str, ...]) -> None:
    for field in required:
        value = (
            sent_country(address)
            if field == "country"
            else sent_state(address)
            if field == "state"
            else address.get(field)
        )
        if not present(value):
            raise _incorrect(field)
    code = regions.country_code(sent_country(address))
    if code is not None and regions.state_code(code, sent_state(address)) is None:
        raise EmulatedError(errors.INVALID_STATE)


def check_addresses(body: dict[str, Any]) -> None:
    """22026 for a missing required field, 22027 for a state its (known) country lacks."""
    for address in body.get("shippingAddresses") or []:
        _check_address(address, ADDRESS_REQUIRED)
    if body.get("shippingAddress"):  # {} clears the default slot
        _check_address(body["shippingAddress"], DEFAULT_ADDRESS_REQUIRED)


def check_roles(store: Store, body: dict[str, Any], parent: str | None) -> None:
    """89001: a role needs a known function and an organization (relativeTo or the parent)."""
    organizations = store["commerce.organizations"]
    bad = []
    for role in body.get("roles") or []:
        function, org = role_function(role), role_org(role, parent)
        if function not in ROLE_FUNCTIONS or not isinstance(org, str) or org not in organizations:
            bad.append(
                function
                if isinstance(function, str)
                else echo(orjson.dumps(role).decode(), VENDOR_VALUE)
            )
    if bad:
        raise EmulatedError(errors.INVALID_ROLES, roles=echo(", ".join(bad), DETAIL))


def check_input(
    store: Store, body: Any, deferred: list[Any], creating: bool, parent: str | None
) -> None:
    """Every check that needs the body only (and the organizations), in the order above."""
    check_shape(deferred)
    check_strings(body)
    check_loyalty_programs(body)
    check_fields(store, body, creating)
    check_password(body)
    check_addresses(body)
    check_roles(store, body, body.get("parentOrganization", parent))
