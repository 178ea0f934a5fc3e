"""Commerce profiles as stored, merged with an update, and sent back in the seed's shape.

A stored profile is the seed's updateProfile_response, key for key, except that
``parentOrganization`` holds the organization's id (rendered from ``commerce.organizations``)
and ``password`` is kept beside it (never sent back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.state import Store, clone
from emulator.vendors.commerce import regions

# The seed's updateProfile_response example, in its order: every key is always present.
PROFILE_KEYS = (
    "derivedPriceListGroup",
    "lastName",
    "gender",
    "catalog",
    "roles",
    "locale",
    "parentOrganization",
    "shippingSurchargePriceList",
    "profileType",
    "translations",
    "loyaltyPrograms",
    "id",
    "email",
    "daytimeTelephoneNumber",
    "derivedSalePriceList",
    "taxExempt",
    "receiveEmail",
    "active",
    "priceListGroup",
    "dateOfBirth",
    "firstName",
    "repositoryId",
    "shippingAddress",
    "billingAddress",
    "userType",
    "derivedShippingSurchargePriceList",
    "secondaryOrganizations",
    "shippingAddresses",
)
ORGANIZATION_KEYS = (
    "name",
    "repositoryId",
    "description",
    "active",
    "shippingAddress",
    "secondaryAddresses",
    "id",
    "billingAddress",
)
# Top-level string fields an update replaces as sent.
SCALARS = (
    "firstName",
    "lastName",
    "email",
    "gender",
    "receiveEmail",
    "dateOfBirth",
    "locale",
    "daytimeTelephoneNumber",
    "profileType",
)
# Address fields kept as sent (country and state are resolved, see normalize_address).
ADDRESS_TEXT = (
    "alias",
    "prefix",
    "firstName",
    "middleName",
    "lastName",
    "suffix",
    "jobTitle",
    "companyName",
    "address1",
    "address2",
    "address3",
    "city",
    "county",
    "postalCode",
    "phoneNumber",
    "faxNumber",
)
ROLE_FUNCTION_KEYS = ("function", "funtion")  # the seed's sample request spells it "funtion"
# Kept beside the seed's keys: the username (`login`; None: the email, whatever it becomes,
# unless one was sent at creation) and the password; neither is ever sent back. Any other key of a stored profile
# is a custom property (a fixture's `customProperties`, a restored state's): sent back after
# the seed's keys, matched by listProfiles' q.
BESIDE = ("login", "password")


def next_number(store: Store, name: str) -> int:
    """The number of a new id from a per-namespace counter (deterministic ids, never one in
    use: ``Store.issue``)."""
    return store.issue("commerce.counters", name)


def blank(profile_id: str) -> dict[str, Any]:
    """A new profile: the seed example's keys with their 'unset' values."""
    doc: dict[str, Any] = {key: None for key in PROFILE_KEYS}
    doc.update(
        {
            "roles": [],
            "translations": {},
            "loyaltyPrograms": [],
            "id": profile_id,
            "taxExempt": False,
            "receiveEmail": "no",
            "active": "true",
            "repositoryId": profile_id,
            "shippingAddress": {},
            "billingAddress": {},
            "secondaryOrganizations": [],
            "shippingAddresses": [],
            "login": None,
            "password": None,
        }
    )
    return doc


def organization_view(org: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = clone({key: org.get(key) for key in ORGANIZATION_KEYS})
    return view


def render(store: Store, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The stored profile in the updateProfile_response shape, its custom properties after
    the seed's keys. Its values are the stored ones (not copies): a reply is encoded as soon
    as its handler returns, and a stored document is never edited in place (an update stores
    a new one, ``merge``)."""
    out = {key: doc[key] for key in PROFILE_KEYS}
    org_id = doc["parentOrganization"]
    org = store["commerce.organizations"].get(org_id) if org_id else None
    out["parentOrganization"] = organization_view(org) if org is not None else None
    if len(doc) > len(out) + len(BESIDE) - 1:  # custom properties (an old profile has no login)
        out.update((k, v) for k, v in doc.items() if k not in out and k not in BESIDE)
    return out


def present(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def sent_country(address: dict[str, Any]) -> Any:
    """selectedCountry takes precedence over country (seed)."""
    return (
        address.get("selectedCountry")
        if present(address.get("selectedCountry"))
        else address.get("country")
    )


def sent_state(address: dict[str, Any]) -> Any:
    """selectedState takes precedence over state (seed)."""
    return (
        address.get("selectedState")
        if present(address.get("selectedState"))
        else address.get("state")
    )


def normalize_address(store: Store, sent: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """A (checked) sent address as stored: a repositoryId (kept when ``keep`` has it), country
    and state as codes, with display names for the countries the emulator knows."""
    repository_id = sent.get("repositoryId")
    if not (isinstance(repository_id, str) and repository_id in keep):
        repository_id = str(next_number(store, "addresses"))
    out: dict[str, Any] = {"repositoryId": repository_id}
    out.update({key: sent[key] for key in ADDRESS_TEXT if isinstance(sent.get(key), str)})
    country, state = sent_country(sent), sent_state(sent)
    code = regions.country_code(country) if isinstance(country, str) else None
    if code is not None:
        out["country"], out["countryName"] = code, regions.country_name(code)
        state_code = regions.state_code(code, state) if isinstance(state, str) else None
        if state_code is not None:
            out["state"], out["regionName"] = state_code, regions.region_name(code, state_code)
            out["state_ISOCode"] = f"{code}-{state_code}"
    else:
        if isinstance(country, str):
            out["country"] = country
            if isinstance(sent.get("country"), str) and sent["country"] != country:
                out["countryName"] = sent["country"]
        if isinstance(state, str):
            out["state"] = state
        if isinstance(sent.get("state_ISOCode"), str):
            out["state_ISOCode"] = sent["state_ISOCode"]
    return out


def merge_addresses(store: Store, doc: dict[str, Any], body: dict[str, Any]) -> None:
    """shippingAddresses replaces the list; isDefaultAddress (or the deprecated shippingAddress)
    fills the default slot, which keeps the previous default while it is still in the list."""
    known = {a["repositoryId"] for a in doc["shippingAddresses"]}
    default = doc["shippingAddress"].get("repositoryId") if doc["shippingAddress"] else None
    items = doc["shippingAddresses"]
    if "shippingAddresses" in body:
        items, flagged = [], None
        for sent in body["shippingAddresses"]:
            address = normalize_address(store, sent, known - {a["repositoryId"] for a in items})
            items.append(address)
            if sent.get("isDefaultAddress") is True and flagged is None:
                flagged = address["repositoryId"]
        default = flagged or default
    sent_default = body.get("shippingAddress")
    if sent_default == {}:
        default = None  # {} is the seed's "no default address"
    elif sent_default is not None:
        address = normalize_address(store, sent_default, known | {a["repositoryId"] for a in items})
        items = [a for a in items if a["repositoryId"] != address["repositoryId"]] + [address]
        default = address["repositoryId"]
    doc["shippingAddresses"] = items
    match = next((a for a in items if a["repositoryId"] == default), None)
    doc["shippingAddress"] = clone(match) if match is not None else {}


def role_function(role: dict[str, Any]) -> Any:
    return next((role[key] for key in ROLE_FUNCTION_KEYS if key in role), None)


def role_org(role: dict[str, Any], parent: str | None) -> Any:
    relative = role.get("relativeTo")
    return relative.get("id") if isinstance(relative, dict) and "id" in relative else parent


def role_keys(roles: list[dict[str, Any]]) -> set[tuple[Any, Any]]:
    return {(role["function"], (role.get("relativeTo") or {}).get("id")) for role in roles}


def merge_roles(store: Store, doc: dict[str, Any], sent_roles: list[dict[str, Any]]) -> None:
    """Roles replace the list; a role the profile already has keeps its repositoryId."""
    existing = {
        (r["function"], (r.get("relativeTo") or {}).get("id")): r["repositoryId"]
        for r in doc["roles"]
    }
    roles, seen = [], set()
    for sent in sent_roles:
        key = (role_function(sent), role_org(sent, doc["parentOrganization"]))
        if key in seen:
            continue
        seen.add(key)
        role: dict[str, Any] = {"function": key[0]}
        if key[1] is not None:
            role["relativeTo"] = {"id": key[1]}
        role["repositoryId"] = existing.get(key) or str(next_number(store, "roles"))
        roles.append(role)
    doc["roles"] = roles


def merge_loyalty(store: Store, doc: dict[str, Any], sent_programs: list[dict[str, Any]]) -> None:
    """loyaltyPrograms replaces the list; a known membership keeps its (numeric) repositoryId."""
    by_id = {p["repositoryId"] for p in doc["loyaltyPrograms"]}
    by_membership = {
        (p["programId"], p["membershipId"]): p["repositoryId"] for p in doc["loyaltyPrograms"]
    }
    programs = []
    for sent in sent_programs:
        repository_id = sent.get("repositoryId")
        if isinstance(repository_id, str):
            repository_id = int(repository_id)
        if repository_id not in by_id:
            repository_id = by_membership.get((sent["programId"], sent["membershipId"]))
        if repository_id is None:
            repository_id = next_number(store, "loyalty")
        programs.append(
            {
                "programName": sent.get("programName"),
                "repositoryId": repository_id,
                "membershipId": sent["membershipId"],
                "programId": sent["programId"],
                "status": sent.get("status"),
            }
        )
    doc["loyaltyPrograms"] = programs


def merge(store: Store, doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A (checked) create or update body applied to a copy of ``doc``: sent fields replace."""
    doc = clone(doc)
    for key in SCALARS:
        if key in body:
            doc[key] = body[key]
    if "active" in body:
        doc["active"] = str(body["active"]).lower()
    if "parentOrganization" in body:
        doc["parentOrganization"] = body["parentOrganization"]
    if body.get("newPassword") is not None:
        doc["password"] = body["newPassword"]
    if "roles" in body:
        merge_roles(store, doc, body["roles"])
    if "loyaltyPrograms" in body:
        merge_loyalty(store, doc, body["loyaltyPrograms"])
    merge_addresses(store, doc, body)
    return doc
