"""ES Loyalty CUX API errors, copied from the Update Profile documentation (seed 000).

Wire shape: {"statusCode": <HTTP status>, "errorCode": ..., "errorMessage": ...}.
"""

from emulator.errors import VendorError


def _err(
    status: int, code: str, message: str, fidelity: str = "documented", **example: object
) -> VendorError:
    return VendorError(
        status,
        {"statusCode": status, "errorCode": code, "errorMessage": message},
        fidelity=fidelity,
        example=example,
    )


# Documented (seed 000, Error Responses table; placeholders are the vendor's).
MISSING_MANDATORY_FIELDS = _err(
    400,
    "INVALID_REQUEST",
    "The following missing fields are mandatory: {fields}",
    fields="dateOfBirth gender email postalCode",
)
EMAIL_ALREADY_EXISTS = _err(
    400, "EMAIL_ALREADY_EXISTS", "Sorry, that email address is already in use"
)
INVALID_BUSINESS_NAME = _err(400, "INVALID_REQUEST", "Provided business name is not valid")
EMD_SIZE_LIMIT = _err(
    400,
    "INVALID_REQUEST",
    "Invalid Extended data: Exceeded data size limit for extended data: {dataSize} Bytes",
    dataSize=5121,
)
EMD_KEY_LIMIT = _err(
    400,
    "INVALID_REQUEST",
    "Invalid Extended data: Exceeded root level key limit for extended data {numberOfKeys} keys",
    numberOfKeys=21,
)
EMD_ATTRIBUTES_IN_OTHER_SOURCE = _err(
    400,
    "INVALID_REQUEST",
    "Attribute(s) {attributes} are already used in another source.",
    attributes="casl, doNotEmail",
)
EMD_SOURCE_INTERNAL = _err(
    400, "INVALID_REQUEST", "INTERNAL cannot be used as extended data source."
)
EMD_SOURCE_INVALID = _err(
    400, "INVALID_REQUEST", "{value} is not valid extended data source.", value="UNKNOWN"
)
INVALID_POSTAL_CODE = _err(
    400, "INVALID_REQUEST", "Invalid PostalZipCode: {postalZipCode}", postalZipCode="ABC"
)
INVALID_PROVINCE_STATE = _err(
    400, "INVALID_REQUEST", "Invalid provinceState: {provinceState}", provinceState="ZZ"
)
MISSING_CORRELATION_ID = _err(400, "INVALID_REQUEST", "Must provide a session correlation ID")

# Inferred: same shape, messages in the style of the documented ones.
INVALID_FIELD = _err(
    400,
    "INVALID_REQUEST",
    "Invalid {field}: {value}",
    "inferred",
    field="dateOfBirth",
    value="1985-13-45",
)
INVALID_REQUEST_BODY = _err(
    400, "INVALID_REQUEST", "Invalid request: {detail}", "inferred", detail="Malformed JSON"
)
UNKNOWN_SESSION = _err(
    404,
    "NOT_FOUND",
    "Invalid session correlation ID: {correlationId}",
    "inferred",
    correlationId="c-unknown",
)
MISSING_CHANNEL = _err(400, "INVALID_REQUEST", "Must provide a channel", "inferred")
ACCOUNT_NOT_FOUND = _err(
    404,
    "NOT_FOUND",
    "No account found for {identifierType}: {identifier}",
    "inferred",
    identifierType="ACCOUNT_ID",
    identifier="0",
)
RESOURCE_NOT_FOUND = _err(
    404,
    "NOT_FOUND",
    "No resource at {method} {path}",
    "inferred",
    method="GET",
    path="/client/nope",
)
METHOD_NOT_ALLOWED = _err(
    405,
    "METHOD_NOT_ALLOWED",
    "Method {method} is not allowed on {path}",
    "inferred",
    method="DELETE",
    path="/client/users/c-1/profile",
)
PAYLOAD_TOO_LARGE = _err(413, "INVALID_REQUEST", "Request body too large", "inferred")
HEADERS_TOO_LARGE = _err(431, "INVALID_REQUEST", "Request header fields too large", "inferred")
RATE_LIMITED = _err(429, "TOO_MANY_REQUESTS", "Too many requests", "inferred")
INTERNAL_ERROR = _err(500, "INTERNAL_ERROR", "Internal server error", "inferred")
SERVICE_UNAVAILABLE = _err(
    503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable", "inferred"
)

CATALOGUE = {name: value for name, value in globals().items() if isinstance(value, VendorError)}
