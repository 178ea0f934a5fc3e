"""Oracle Commerce Cloud Admin API errors (seed 002, updateProfile "Default Response").

Wire shape: the seed's errorModel, ``{"errorCode": "22002", "message": ..., "status": "404"}``
with ``status`` and ``errorCode`` as strings. Catalogue names are ``commerce.<errorCode>``
for the seed's codes and ``commerce.<MEANING>`` for the inferred ones.
"""

from emulator.errors import VendorError


def _err(
    status: int,
    code: str,
    message: str,
    fidelity: str = "inferred",
    dev_message: str | None = None,
    **example: object,
) -> VendorError:
    body = {"errorCode": code, "message": message, "status": str(status)}
    if dev_message is not None:
        body["devMessage"] = dev_message
    return VendorError(status, body, fidelity=fidelity, example=example)


# Documented: the seed gives the message on the wire (templates {0}, {1} named here).
NOT_A_STRING = _err(
    400, "22024", "{field}({value}) must be a String", "documented", field="firstName", value="123"
)
LOYALTY_PROGRAMS_FORMAT = _err(
    400,
    "22025",
    "Format for loyaltyPrograms is incorrect. Please refer to API doc for more information",
    "documented",
)
MISSING_OR_INCORRECT = _err(
    400, "22026", "{field} is either missing or incorrect.", "documented", field="address1"
)
INVALID_STATE = _err(400, "22027", "Invalid state is provided.", "documented")
LAST_APPROVER_ROLE = _err(
    400,
    "100088",
    "You cannot remove the Approver role from this contact. The account has no other active "
    "Approvers. Approvals are still enabled and/or there are orders pending approval.",
    "documented",
)
LAST_APPROVER_DEACTIVATION = _err(
    400,
    "100089",
    "You cannot deactivate this contact. The account has no other active Approvers. Approvals "
    "are still enabled and/or there are orders pending approval",
    "documented",
)

# The seed gives the code and when it happens, not the words: messages inferred.
PROFILE_ID_BLANK = _err(400, "22000", "Profile id is null or empty.")
PROFILE_READ_FAILED = _err(500, "22001", "An internal error occurred while getting the profile.")
PROFILE_NOT_FOUND = _err(404, "22002", "No profile found with the given id: {id}", id="nope")
INVALID_INPUT = _err(
    400,
    "22007",
    "Invalid input provided.",
    dev_message="{detail}",
    detail="Malformed JSON: unexpected end of data: line 1 column 2 (char 1)",
)
INVALID_ROLES = _err(400, "89001", "Invalid roles provided: {roles}", roles="superuser")
ADMIN_ROLE_SELF_REMOVAL = _err(400, "89003", "You cannot remove the admin role from yourself.")

# Not in the seed at all: same errorModel, for auth, limits, routing and injected faults.
EMAIL_IN_USE = _err(
    400, "22007", "Email address {email} is already in use.", email="kim@example.com"
)
LOGIN_IN_USE = _err(400, "22007", "Login {login} is already in use.", login="kim@example.com")
INVALID_QUERY = _err(
    400,
    "000400",
    "Invalid query.",
    dev_message="{detail}",
    detail="q: expected an operator after 'email' at character 6, found the end",
)
UNAUTHORIZED = _err(401, "000002", "Authorization required.")
RESOURCE_NOT_FOUND = _err(
    404, "000404", "No resource found at {method} {path}.", method="GET", path="/ccadmin/v1/nothing"
)
METHOD_NOT_ALLOWED = _err(
    405,
    "000405",
    "Method {method} is not allowed on {path}.",
    method="TRACE",
    path="/ccadmin/v1/profiles/se-570031",
)
FAILED_MESSAGE_NOT_FOUND = _err(
    404, "000404", "No failed message found with the given id: {id}", id="299999"
)
WEBHOOK_NOT_FOUND = _err(404, "000404", "No webhook found with the given id: {id}", id="nope")
PAYLOAD_TOO_LARGE = _err(413, "22007", "Request body too large.")
HEADERS_TOO_LARGE = _err(431, "22007", "Request header fields too large.")
TOO_MANY_REQUESTS = _err(429, "000429", "Too many requests.")
INTERNAL_ERROR = _err(500, "000500", "Internal server error.")
SERVICE_UNAVAILABLE = _err(503, "000503", "Service temporarily unavailable.")

CATALOGUE: dict[str, VendorError] = {
    "22000": PROFILE_ID_BLANK,
    "22001": PROFILE_READ_FAILED,
    "22002": PROFILE_NOT_FOUND,
    "22007": INVALID_INPUT,
    "22024": NOT_A_STRING,
    "22025": LOYALTY_PROGRAMS_FORMAT,
    "22026": MISSING_OR_INCORRECT,
    "22027": INVALID_STATE,
    "89001": INVALID_ROLES,
    "89003": ADMIN_ROLE_SELF_REMOVAL,
    "100088": LAST_APPROVER_ROLE,
    "100089": LAST_APPROVER_DEACTIVATION,
    "EMAIL_IN_USE": EMAIL_IN_USE,
    "LOGIN_IN_USE": LOGIN_IN_USE,
    "INVALID_QUERY": INVALID_QUERY,
    "UNAUTHORIZED": UNAUTHORIZED,
    "RESOURCE_NOT_FOUND": RESOURCE_NOT_FOUND,
    "METHOD_NOT_ALLOWED": METHOD_NOT_ALLOWED,
    "FAILED_MESSAGE_NOT_FOUND": FAILED_MESSAGE_NOT_FOUND,
    "WEBHOOK_NOT_FOUND": WEBHOOK_NOT_FOUND,
    "PAYLOAD_TOO_LARGE": PAYLOAD_TOO_LARGE,
    "HEADERS_TOO_LARGE": HEADERS_TOO_LARGE,
    "TOO_MANY_REQUESTS": TOO_MANY_REQUESTS,
    "INTERNAL_ERROR": INTERNAL_ERROR,
    "SERVICE_UNAVAILABLE": SERVICE_UNAVAILABLE,
}
