"""updateProfile's documented checks, in the order docs/decisions.md#2 fixes (first failure
wins)."""

from __future__ import annotations

from typing import Any

import orjson

from emulator.errors import DETAIL, EmulatedError, RequestInvalid, VendorError, echo
from emulator.state import Store
from emulator.vendors.loyalty import errors

# The seed's body table, top to bottom: field-format errors are reported in this order.
BODY_TABLE_ORDER = [
    "dateOfBirth",
    "gender",
    "firstName",
    "lastName",
    "email",
    "businessName",
    "postalZipCode",
    "postalCode",
    "street",
    "street2",
    "provinceState",
    "phoneNumber",
    "languagePreference",
    "city",
    "extendedDataSource",
    "channel",
    "extendedData",
    "enrollmentChannel",
    "retailId",
]
# Value constraints whose failure the handler reports (in order) rather than the validator.
DEFERRED_KEYWORDS = {"enum", "pattern", "format", "maxLength", "minLength"}
# A mandatory field name -> the body keys that can carry it (postalCode is postalZipCode's alias).
FIELD_ALIASES = {"postalCode": ("postalZipCode", "postalCode")}
DEFAULT_SOURCE = "DEFAULT"  # EMD sent without extendedDataSource (single-source programs)


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "body"
    return f"{where}: {echo(error.message, DETAIL)}"


def _mandatory(error: Any) -> bool:
    """A missing mandatory field: judged by check_mandatory against the namespace's
    configured list (docs/decisions.md#1), postalZipCode or its alias postalCode among them."""
    return not error.absolute_path and error.validator == "required"


def _shown(error: Any) -> Any:
    """The refused value as a message shows it (null for None)."""
    return "null" if error.instance is None else error.instance


def invalid_request(exc: RequestInvalid) -> VendorError | None:
    """Body-shape failures are reported at once; missing and badly formatted fields are left
    to the handler, which reports them in the vendor's check order (None = defer)."""
    if not exc.errors:
        return errors.INVALID_REQUEST_BODY.fill(detail=echo(exc.detail, DETAIL))
    for error in exc.errors:
        path = list(error.absolute_path)
        if _mandatory(error):
            continue
        if len(path) == 1 and (error.instance is None or error.validator in DEFERRED_KEYWORDS):
            continue
        return errors.INVALID_REQUEST_BODY.fill(detail=_describe(error))
    return None


def unreported(deferred: list[Any]) -> VendorError | None:
    """Spec failures still unreported when a handler's checks are done: a field the body
    table does not list (an enrolment identifier, a session's externalAgentSessionId), as an
    INVALID_REQUEST naming it. Missing mandatory fields are not among them: which fields are
    mandatory is the namespace's configuration (docs/decisions.md#1), judged by check_mandatory."""
    for error in deferred:
        path = list(error.absolute_path)
        if _mandatory(error):
            continue
        if len(path) == 1:
            return errors.INVALID_FIELD.fill(field=path[0], value=_shown(error))
        return errors.INVALID_REQUEST_BODY.fill(detail=_describe(error))
    return None


def missing_fields(body: dict[str, Any], mandatory: list[str]) -> list[str]:
    """Mandatory fields that are absent or null (firstName/lastName may be empty strings)."""
    missing = []
    for name in mandatory:
        aliases = FIELD_ALIASES.get(name)
        if aliases is None:
            if body.get(name) is None:
                missing.append(name)
        elif all(body.get(key) is None for key in aliases):
            missing.append(name)
    return missing


def check_mandatory(body: dict[str, Any], config: dict[str, Any]) -> None:
    missing = missing_fields(body, config["mandatoryFields"])
    if missing:
        raise EmulatedError(errors.MISSING_MANDATORY_FIELDS, fields=" ".join(missing))


def check_formats(deferred: list[Any]) -> None:
    """The first badly formatted field, in body-table order, with its documented message.

    A null mandatory field was reported as missing before this runs; any other null
    (an optional field, or the unused one of postalZipCode/postalCode) is a bad value
    (inferred: the spec makes no field nullable)."""
    if not deferred:
        return
    failures: dict[str, Any] = {}
    for error in deferred:
        path = list(error.absolute_path)
        if len(path) != 1:
            continue
        if error.instance is None or error.validator in DEFERRED_KEYWORDS:
            failures.setdefault(path[0], _shown(error))
    for field in BODY_TABLE_ORDER:
        if field in failures:
            value = failures[field]
            if field in ("postalZipCode", "postalCode"):
                raise EmulatedError(errors.INVALID_POSTAL_CODE, postalZipCode=value)
            if field == "provinceState":
                raise EmulatedError(errors.INVALID_PROVINCE_STATE, provinceState=value)
            if field == "businessName":
                raise EmulatedError(errors.INVALID_BUSINESS_NAME)
            if field == "extendedDataSource":  # e.g. blank: the documented source message
                raise EmulatedError(errors.EMD_SOURCE_INVALID, value=value)
            raise EmulatedError(errors.INVALID_FIELD, field=field, value=value)


def emd_source(body: dict[str, Any], config: dict[str, Any]) -> str:
    source: str | None = body.get("extendedDataSource")
    if source is None:
        return DEFAULT_SOURCE
    if source == "INTERNAL":
        raise EmulatedError(errors.EMD_SOURCE_INTERNAL)
    if source not in config["validSources"]:
        raise EmulatedError(errors.EMD_SOURCE_INVALID, value=source)
    return source


def check_emd(store: Store, emd: dict[str, Any], source: str, config: dict[str, Any]) -> list[str]:
    """Limits, then multi-source uniqueness; returns the root keys new to the program."""
    limits = config["extendedData"]
    size = len(orjson.dumps(emd))  # compact UTF-8 JSON
    if size > limits["dataSizeLimitKb"] * 1024:
        raise EmulatedError(errors.EMD_SIZE_LIMIT, dataSize=size)
    registry = store["loyalty.emdKeys"]
    new_keys, taken = [], []
    for key in emd:
        entry = registry.get(key)
        if entry is None:
            new_keys.append(key)
        elif entry["source"] != source:
            taken.append(key)
    total = len(registry) + len(new_keys)
    if total > limits["topLevelKeysLimit"]:
        raise EmulatedError(errors.EMD_KEY_LIMIT, numberOfKeys=total)
    if taken:
        raise EmulatedError(errors.EMD_ATTRIBUTES_IN_OTHER_SOURCE, attributes=", ".join(taken))
    return new_keys


def check_email(store: Store, email: str | None, account_id: str | None) -> None:
    if email is None:
        return
    owner = store["loyalty.accounts"].find("email", email.lower())
    if owner is not None and owner["accountId"] != account_id:
        raise EmulatedError(errors.EMAIL_ALREADY_EXISTS)


def check_fields(body: dict[str, Any], deferred: list[Any], config: dict[str, Any]) -> None:
    """The checks of the body itself, after the session one: mandatory fields, then formats."""
    check_mandatory(body, config)
    check_formats(deferred)


def check_business(
    store: Store, body: dict[str, Any], config: dict[str, Any], account_id: str | None
) -> tuple[str, list[str]]:
    """The business rules, after the body's checks; returns (EMD source, new root keys)."""
    source = emd_source(body, config)
    new_keys: list[str] = []
    if body.get("extendedData") is not None:
        new_keys = check_emd(store, body["extendedData"], source, config)
    check_email(store, body.get("email"), account_id)
    return source, new_keys
