"""The compose file's default test job (container/compose.yaml): checks the emulator service
the way a partner's tests use it, from the emulator's own image (its Python and its control
client are there: nothing to install, no network but the emulator's). Replace the job with
your own tests.

    EMULATOR_URL=http://emulator:8080 EMULATOR_CONTROL_TOKEN=... python smoke.py

Prints a line per check and exits 0 when all pass, 1 at the first that does not.
"""

from __future__ import annotations

import os
import sys
import uuid

import httpx

from emulator.client import Emulator

UPDATE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}
EMAIL_TAKEN = {  # ES Loyalty's documented body for a taken email
    "statusCode": 400,
    "errorCode": "EMAIL_ALREADY_EXISTS",
    "errorMessage": "Sorry, that email address is already in use",
}


def check(what: str, got: object, wanted: object) -> None:
    if got != wanted:
        print(f"smoke: FAILED {what}: got {got!r}, wanted {wanted!r}", flush=True)
        sys.exit(1)
    print(f"smoke: ok {what}", flush=True)


def main() -> None:
    url = os.environ.get("EMULATOR_URL", "http://emulator:8080")
    token = os.environ.get("EMULATOR_CONTROL_TOKEN")
    with Emulator(url, f"smoke-{uuid.uuid4().hex[:12]}", token=token) as emulator:
        check("health", emulator.health(), True)
        emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
        profile = f"{url}/client/users/seed-session-1/profile"
        with httpx.Client(headers=emulator.headers, timeout=10) as vendor:
            first = vendor.put(profile, json=UPDATE)
            check("an injected error", (first.status_code, first.json()), (400, EMAIL_TAKEN))
            second = vendor.put(profile, json=UPDATE)
            check("then success", second.status_code, 200)
        journal = [call["status"] for call in emulator.requests(operation="updateProfile")]
        check("the journal", journal, [400, 200])
        emulator.reset()
        check("reset", emulator.requests(), [])
    print("smoke: the emulator at", url, "answers as documented", flush=True)


if __name__ == "__main__":
    main()
