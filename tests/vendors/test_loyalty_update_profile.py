"""ES Loyalty updateProfile over HTTP: every documented error (status and whole body), the
success path, read-back, and the check order of docs/decisions.md#2."""

from __future__ import annotations

import pytest

from emulator.vendors.loyalty import errors

PROFILE = "/client/users/seed-session-1/profile"
VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}


def body_of(error, **params):
    filled = error.fill(**params)
    return filled.status, dict(filled.body)


def put(http, body, path=PROFILE):
    r = http.put(path, json=body)
    return r.status_code, r.json()


def test_valid_update_returns_profile_updated(http):
    assert put(http, {**VALID, "city": "Montreal"}) == (200, {"debugMessage": "Profile Updated"})


def test_update_is_read_back_and_omitted_attributes_are_kept(http):
    put(http, {**VALID, "firstName": "Augusta", "city": "London", "postalZipCode": "90210-1234"})
    put(http, {**VALID, "firstName": "", "postalZipCode": "h0h0h0"})
    profile = http.get(PROFILE).json()
    assert profile == {
        "accountId": "1000000001",
        "loyaltyId": "7000000001",
        "firstName": "",
        "lastName": "Lovelace",
        "dateOfBirth": "1985-12-10",
        "gender": "F",
        "email": "ada@example.com",
        "postalZipCode": "h0h0h0",
        "city": "London",
        "provinceState": "QC",
        "phoneNumber": "(514) 555-0100",
        "languagePreference": "en-CA",
    }


def test_documented_missing_fields_message(http):
    assert put(http, {"firstName": "Ada", "lastName": "Lovelace"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "The following missing fields are mandatory: dateOfBirth gender email postalCode",
        },
    )


def test_null_counts_as_missing_and_names_come_first(http):
    assert put(http, {**VALID, "firstName": None, "email": None}) == body_of(
        errors.MISSING_MANDATORY_FIELDS, fields="firstName email"
    )


def test_deprecated_postal_code_is_accepted_as_alias(http):
    body = {k: v for k, v in VALID.items() if k != "postalZipCode"} | {"postalCode": "12345"}
    assert put(http, body)[0] == 200
    assert http.get(PROFILE).json()["postalZipCode"] == "12345"


def test_email_already_exists_case_insensitive(http):
    assert put(http, {**VALID, "email": "GRACE@example.COM"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "EMAIL_ALREADY_EXISTS",
            "errorMessage": "Sorry, that email address is already in use",
        },
    )


def test_keeping_own_email_is_not_a_conflict(http):
    assert put(http, {**VALID, "email": "ADA@example.com"})[0] == 200


def test_business_name_over_100_characters(http):
    assert put(http, {**VALID, "businessName": "x" * 100})[0] == 200
    assert put(http, {**VALID, "businessName": "x" * 101}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Provided business name is not valid",
        },
    )


def test_extended_data_size_limit(http):
    emd = {"notes": "x" * 5200}  # {"notes":"xxx..."} = 5212 bytes of compact JSON
    assert put(http, {**VALID, "extendedData": emd, "extendedDataSource": "MARKETING"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Invalid Extended data: Exceeded data size limit for extended data: 5212 Bytes",
        },
    )


def test_extended_data_exactly_at_size_limit_passes(http):
    emd = {"notes": "x" * (5120 - len('{"notes":""}'))}
    assert put(http, {**VALID, "extendedData": emd, "extendedDataSource": "MARKETING"})[0] == 200


def test_extended_data_root_key_limit_counts_keys_across_the_program(http):
    # The fixtures hold 2 root keys (casl, doNotEmail); 18 more reach the limit of 20.
    first = {f"k{i}": i for i in range(18)}
    assert (
        put(
            http,
            {**VALID, "extendedData": {"casl": True, **first}, "extendedDataSource": "MARKETING"},
        )[0]
        == 200
    )
    assert put(
        http, {**VALID, "extendedData": {"one_more": 1}, "extendedDataSource": "MARKETING"}
    ) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Invalid Extended data: Exceeded root level key limit for extended data 21 keys",
        },
    )


def test_attributes_already_used_in_another_source(http):
    body = {
        **VALID,
        "extendedData": {"casl": True, "bank": "x", "doNotEmail": False},
        "extendedDataSource": "PARTNERSHIP",
    }
    assert put(http, body) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Attribute(s) casl, doNotEmail are already used in another source.",
        },
    )


def test_internal_source_refused(http):
    assert put(http, {**VALID, "extendedData": {}, "extendedDataSource": "INTERNAL"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "INTERNAL cannot be used as extended data source.",
        },
    )


def test_unknown_source_refused(http):
    assert put(http, {**VALID, "extendedData": {}, "extendedDataSource": "CRM"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "CRM is not valid extended data source.",
        },
    )


@pytest.mark.parametrize("code", ["ABC", "H0H-0H0", "1234", "123456", "12345-678"])
def test_invalid_postal_zip_code(http, code):
    assert put(http, {**VALID, "postalZipCode": code}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": f"Invalid PostalZipCode: {code}",
        },
    )


@pytest.mark.parametrize("code", ["H0H0H0", "K1A 0B1", "00000", "12345-6789"])
def test_valid_postal_zip_codes(http, code):
    assert put(http, {**VALID, "postalZipCode": code})[0] == 200


def test_invalid_province_state(http):
    assert put(http, {**VALID, "provinceState": "ZZ"}) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Invalid provinceState: ZZ",
        },
    )


@pytest.mark.parametrize("path", ["/client/users/%20/profile", "/client/users//profile"])
def test_blank_correlation_id(http, path):
    assert put(http, VALID, path) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Must provide a session correlation ID",
        },
    )


def test_unknown_correlation_id_is_inferred_not_found(http):
    assert put(http, VALID, "/client/users/nope/profile") == body_of(
        errors.UNKNOWN_SESSION, correlationId="nope"
    )
    assert errors.UNKNOWN_SESSION.status == 404


@pytest.mark.parametrize(
    "field,value",
    [
        ("dateOfBirth", "1985-13-45"),
        ("dateOfBirth", "10/12/1985"),
        ("gender", "X"),
        ("email", "ada@example"),
        ("email", "ada.example.com"),
        ("phoneNumber", "514-555-0100"),
        ("languagePreference", "de-DE"),
    ],
)
def test_other_field_formats_are_refused_inferred(http, field, value):
    assert put(http, {**VALID, field: value}) == body_of(
        errors.INVALID_FIELD, field=field, value=value
    )


# Check order (docs/decisions.md#2): body shape, session, mandatory, formats, EMD source,
# EMD limits, multi-source uniqueness, email uniqueness.


def test_order_body_shape_before_session(http):
    status, body = put(http, {"firstName": 1}, "/client/users/nope/profile")
    prefix = "Invalid request: firstName: "  # then the schema validator's own words
    message = body.pop("errorMessage")
    assert (status, body) == (400, {"statusCode": 400, "errorCode": "INVALID_REQUEST"})
    assert message.startswith(prefix) and len(message) > len(prefix)


def test_order_session_before_mandatory(http):
    assert put(http, {}, "/client/users/nope/profile")[1]["errorMessage"].startswith(
        "Invalid session correlation ID"
    )


def test_order_mandatory_before_formats(http):
    assert put(http, {"firstName": "a", "lastName": "b", "postalZipCode": "bad"}) == body_of(
        errors.MISSING_MANDATORY_FIELDS, fields="dateOfBirth gender email"
    )


def test_order_formats_follow_the_body_table(http):
    body = {**VALID, "provinceState": "ZZ", "postalZipCode": "bad", "gender": "X"}
    assert put(http, body) == body_of(errors.INVALID_FIELD, field="gender", value="X")
    body = {**VALID, "provinceState": "ZZ", "postalZipCode": "bad"}
    assert put(http, body) == body_of(errors.INVALID_POSTAL_CODE, postalZipCode="bad")


def test_order_formats_before_source_before_limits(http):
    big = {"notes": "x" * 6000}
    assert (
        put(
            http, {**VALID, "provinceState": "ZZ", "extendedDataSource": "CRM", "extendedData": big}
        )[1]["errorMessage"]
        == "Invalid provinceState: ZZ"
    )
    assert (
        put(http, {**VALID, "extendedDataSource": "CRM", "extendedData": big})[1]["errorMessage"]
        == "CRM is not valid extended data source."
    )


def test_order_limits_before_other_source_before_email(http):
    big = {"casl": True, "notes": "x" * 6000}
    body = {**VALID, "email": "grace@example.com", "extendedDataSource": "PPN"}
    assert put(http, {**body, "extendedData": big})[1]["errorMessage"].startswith(
        "Invalid Extended data: Exceeded data size limit"
    )
    assert put(http, {**body, "extendedData": {"casl": True}})[1]["errorMessage"] == (
        "Attribute(s) casl are already used in another source."
    )
    assert (
        put(http, {**body, "extendedData": {"fresh": 1}})[1]["errorCode"] == "EMAIL_ALREADY_EXISTS"
    )


def test_failed_update_changes_nothing(http):
    before = http.get(PROFILE).json()
    put(http, {**VALID, "firstName": "Changed", "email": "grace@example.com"})
    assert http.get(PROFILE).json() == before


def test_null_optional_field_is_refused_inferred(http):
    assert put(http, {**VALID, "retailId": None}) == body_of(
        errors.INVALID_FIELD, field="retailId", value="null"
    )
