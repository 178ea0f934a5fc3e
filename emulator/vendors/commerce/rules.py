"""updateProfile's rules that need state: the caller's own admin role (89003), the last
active approver of an organization with approvals on (100088, 100089), email in use (unless
the namespace allows duplicate emails) and, on creation, login in use.

They run on the stored profile and the (checked) body, before anything is written.
"""

from __future__ import annotations

from typing import Any

from emulator.errors import EmulatedError
from emulator.state import Store
from emulator.vendors.commerce import errors
from emulator.vendors.commerce.profiles import role_function, role_keys, role_org

RoleKey = tuple[Any, Any]  # (function, organization id)


def approvals_on(org: dict[str, Any]) -> bool:
    """ "Approvals are still enabled and/or there are orders pending approval" (seed)."""
    return bool(org.get("approvalRequired")) or org.get("ordersPendingApproval", 0) > 0


def last_active_approver(store: Store, profile_id: str, org_id: Any) -> bool:
    """The organization has approvals on and no active profile but ``profile_id`` approves for it."""
    org = store["commerce.organizations"].get(org_id) if isinstance(org_id, str) else None
    if org is None or not approvals_on(org):
        return False
    return not any(
        p["id"] != profile_id
        and p["active"] == "true"
        and ("approver", org_id) in role_keys(p["roles"])
        for p in store["commerce.profiles"]
    )


def _roles_after(stored: dict[str, Any], body: dict[str, Any]) -> set[RoleKey]:
    if "roles" not in body:
        return role_keys(stored["roles"])
    parent = body.get("parentOrganization", stored["parentOrganization"])
    return {(role_function(role), role_org(role, parent)) for role in body["roles"]}


def check_rules(
    store: Store,
    stored: dict[str, Any] | None,
    body: dict[str, Any],
    subject: dict[str, str] | None,
    config: dict[str, Any],
) -> None:
    if stored is not None:
        before, after = role_keys(stored["roles"]), _roles_after(stored, body)
        removed = before - after
        is_self = subject is not None and subject == {"type": "profile", "id": stored["id"]}
        if is_self and any(function == "admin" for function, _ in removed):
            raise EmulatedError(errors.ADMIN_ROLE_SELF_REMOVAL)
        for function, org in sorted(removed, key=str):
            if function == "approver" and last_active_approver(store, stored["id"], org):
                raise EmulatedError(errors.LAST_APPROVER_ROLE)
        deactivating = stored["active"] == "true" and str(body.get("active")).lower() == "false"
        if deactivating and any(
            function == "approver" and last_active_approver(store, stored["id"], org)
            for function, org in sorted(after, key=str)
        ):
            raise EmulatedError(errors.LAST_APPROVER_DEACTIVATION)
    profiles = store["commerce.profiles"]
    email = body.get("email")
    if email is not None and not config["duplicateEmailsAllowed"]:
        owner = profiles.find("email", email.lower())
        if owner is not None and (stored is None or owner["id"] != stored["id"]):
            raise EmulatedError(errors.EMAIL_IN_USE, email=email)
    if stored is None:  # a login is given once, at creation: the email unless one is sent
        login: Any = body.get("login") or email  # (the spec requires an email at creation)
        if login is not None and profiles.find("login", str(login).lower()) is not None:
            raise EmulatedError(errors.LOGIN_IN_USE, login=login)
