"""Tiny's errors, as its spec documents them."""

from emulator.errors import VendorError

NOT_FOUND = VendorError(404, {"code": "NOT_FOUND", "text": "No item {item}"}, example={"item": "x"})
INVALID = VendorError(400, {"code": "INVALID", "text": "{detail}"}, example={"detail": "name"})
BUSY = VendorError(503, {"code": "BUSY", "text": "Try again later"})
TOO_LARGE = VendorError(413, {"code": "TOO_LARGE", "text": "Too large"})
INTERNAL = VendorError(500, {"code": "INTERNAL", "text": "Internal error"})
HEAD_TOO_LARGE = VendorError(431, {"code": "HEAD_TOO_LARGE", "text": "Headers too large"})
NO_ROUTE = VendorError(404, {"code": "NO_ROUTE", "text": "{method} {path}"})
NO_METHOD = VendorError(405, {"code": "NO_METHOD", "text": "{method} {path}"})

CATALOGUE = {"NOT_FOUND": NOT_FOUND, "INVALID": INVALID, "BUSY": BUSY}
